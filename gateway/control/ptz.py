"""Continuous PTZ for one camera: commands coalesce, and a move stops by itself.

- Coalescing: at most one call per camera is in flight upstream; commands that arrive
  meanwhile replace each other, and when the call returns the newest is sent ("the last
  one wins"). A drag sends ~10 moves a second; the camera gets what it can take.
- Dead man: a move is stopped `DEAD_MAN` seconds after the last command unless renewed,
  so a browser that vanishes mid-drag never leaves a camera turning to its end stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gateway.backends.base import PtzVector, UpstreamFailure

log = logging.getLogger("gateway.control")

DEAD_MAN = 1.0
STOP = PtzVector()


@dataclass
class PtzStats:
    commands: int = 0
    upstream_calls: int = 0
    coalesced: int = 0  # commands replaced by a newer one before they were sent
    dead_man_stops: int = 0
    failures: int = 0


class PtzDriver:
    """Sends one camera's moves through `send` (the backend's ptz_move, which stops on a
    still vector)."""

    def __init__(self, camera_id: str, send: Callable[[PtzVector], Awaitable[None]], dead_man: float = DEAD_MAN):
        self.camera_id = camera_id
        self.stats = PtzStats()
        self._send = send
        self._dead_man = dead_man
        self._wanted: tuple[int, PtzVector] | None = None  # the newest command not sent yet, numbered
        self._number = 0
        self._waiters: list[tuple[int, asyncio.Future]] = []
        self._sender: asyncio.Task | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._moving = False

    @property
    def dead_man_s(self) -> float:
        return self._dead_man

    @property
    def moving(self) -> bool:
        return self._moving

    async def move(self, vector: PtzVector) -> None:
        """Command a move (a still vector stops); returns once it or a newer command is sent.
        UpstreamFailure when the camera refused what was sent."""
        self.stats.commands += 1
        self._arm(not vector.still)
        await self._submit(vector)

    async def stop(self) -> None:
        self.stats.commands += 1
        self._arm(False)
        await self._submit(STOP)

    def close(self) -> None:
        self._arm(False)
        if self._sender is not None:
            self._sender.cancel()
        for _, done in self._waiters:
            done.cancel()
        self._waiters = []

    def _arm(self, moving: bool) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if moving:
            self._timer = asyncio.get_running_loop().call_later(self._dead_man, self._dead_man_fired)

    def _dead_man_fired(self) -> None:
        self._timer = None
        if self._moving or self._wanted is not None:
            self.stats.dead_man_stops += 1
            log.info("no PTZ command for %.1f s: stopping the move", self._dead_man, extra={"camera": self.camera_id})
            asyncio.get_running_loop().create_task(self._stop_quietly(), name=f"ptz dead man {self.camera_id}")

    async def _stop_quietly(self) -> None:
        with contextlib.suppress(UpstreamFailure):  # logged by _drain
            await self._submit(STOP)

    async def _submit(self, vector: PtzVector) -> None:
        """Queue `vector` (replacing a command not sent yet); wait for the first send that
        carries it or a newer one, not for the camera to go idle: during a drag commands
        keep coming, and each answers as soon as its turn has passed."""
        if self._wanted is not None:
            self.stats.coalesced += 1
        self._number += 1
        self._wanted = (self._number, vector)
        done = asyncio.get_running_loop().create_future()
        self._waiters.append((self._number, done))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._drain(), name=f"ptz {self.camera_id}")
        # Shielded: a caller that gives up must not cancel what the others wait on.
        await asyncio.shield(done)

    async def _drain(self) -> None:
        while self._wanted is not None:
            (number, vector), self._wanted = self._wanted, None
            self.stats.upstream_calls += 1
            error: UpstreamFailure | None = None
            try:
                await self._send(vector)
                self._moving = not vector.still
            except UpstreamFailure as exc:
                self.stats.failures += 1
                error = exc
                log.warning("PTZ command failed: %s", exc, extra={"camera": self.camera_id})
            self._settle(number, error)

    def _settle(self, number: int, error: UpstreamFailure | None) -> None:
        """Answer every command up to `number`: it was sent, or replaced by one that was."""
        waiting = []
        for waited, done in self._waiters:
            if waited > number:
                waiting.append((waited, done))
            elif not done.done():
                if error is None:
                    done.set_result(None)
                else:
                    done.set_exception(error)
                    done.exception()  # retrieved here too: a caller that left must not leave a warning
        self._waiters = waiting
