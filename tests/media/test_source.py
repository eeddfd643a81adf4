"""A source in front of the emulator, through its fault injection: after a burst of 503s,
media comes back within 3 s of WEP answering again while viewers wait, and a source
nobody watches keeps its long backoff."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from gateway.services import SOURCES
from tests.conftest import config_for, serving

RESUME_WITHIN = 3.0


async def wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_a_watched_source_resumes_within_3s_of_wep_answering_again(emulator):
    # Audio off: the video source is the only puller, so it takes every injected 503.
    config = config_for(emulator, sources={"audio": False})  # the default backoff: 0.5 s doubling to 10 s
    arrivals: list[float] = []
    async with serving(config) as server, aiohttp.ClientSession() as http:
        async with http.get(server.make_url(f"/live/{emulator.camera_ids[0]}.mp4")) as resp:
            assert resp.status == 200

            async def read() -> None:
                async for _ in resp.content.iter_any():
                    arrivals.append(time.monotonic())  # noqa: PERF401  read while it grows

            reader = asyncio.create_task(read())
            try:
                await wait_until(lambda: len(arrivals) > 5, 15, "media")
                emulator.fail_next(5)
                dropped = time.monotonic()
                emulator.drop_streams()
                await wait_until(lambda: emulator.faults.fail_remaining == 0, 30, "five failed tries")
                recovered = emulator.faults.recovered_at
                await wait_until(lambda: arrivals[-1] > recovered, 15, "media after the 503s")
            finally:
                reader.cancel()
        [source] = server.app[SOURCES].running()
    resumed = next(t for t in arrivals if t > recovered) - recovered
    assert source.counters.reconnects["upstream_503"] == 5
    assert resumed < RESUME_WITHIN, f"media {resumed:.1f}s after WEP answered again"
    # Paced, not a hot loop: 0.25-0.5, 0.5-1 then 0.75-1.5 s between tries.
    assert recovered - dropped > 2.5, f"five tries in {recovered - dropped:.1f}s"


async def test_a_source_nobody_watches_keeps_the_long_backoff(emulator):
    # A faster start than the default makes six tries short; the doubling is what is checked.
    config = config_for(
        emulator,
        sources={"audio": False, "idle_close_after": 60.0, "reconnect_initial_delay": 0.1, "reconnect_max_delay": 10.0},
    )
    async with serving(config) as server:
        sources = server.app[SOURCES]
        sources.hub(emulator.camera_ids[0], "high")  # started, never subscribed
        [source] = sources.running()
        await wait_until(lambda: source.connected, 15, "the first connection")
        emulator.fail_next(6)
        emulator.drop_streams()
        await wait_until(lambda: source.counters.reconnects["upstream_503"] == 6, 20, "six failed tries")
        # After six failures the next wait is 3.2-6.4 s: nothing within the watched budget.
        await asyncio.sleep(RESUME_WITHIN)
        assert source.counters.connections == 1 and not source.connected
        assert source.counters.reconnects["upstream_503"] == 6
        assert emulator.faults.failures_served == 6
        await wait_until(lambda: source.connected, 10, "the reconnect")
        assert source.counters.connections == 2
