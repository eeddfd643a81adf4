"""Keeps one push up: attempts in a loop, capped exponential backoff between them.

Each attempt is one connection (gateway mode) or one WEP-side stream (wep mode); it
returns or raises `PushAttemptError` when it ends. A transient end goes to `retrying`
and waits; a permanent one goes to `failed` and the loop stops. The backoff goes back to
its first step once an attempt has been live for `STABLE_AFTER` seconds, so a receiver
that restarts is found again quickly, while one that accepts and drops at once is not
hammered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from gateway.rtmp.push import PushAttemptError, PushContext
from gateway.rtmp.state import Backoff, PushState

log = logging.getLogger("gateway.rtmp")

STABLE_AFTER = 5.0

Attempt = Callable[[PushContext], Awaitable[None]]


class PushSupervisor:
    def __init__(self, ctx: PushContext, attempt: Attempt, backoff: Backoff):
        self.ctx = ctx
        self._attempt = attempt
        self._backoff = backoff
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"push {self.ctx.spec.id}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.ctx.status.state is not PushState.STOPPED:
            self.ctx.enter(PushState.STOPPED)

    async def _run(self) -> None:
        ctx = self.ctx
        failures = 0
        while True:
            ctx.enter(PushState.STARTING)
            try:
                await self._attempt(ctx)
                reason = "the push ended"
            except PushAttemptError as exc:
                if exc.permanent:
                    ctx.enter(PushState.FAILED, exc.reason)
                    return
                reason = exc.reason
            except Exception as exc:  # a bug must not take the push (or the gateway) down
                log.exception("push %s attempt failed", ctx.spec.id, extra={"camera": ctx.spec.camera})
                reason = f"internal error ({type(exc).__name__})"
            status = ctx.status
            if status.state is PushState.LIVE and time.time() - status.since >= STABLE_AFTER:
                failures = 0
            delay = self._backoff.delay(failures)
            failures += 1
            ctx.enter(PushState.RETRYING, reason, retry_at=time.time() + delay)
            await asyncio.sleep(delay)
