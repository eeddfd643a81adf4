"""The reconnect pacing of gateway/media/reconnect.py: short-capped while watched, the long
backoff otherwise, and a viewer arriving cuts a long wait short; a pull that completes
(a recording) ends the loop, and one with a bound gives up after its fruitless retries."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from gateway.config import SourcesConfig
from gateway.media.reconnect import keep_pulling, reconnect_delay


def test_a_watched_pull_waits_at_most_the_short_cap_and_never_hot_loops():
    config = SourcesConfig()  # 0.5 s initial, 10 s cap, 1.5 s while watched
    for attempt in range(12):
        watched = reconnect_delay(attempt, config, watched=True)
        assert min(0.5 * 2**attempt, 1.5) / 2 <= watched <= 1.5
    # Five failures in: the long backoff is 5-10 s, the watched one still <= 1.5 s.
    assert all(5.0 <= reconnect_delay(5, config, watched=False) <= 10.0 for _ in range(50))
    assert all(0.75 <= reconnect_delay(5, config, watched=True) <= 1.5 for _ in range(50))


def test_the_watched_cap_never_lengthens_the_long_one():
    config = SourcesConfig(reconnect_max_delay=1.0, reconnect_watched_max_delay=3.0)
    assert all(reconnect_delay(8, config, watched=True) <= 1.0 for _ in range(50))


async def test_a_viewer_arriving_cuts_a_long_backoff_short():
    config = SourcesConfig(reconnect_initial_delay=5.0, reconnect_max_delay=5.0, reconnect_watched_max_delay=0.2)
    pulls: list[float] = []
    viewers = 0
    joined = asyncio.Event()

    async def fail() -> tuple[str, bool]:
        pulls.append(time.monotonic())
        return "upstream_503", False

    task = asyncio.create_task(
        keep_pulling(fail, config, Counter(), "cam", "video", watched=lambda: viewers > 0, viewer_joined=joined)
    )
    try:
        await asyncio.sleep(0.3)
        assert len(pulls) == 1  # nobody watching: 2.5-5 s before the next try
        viewers, arrived = 1, time.monotonic()
        joined.set()
        for _ in range(100):
            if len(pulls) >= 3:
                break
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
    assert pulls[1] - arrived < 0.2 + 0.1
    assert 0.1 - 0.02 <= pulls[2] - pulls[1] <= 0.2 + 0.1  # watched now: the short cap, half of it at least


FAST = SourcesConfig(reconnect_initial_delay=0.01, reconnect_max_delay=0.01, reconnect_watched_max_delay=0.01)


async def test_a_pull_that_completes_ends_the_loop():
    results = iter([("connection_closed", True), (None, True)])

    async def pull() -> tuple[str | None, bool]:
        return next(results)

    causes: Counter = Counter()
    assert await asyncio.wait_for(keep_pulling(pull, FAST, causes, "cam", "recorded stream"), 5) is None
    assert causes == {"connection_closed": 1}


async def test_a_bounded_pull_gives_up_after_its_fruitless_retries_in_a_row():
    # Two fruitless, one that streamed (the count starts over), then fruitless ones: with
    # give_up_after=2 the third in a row ends it.
    results = iter(
        [("upstream_503", False), ("upstream_503", False), ("connection_closed", True)] + [("stall", False)] * 5
    )
    pulls = 0

    async def pull() -> tuple[str | None, bool]:
        nonlocal pulls
        pulls += 1
        return next(results)

    causes: Counter = Counter()
    cause = await asyncio.wait_for(keep_pulling(pull, FAST, causes, "cam", "recorded stream", give_up_after=2), 5)
    assert cause == "stall" and pulls == 6
    assert causes == {"upstream_503": 2, "connection_closed": 1, "stall": 2}
