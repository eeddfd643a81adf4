"""A push's life as an explicit state machine (sans-IO: no clock reads, no asyncio).

    starting --> live --> retrying --> starting ...
        |          |          |
        +--> failed <---------+ (only from starting/live: a cause that retrying cannot heal)
    any state --> stopped (DELETE or shutdown; terminal)

`starting`: connecting (gateway mode) or asking WEP (wep mode). `live`: media is flowing
(gateway: the receiver accepted the publish; wep: WEP lists the stream). `retrying`: the
last attempt ended, the next one starts at `retry_at` (capped exponential backoff).
`failed`: nothing will change without the operator (camera has no audio, camera gone).
"""

from __future__ import annotations

import enum
import random
from collections import deque
from dataclasses import dataclass, field


class PushState(enum.Enum):
    STARTING = "starting"
    LIVE = "live"
    RETRYING = "retrying"
    FAILED = "failed"
    STOPPED = "stopped"


TRANSITIONS: dict[PushState, frozenset[PushState]] = {
    PushState.STARTING: frozenset({PushState.LIVE, PushState.RETRYING, PushState.FAILED, PushState.STOPPED}),
    PushState.LIVE: frozenset({PushState.RETRYING, PushState.FAILED, PushState.STOPPED}),
    PushState.RETRYING: frozenset({PushState.STARTING, PushState.STOPPED}),
    PushState.FAILED: frozenset({PushState.STOPPED}),
    PushState.STOPPED: frozenset(),
}

HISTORY_LENGTH = 32


class IllegalTransition(RuntimeError):
    """A bug: the supervisor asked for a transition the machine does not have."""


@dataclass(frozen=True, slots=True)
class Transition:
    state: PushState
    at: float  # wall clock (time.time())
    reason: str = ""


@dataclass
class PushStatus:
    """Where a push is, since when, why, and what it moved (gateway mode)."""

    state: PushState = PushState.STARTING
    since: float = 0.0
    last_error: str = ""
    retry_at: float | None = None
    history: deque[Transition] = field(default_factory=lambda: deque(maxlen=HISTORY_LENGTH))
    attempts: int = 0  # connection attempts since the push was (re)started
    bytes_sent: int = 0  # media payload handed to the muxer (gateway mode)
    frames_sent: int = 0
    frames_dropped: int = 0  # skipped to the next keyframe because the destination was slow
    bitrate: float = 0.0  # bits/s over the last measured second

    def enter(self, state: PushState, at: float, reason: str = "", retry_at: float | None = None) -> None:
        opening = not self.history and state is PushState.STARTING  # the first attempt of a new push
        if not opening and state not in TRANSITIONS[self.state]:
            raise IllegalTransition(f"push cannot go from {self.state.value} to {state.value}")
        self.state = state
        self.since = at
        self.retry_at = retry_at
        if reason:
            self.last_error = reason
        if state is PushState.STARTING:
            self.attempts += 1
        self.history.append(Transition(state, at, reason))

    @property
    def states_seen(self) -> list[str]:
        return [transition.state.value for transition in self.history]


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with jitter on the upper half (spreads reconnect storms)."""

    initial: float = 1.0
    maximum: float = 30.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        ceiling = min(self.maximum, self.initial * (2 ** min(attempt, 30)))
        return (rng or random).uniform(ceiling / 2, ceiling)


class BitrateMeter:
    """Bits per second over whole-second windows, from a running byte total."""

    def __init__(self, window: float = 1.0):
        self._window = window
        self._mark: tuple[float, int] | None = None
        self.bitrate = 0.0

    def sample(self, now: float, total_bytes: int) -> float:
        if self._mark is None:
            self._mark = (now, total_bytes)
        elif now - self._mark[0] >= self._window:
            then, before = self._mark
            self.bitrate = (total_bytes - before) * 8 / (now - then)
            self._mark = (now, total_bytes)
        return self.bitrate
