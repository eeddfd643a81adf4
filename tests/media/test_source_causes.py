"""A source's reconnects are logged and counted by what happened upstream, through the
emulator's fault injection: a stream WEP closed is `connection_closed` (it was counted as
`upstream_502` and logged "WEP 502 CONNECTION_LOST" though WEP never sent a 502), a real
502 is `upstream_502` (issue 19)."""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp

from gateway.services import SOURCES
from tests.conftest import config_for, serving
from tests.metrics.test_metrics import scrape, value


async def wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_a_stream_wep_closed_is_counted_as_closed_and_a_real_502_as_a_502(emulator, caplog):
    caplog.set_level(logging.INFO)
    camera = emulator.camera_ids[0]
    # Audio off: the video source is the only puller, so it takes the injected 502.
    config = config_for(emulator, sources={"audio": False, "reconnect_initial_delay": 0.1})
    async with serving(config) as server, aiohttp.ClientSession() as http:
        base = str(server.make_url("")).rstrip("/")
        async with http.get(f"{base}/live/{camera}.mp4", params={"quality": "low"}) as viewer:
            assert viewer.status == 200
            [source] = server.app[SOURCES].running()
            reconnects = source.counters.reconnects
            await wait_until(lambda: source.connected, 15, "the first connection")

            assert emulator.drop_streams() >= 1
            await wait_until(lambda: reconnects["connection_closed"] == 1, 15, "the drop counted")
            await wait_until(lambda: source.connected, 15, "the reconnect")
            emulator.fail_next(1, 502)  # the MPD request of the next connection answers a real 502
            emulator.drop_streams()
            await wait_until(lambda: reconnects["upstream_502"] == 1, 15, "the 502 counted")
            await wait_until(lambda: source.connected, 15, "the second reconnect")

            samples = await scrape(http, base)
    assert dict(reconnects) == {"connection_closed": 2, "upstream_502": 1}
    assert (
        value(samples, "wepgw_upstream_reconnects_total", camera=camera, quality="low", cause="connection_closed") == 2
    )
    assert value(samples, "wepgw_upstream_reconnects_total", camera=camera, quality="low", cause="upstream_502") == 1
    lines = [record.getMessage() for record in caplog.records if record.name.startswith("gateway")]
    assert any("WEP CONNECTION_CLOSED: camera" in line for line in lines)
    assert any("(connection_closed)" in line for line in lines)  # "video: reconnecting in 0.1s (connection_closed)"
    assert [line for line in lines if "WEP 502" in line] and not [line for line in lines if "CONNECTION_LOST" in line]
