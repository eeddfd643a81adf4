"""The hub: one source's frames fanned out to many readers through bounded queues.

Overflow policy (the performance contract): `publish()` never waits. When a reader's
queue is full, everything queued for it is dropped and it skips frames until the next
video keyframe, so it resumes on a clean reference chain; the loss is counted per
reader and per hub (frames and GOPs). A new reader is primed with the init segment and
the current GOP, so its first picture is immediate. Memory per hub is the current GOP
(bounded by `max_gop_bytes`) plus at most `queue_frames` references per reader; the
frames themselves are shared `bytes`, never copied per reader.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from typing import Self

from gateway.media.fmp4.model import InitSegment, Sample


@dataclass(frozen=True, slots=True)
class Frame:
    """One sample as every output sees it, on the hub's continuous timeline."""

    sample: Sample
    kind: str  # "video" | "audio"
    published_at: float  # time.monotonic() when the hub got it (delivery delay metrics)
    # Where a reader may start or resume: a video keyframe, or (audio-only hub) any
    # frame, since every opus packet decodes on its own (RFC 6716 2).
    resume_point: bool = False

    @property
    def is_keyframe(self) -> bool:
        return self.kind == "video" and self.sample.is_keyframe


@dataclass(frozen=True, slots=True)
class Discontinuity:
    """The upstream was reconnected: what follows is not a continuation of the picture."""

    reason: str


HubItem = InitSegment | Frame | Discontinuity


class HubClosed(Exception):
    """The source behind the hub stopped for good (camera gone, gateway shutting down)."""


@dataclass
class HubCounters:
    frames_published: int = 0
    bytes_published: int = 0
    frames_dropped: int = 0  # summed over readers
    gops_dropped: int = 0
    readers_total: int = 0


