"""The reconnect loop shared by every upstream pull (video and audio): capped exponential
backoff with jitter, reset once a connection has delivered media."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from typing import Awaitable, Callable

from gateway.config import SourcesConfig

log = logging.getLogger("gateway.source")


def backoff_delay(attempt: int, initial: float, maximum: float) -> float:
    # Jitter over the upper half of the step: spreads reconnect storms after a WEP restart.
    ceiling = min(maximum, initial * (2**attempt))
    return random.uniform(ceiling / 2, ceiling)


async def keep_pulling(
    pull_once: Callable[[], Awaitable[tuple[str, bool]]],
    config: SourcesConfig,
    causes: Counter,
    camera_id: str,
    what: str,
) -> None:
    """Run `pull_once` forever. It returns (cause of the end, whether media flowed)."""
    attempt = 0
    while True:
        cause, delivered = await pull_once()
        if delivered:
            attempt = 0  # it was streaming: the first retry comes quickly
        causes[cause] += 1
        delay = backoff_delay(attempt, config.reconnect_initial_delay, config.reconnect_max_delay)
        attempt += 1
        log.info("%s: reconnecting in %.1fs (%s)", what, delay, cause, extra={"camera": camera_id})
        await asyncio.sleep(delay)
