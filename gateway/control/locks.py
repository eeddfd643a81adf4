"""One operator steers a camera at a time (the talk lock's model). Sans-IO, with a clock.

The holder keeps the camera while it sends commands; its hold lapses `LAPSE` seconds after
its last one. Another operator meanwhile gets `Held`, naming who and since when; the admin
key takes a camera over.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

LAPSE = 10.0


@dataclass(frozen=True)
class Operator:
    key: str  # who, for comparisons: a hash of the token, "admin", or the client's address
    name: str  # who, for people: the token's sub, "admin", or "an operator"
    admin: bool = False


@dataclass
class Hold:
    operator: Operator
    since: float  # wall clock
    last: float  # monotonic, of the last command


class Held(Exception):
    def __init__(self, camera_id: str, hold: Hold):
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(hold.since))
        super().__init__(f"camera {camera_id!r} is being steered by {hold.operator.name} since {since}")
        self.hold = hold


class OperatorLocks:
    def __init__(
        self, lapse: float = LAPSE, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time
    ):
        self._lapse = lapse
        self._clock = clock
        self._wall = wall
        self._holds: dict[str, Hold] = {}

    def take(self, camera_id: str, operator: Operator) -> None:
        """Hold `camera_id` for `operator` (renewing its hold); Held when someone else has it."""
        now = self._clock()
        hold = self._holds.get(camera_id)
        if (
            hold is not None
            and hold.operator.key != operator.key
            and now - hold.last < self._lapse
            and not operator.admin
        ):
            raise Held(camera_id, hold)
        if hold is None or hold.operator.key != operator.key:
            hold = self._holds[camera_id] = Hold(operator, self._wall(), now)
        hold.last = now

    def holder(self, camera_id: str) -> Hold | None:
        hold = self._holds.get(camera_id)
        if hold is None or self._clock() - hold.last >= self._lapse:
            return None
        return hold