class HubReader:
    """A subscriber's view of the hub. `await get()` returns items in order."""

    def __init__(self, hub: Hub, queue_frames: int):
        self._hub = hub
        self._queue: deque[HubItem] = deque()
        self._limit = queue_frames
        self._frames_queued = 0  # control items (init, discontinuity) don't count to the bound
        self._waiter: asyncio.Future[None] | None = None
        # Every reader starts by skipping to a keyframe: its first frame must be decodable.
        self._skipping = True
        self._closed = False
        self.frames_dropped = 0
        self.gops_dropped = 0
        # Viewers reading through this reader: one, or a fan-out's (gateway/live/fanout.py),
        # each counted as a reader of the hub as if it had its own.
        self.viewers = 1

    @property
    def hub(self) -> Hub:
        return self._hub

    def add_viewer(self) -> None:
        """One more viewer reads through this reader."""
        if not self._closed:
            self.viewers += 1
            self._hub._viewers_changed(1)

    def remove_viewer(self) -> None:
        """One viewer fewer; the last one leaves by close()."""
        if self.viewers > 1 and not self._closed:
            self.viewers -= 1
            self._hub._viewers_changed(-1)

    def _push(self, item: HubItem) -> None:
        if not isinstance(item, Frame):
            self._queue.append(item)  # control items are few and never dropped
            self._wake()
            return
        if not self._skipping and self._frames_queued >= self._limit:
            self._overflow()
        if self._skipping:
            if not item.resume_point:
                self.frames_dropped += 1
                self._hub.counters.frames_dropped += 1
                return
            self._skipping = False
        self._queue.append(item)
        self._frames_queued += 1
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _overflow(self) -> None:
        # Drop all queued frames but keep control items (init, discontinuity): a reader
        # that resumes must still learn about a new init segment.
        dropped = sum(1 for item in self._queue if isinstance(item, Frame))
        kept = [item for item in self._queue if not isinstance(item, Frame)]
        self._queue.clear()
        self._queue.extend(kept)
        self._frames_queued = 0
        self.frames_dropped += dropped
        self.gops_dropped += 1
        self._hub.counters.frames_dropped += dropped
        self._hub.counters.gops_dropped += 1
        self._skipping = True

    def skip_to_keyframe(self, taken: int = 0) -> None:
        """The consumer is too far behind for what is queued (its socket takes bytes too
        slowly): drop it, counted as one GOP like an overflow, and resume at the newest
        queued resume point, or else the next one published. `taken`: frames the consumer
        had already taken and throws away, counted as dropped too."""
        self.frames_dropped += taken
        self._hub.counters.frames_dropped += taken
        resume = None
        for index in range(len(self._queue) - 1, -1, -1):
            item = self._queue[index]
            if isinstance(item, Frame) and item.resume_point:
                resume = index
                break
        if resume is None:
            self._overflow()
            return
        kept = [item for index, item in enumerate(self._queue) if index >= resume or not isinstance(item, Frame)]
        dropped = len(self._queue) - len(kept)
        self._queue.clear()
        self._queue.extend(kept)
        self._frames_queued -= dropped
        self.frames_dropped += dropped
        self.gops_dropped += 1
        self._hub.counters.frames_dropped += dropped
        self._hub.counters.gops_dropped += 1

    def _wake_closed(self) -> None:
        self._closed = True
        self._wake()

    @property
    def queued(self) -> int:
        return self._frames_queued

    def _pop(self) -> HubItem:
        item = self._queue.popleft()
        if isinstance(item, Frame):
            self._frames_queued -= 1
        return item

    def get_nowait(self) -> HubItem | None:
        return self._pop() if self._queue else None

    async def get(self) -> HubItem:
        while not self._queue:
            if self._closed or self._hub.closed:
                raise HubClosed(self._hub.name)
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._pop()

    def close(self) -> None:
        self._hub._unsubscribe(self)
        self._wake_closed()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Hub:
    def __init__(
        self, name: str, *, queue_frames: int = 256, max_gop_bytes: int = 16 * 1024 * 1024, audio_only: bool = False
    ):
        self.name = name
        # An audio-only hub resumes readers on any frame and keeps nothing for late
        # joiners: they start at the next packet, never on stale audio.
        self.audio_only = audio_only
        self.counters = HubCounters()
        self.init: InitSegment | None = None
        self.closed = False
        self._queue_frames = queue_frames
        self._max_gop_bytes = max_gop_bytes
        self._gop: list[Frame] = []
        self._gop_bytes = 0
        self._gop_open = False
        self._readers: set[HubReader] = set()
        self._reader_count = 0  # viewers of all readers
        self._listeners: list = []  # callables(reader_count) for the source's idle timer

    # -- subscribers ---------------------------------------------------------------
    @property
    def reader_count(self) -> int:
        return self._reader_count

    def add_reader_listener(self, callback) -> None:
        self._listeners.append(callback)

    def subscribe(self, *, queue_frames: int | None = None, with_current_gop: bool = True) -> HubReader:
        if self.closed:
            raise HubClosed(self.name)
        reader = HubReader(self, queue_frames or self._queue_frames)
        if self.init is not None:
            reader._push(self.init)
            if with_current_gop:
                for frame in self._gop:
                    reader._push(frame)
        self._readers.add(reader)
        self._viewers_changed(1)
        return reader

    def current_gop(self) -> tuple[Frame, ...]:
        """The frames a new reader is primed with (after the init segment): the current GOP
        from its keyframe, or none (an audio-only hub, a GOP past `max_gop_bytes`)."""
        return tuple(self._gop)

    def _unsubscribe(self, reader: HubReader) -> None:
        if reader in self._readers:
            self._readers.discard(reader)
            self._viewers_changed(-reader.viewers)

    def _viewers_changed(self, delta: int) -> None:
        self._reader_count += delta
        if delta > 0:
            self.counters.readers_total += delta
        for callback in self._listeners:
            callback(self._reader_count)

    # -- the source's side ---------------------------------------------------------
    def publish_init(self, init: InitSegment) -> None:
        if self.init is not None and init.data == self.init.data:
            return
        self.init = init
        self._reset_gop()
        for reader in self._readers:
            reader._push(init)

    def _reset_gop(self) -> None:
        self._gop.clear()
        self._gop_bytes = 0
        self._gop_open = False

    def publish_discontinuity(self, reason: str) -> None:
        self._reset_gop()
        item = Discontinuity(reason)
        for reader in self._readers:
            reader._push(item)

    def publish(self, sample: Sample, kind: str) -> Frame:
        resume_point = self.audio_only or (kind == "video" and sample.is_keyframe)
        frame = Frame(sample, kind, time.monotonic(), resume_point)
        self.counters.frames_published += 1
        self.counters.bytes_published += len(sample.data)
        if frame.is_keyframe:  # never on an audio-only hub: it keeps no GOP
            self._gop.clear()
            self._gop_bytes = 0
            self._gop_open = True
        if self._gop_open:
            if self._gop_bytes + len(sample.data) <= self._max_gop_bytes:
                self._gop.append(frame)
                self._gop_bytes += len(sample.data)
            else:
                # A half GOP would hand late joiners a broken reference chain: keep none
                # and let them wait for the next keyframe instead.
                self._gop.clear()
                self._gop_bytes = 0
                self._gop_open = False
        for reader in self._readers:
            reader._push(frame)
        return frame

    def close(self) -> None:
        self.closed = True
        for reader in list(self._readers):
            reader._wake_closed()
        self._readers.clear()
        self._reader_count = 0
