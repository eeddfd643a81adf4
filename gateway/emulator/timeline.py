"""Where a reader is in a looping stream, and when each piece is due. Sans-IO.

A loop (video fragments or webm clusters) is a sequence of pieces with a start and a
duration in its own timescale, repeated forever. Pass k of piece i starts at
k * loop_ticks + start_i on an endless timeline whose zero is the emulator's start, so
every live reader of a camera sees the same clock, as with a real camera.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class Piece(Protocol):
    start: int
    duration: int
    keyframe: bool


class Loop(Protocol):
    timescale: int
    loop_ticks: int

    @property
    def fragments(self) -> Sequence[Piece]: ...


@dataclass(frozen=True, slots=True)
class Scheduled:
    piece_index: int  # index into loop.fragments
    decode_time: int  # ticks on the stream's timeline
    due: float  # seconds after the cursor's reference time when it may be sent


def join_index(loop: Loop, position: int, after: bool = False) -> int:
    """Global index (pass * n + i) of the keyframe piece at or before `position` ticks
    on the endless timeline, or the first one at or after it when `after`."""
    pieces = loop.fragments
    n = len(pieces)
    passes, offset = divmod(position, loop.loop_ticks)
    keys = [i for i, p in enumerate(pieces) if p.keyframe]
    starts = [pieces[i].start for i in keys]
    k = bisect_right(starts, offset) - 1  # last keyframe with start <= offset
    if after and (k < 0 or starts[k] < offset):
        k += 1
        if k >= len(keys):
            return (passes + 1) * n + keys[0]
    if k < 0:  # offset before the first keyframe of the pass: the previous pass's last
        return (passes - 1) * n + keys[-1]
    return passes * n + keys[k]


class LoopCursor:
    """Walks the endless timeline from a global piece index.

    `origin` ticks are subtracted from decode times (0 keeps the emulator-wide live
    clock; a recorded stream passes its first piece's time so it starts at zero).
    Due times are piece end times (a live piece can only leave once it is complete),
    relative to timeline zero; `due_at_start` makes them start times instead.
    """

    def __init__(self, loop: Loop, global_index: int, origin: int = 0, due_at_start: bool = False):
        self._loop = loop
        self._n = len(loop.fragments)
        self._next = global_index
        self._origin = origin
        self._due_at_start = due_at_start

    def timeline_time(self, global_index: int) -> int:
        passes, i = divmod(global_index, self._n)
        return passes * self._loop.loop_ticks + self._loop.fragments[i].start

    def __next__(self) -> Scheduled:
        g = self._next
        self._next += 1
        i = g % self._n
        start = self.timeline_time(g)
        end = start if self._due_at_start else start + self._loop.fragments[i].duration
        return Scheduled(i, start - self._origin, end / self._loop.timescale)

    def __iter__(self) -> LoopCursor:
        return self
