"""The reconnect loop shared by every upstream pull (live video and audio, recorded HLS):
capped exponential backoff with jitter, reset once a connection has delivered media.

The cap depends on who is waiting. While viewers are attached it is
`reconnect_watched_max_delay` (1.5 s): they get media back within that (plus the
connection) of WEP answering again, where the grown backoff made them wait 8 s after five
503s. A pull nobody watches keeps `reconnect_max_delay` (10 s). Every try is an MPD and a
stream request, and the WEP guide warns that each connection costs the ACC server CPU, so
a watched pull is still paced, never a hot loop: the doubling from
`reconnect_initial_delay` still applies below the cap, and the jitter (upper half of each
step) keeps a failing WEP at no more than one try per 0.75 s per watched pull.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable

from gateway.backends.base import UpstreamFailure
from gateway.config import SourcesConfig
from gateway.media.fmp4.boxes import BoxError

log = logging.getLogger("gateway.source")


def backoff_delay(attempt: int, initial: float, maximum: float) -> float:
    # Jitter over the upper half of the step: spreads reconnect storms after a WEP restart.
    ceiling = min(maximum, initial * (2**attempt))
    return random.uniform(ceiling / 2, ceiling)


def reconnect_delay(attempt: int, config: SourcesConfig, watched: bool) -> float:
    """The wait before try `attempt` + 1: short-capped while somebody watches."""
    maximum = config.reconnect_max_delay
    if watched:
        maximum = min(maximum, config.reconnect_watched_max_delay)
    return backoff_delay(attempt, config.reconnect_initial_delay, maximum)


async def keep_pulling(
    pull_once: Callable[[], Awaitable[tuple[str | None, bool]]],
    config: SourcesConfig,
    causes: Counter,
    camera_id: str,
    what: str,
    *,
    watched: Callable[[], bool] = lambda: False,
    viewer_joined: asyncio.Event | None = None,
    give_up_after: int | None = None,
) -> str | None:
    """Run `pull_once` until what it pulls is complete. It returns (cause of the end, whether
    media flowed); a cause of None means the stream is complete (a recording's end), and
    this returns None. A live pull never completes: it runs until cancelled.

    `watched()` says whether anybody reads what the pull publishes; `viewer_joined` (set by
    the owner when the first reader arrives) cuts a long wait short. `give_up_after`: once
    more connections than that in a row delivered nothing, stop and return the last cause
    (a recording has a bounded past to fetch; a live camera is always worth waiting for)."""
    attempt = 0  # the backoff's exponent
    fruitless = 0  # connections in a row that delivered nothing
    while True:
        cause, delivered = await pull_once()
        if cause is None:
            return None
        if delivered:
            attempt = fruitless = 0  # it was streaming: the first retry comes quickly
        else:
            fruitless += 1
        if give_up_after is not None and fruitless > give_up_after:
            log.warning(
                "%s: giving up after %d connections in a row delivered nothing (%s)",
                what,
                fruitless,
                cause,
                extra={"camera": camera_id},
            )
            return cause
        causes[cause] += 1
        delay = reconnect_delay(attempt, config, watched())
        log.info("%s: reconnecting in %.1fs (%s)", what, delay, cause, extra={"camera": camera_id})
        await _pause(delay, reconnect_delay(attempt, config, True), watched, viewer_joined)
        attempt += 1


async def _pause(
    delay: float, watched_delay: float, watched: Callable[[], bool], viewer_joined: asyncio.Event | None
) -> None:
    """Sleep `delay`; a viewer arriving meanwhile shortens it to what a watched pull waits."""
    if viewer_joined is None or watched() or delay <= watched_delay:
        await asyncio.sleep(delay)
        return
    loop = asyncio.get_running_loop()
    until = loop.time() + delay
    viewer_joined.clear()
    try:
        async with asyncio.timeout(delay):
            await viewer_joined.wait()
    except TimeoutError:
        return
    await asyncio.sleep(max(0.0, min(watched_delay, until - loop.time())))


# What ends an upstream connection, as opposed to a bug: the live source and recorded HLS
# catch these and reconnect.
UPSTREAM_FAULTS = (UpstreamFailure, BoxError, ValueError, TimeoutError, OSError)


def fault_cause(exc: BaseException, camera_id: str, what: str) -> str:
    """The cause label (for counters and the reconnect line) of a connection `exc` ended,
    logged once naming the camera. `what`: "upstream", "recorded stream"..."""
    extra = {"camera": camera_id}
    if isinstance(exc, UpstreamFailure):
        log.warning("%s failed: %s", what, exc, extra=extra)
        return exc.cause
    if isinstance(exc, BoxError | ValueError):
        log.warning("%s sent bad media: %s", what, exc, extra=extra)
        return "bad_media"
    log.warning("%s connection lost: %s", what, exc.__class__.__name__, extra=extra)
    return "connection"
