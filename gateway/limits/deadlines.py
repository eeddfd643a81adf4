"""Request deadlines behind one timer: `[limits] request_timeout` for every request.

`asyncio.timeout()` per request costs a Timeout, a loop timer armed and cancelled, and
the context manager's bookkeeping: about 7% of the gateway's CPU with 1000 LL-HLS
players (bench/bench_hls_fanout.py --profile). Every request has the same timeout, so
deadlines expire in the order requests started: pending ones sit in an insertion-ordered
dict, and one timer, armed for the oldest, expires whatever is due when it fires. A
request pays a dict insert and delete.

Expiry works as `asyncio.timeout()` does: the request's task is cancelled, and the
cancellation it raises is told apart from any other by `Task.uncancel()`.
"""

from __future__ import annotations

import asyncio

# Loop timers may fire a little early (uvloop counts milliseconds): what is due within
# this much is due now, as asyncio's own loop reckons with its clock resolution.
_RESOLUTION = 0.001


class Deadline:
    """One request's deadline; `expired` once its task was cancelled for it."""

    __slots__ = ("_cancelling", "_pending", "expired", "task", "when")

    def __init__(self, task: asyncio.Task, when: float, pending: dict[Deadline, None]):
        self.task = task
        self.when = when
        self.expired = False
        self._cancelling = task.cancelling()
        self._pending = pending
        pending[self] = None

    def lift(self) -> None:
        """No deadline any more (the headers went out, or the request ended). Idempotent."""
        self._pending.pop(self, None)

    def owns(self, error: BaseException) -> bool:
        """Is `error` (raised in the task) this deadline's own cancellation? Consumes it."""
        if not self.expired:
            return False
        self.expired = False
        return self.task.uncancel() <= self._cancelling and isinstance(error, asyncio.CancelledError)

    def settle(self) -> None:
        """The request ended without raising: take back an expiry the handler swallowed."""
        if self.expired:
            self.expired = False
            self.task.uncancel()


class Deadlines:
    def __init__(self, timeout: float):
        self.timeout = timeout
        self._pending: dict[Deadline, None] = {}  # oldest first: one timeout for all
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> Deadline:
        """A deadline `timeout` seconds from now for the current task."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        assert task is not None  # called from a request handler's task
        deadline = Deadline(task, loop.time() + self.timeout, self._pending)
        if self._timer is None:
            self._timer = loop.call_at(deadline.when, self._expire)
        return deadline

    def _expire(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._timer = None
        pending = self._pending
        while pending:
            oldest = next(iter(pending))
            if oldest.when > now + _RESOLUTION:
                self._timer = loop.call_at(oldest.when, self._expire)
                return
            del pending[oldest]
            if not oldest.task.done():
                oldest.expired = True
                oldest.task.cancel()
