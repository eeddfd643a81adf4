"""Single flight: concurrent requests for one key share one fetch.

The fetch runs as its own task, not in the first requester's: a viewer that disconnects
cancels only its own wait, and the others still get the picture. The fetch's outcome,
result or error, goes to every waiter; nothing is remembered once it is done (caching a
result is the fetch's own business, done before it returns so no request slips between
the flight ending and the cache being filled).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._flights: dict[Hashable, asyncio.Task[T]] = {}

    def __len__(self) -> int:
        return len(self._flights)

    def pending(self, key: Hashable) -> asyncio.Task[T] | None:
        return self._flights.get(key)

    def join(self, key: Hashable, fetch: Callable[[], Coroutine[Any, Any, T]]) -> tuple[asyncio.Task[T], bool]:
        """The flight for `key`, started with `fetch` unless one is under way, and whether
        it was already under way. Await it through `asyncio.shield` (as `run` does)."""
        task = self._flights.get(key)
        if task is not None:
            return task, True
        task = asyncio.get_running_loop().create_task(fetch(), name=f"snapshot fetch {key!r}"[:120])
        self._flights[key] = task
        task.add_done_callback(lambda done: self._landed(key, done))
        return task, False

    async def run(self, key: Hashable, fetch: Callable[[], Coroutine[Any, Any, T]]) -> tuple[T, bool]:
        """The fetch's result for `key` and whether this call joined a flight already under way."""
        task, joined = self.join(key, fetch)
        return await asyncio.shield(task), joined

    def _landed(self, key: Hashable, task: asyncio.Task[T]) -> None:
        if self._flights.get(key) is task:
            del self._flights[key]
        if not task.cancelled():
            task.exception()  # every waiter may have gone: mark the error as seen

    async def close(self) -> None:
        tasks = list(self._flights.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
