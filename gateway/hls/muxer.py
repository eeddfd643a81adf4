"""One HLS muxer per (camera, quality): a single hub reader feeding the segmenter, and the
waits of blocking requests. Players never touch the hub: 1000 players cost HTTP work on
shared bytes, nothing per frame.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from gateway.config import HlsConfig
from gateway.delay_histogram import DelayHistogram
from gateway.hls.playlist import (
    TOKEN_SLOT,
    MediaPlaylist,
    PlaylistPart,
    PlaylistSegment,
    render_media,
    with_query,
)
from gateway.hls.segmenter import PART_SEGMENTS, Part, Segmenter
from gateway.media.fmp4 import FragmentWriter
from gateway.media.hub import Discontinuity, Frame, HubClosed, HubItem, HubReader

log = logging.getLogger("gateway.hls")

# RFC 8216bis 4.4.3.8: CAN-SKIP-UNTIL at least six target durations.
SKIP_TARGET_DURATIONS = 6
# Playlists held per change, one per (delta, query): many distinct tokens are written into
# the shared rendering each time rather than held.
RENDERED_KEPT = 64
_SLOT_QUERY = b"?" + TOKEN_SLOT.encode()


class MuxerClosed(Exception):
    """The muxer stopped (its source went away or the gateway is shutting down)."""


class PartWatcher(Protocol):
    """A request waiting below aiohttp (gateway/hls/fast_path.py) for the next part."""

    @property
    def deadline(self) -> float:
        """Loop time by which it wants to be woken in any case."""

    def wake(self) -> None:
        """A part came, the deadline passed or the muxer closed: the watcher looks which."""


@dataclass
class HlsCounters:
    """Plain counters read at scrape time (a prometheus collector lives elsewhere)."""

    playlist_requests: int = 0
    blocking_requests: int = 0
    blocking_timeouts: int = 0
    too_far_ahead: int = 0
    playlists_rendered: int = 0
    part_requests: int = 0
    parts_served: int = 0
    preload_waits: int = 0
    segment_requests: int = 0
    segments_served: int = 0
    init_requests: int = 0
    not_found: int = 0
    bytes_served: int = 0
    parts_written: int = 0
    discontinuities: int = 0
    fast_path_answers: int = 0  # of the answers, those written below aiohttp (gateway/hls/fast_path.py)
    # seconds from a part's completion to the answer of a request that was waiting for it
    part_delivery_delay: DelayHistogram = field(default_factory=DelayHistogram)


def segment_name(msn: int) -> str:
    return f"seg{msn}.m4s"


def part_name(part_id: int) -> str:
    return f"part{part_id}.m4s"


def init_name(version: int) -> str:
    return f"init{version}.mp4"


class HlsMuxer:
    def __init__(self, camera_id: str, quality: str, config: HlsConfig, *, clock: Callable[[], float] = time.monotonic):
        self.camera_id = camera_id
        self.quality = quality
        self.config = config
        self.counters = HlsCounters()
        self.segmenter = Segmenter(
            FragmentWriter().write,
            part_target=config.part_duration,
            segment_min_duration=config.segment_min_duration,
            window_segments=config.window_segments,
            clock=clock,
            # Numbers start from the clock so a muxer started later never reuses a name an
            # earlier one served as immutable (segments are >= 0.1 s, parts >= 1 ms).
            first_msn=int(time.time() * 10),
            first_part_id=int(time.time() * 1000),
        )
        self.closed = False
        self.last_request = clock()
        self.waiting = 0  # requests blocked in wait_until
        self._clock = clock
        # Frame.published_at is monotonic; PROGRAM-DATE-TIME needs wall time.
        self._wall_offset = time.time() - time.monotonic()
        # Waiting requests, each on a future of its own (a cancelled request then cancels
        # only its own), all woken by the next part; one alarm bounds their waits. Requests
        # waiting below aiohttp are watchers: woken by a call, no future, no task.
        self._waiters: list[asyncio.Future[None]] = []
        self._watchers: list[PartWatcher] = []
        self._alarm: asyncio.TimerHandle | None = None
        self._alarm_at = 0.0
        self._version = 0
        self._rendered: dict[tuple[bool, str], bytes] = {}
        self._task: asyncio.Task | None = None
        self._reader: HubReader | None = None

    # -- the hub side -----------------------------------------------------------------
    def start(self, reader: HubReader) -> None:
        self._reader = reader
        self._task = asyncio.get_running_loop().create_task(
            self._run(reader), name=f"hls {self.camera_id}/{self.quality}"
        )

    async def _run(self, reader: HubReader) -> None:
        gops_dropped = 0
        try:
            while True:
                item: HubItem | None = await reader.get()
                completed: list[Part] = []
                while item is not None:
                    if reader.gops_dropped != gops_dropped:
                        # The loop was starved and the hub cut us back to a keyframe: the
                        # timeline has a hole, which players must see as a discontinuity.
                        gops_dropped = reader.gops_dropped
                        completed += self.feed(Discontinuity("hls muxer overflow"))
                    completed += self.feed(item)
                    item = reader.get_nowait()
                if completed:
                    self._notify()
        except HubClosed:
            log.info("hls muxer stopped: source closed", extra={"camera": self.camera_id})
        finally:
            reader.close()
            self.close()

    def feed(self, item: HubItem) -> list[Part]:
        if isinstance(item, Discontinuity):
            self.counters.discontinuities += 1
        wall = item.published_at + self._wall_offset if isinstance(item, Frame) else time.time()
        completed = self.segmenter.push(item, wall)
        self.counters.parts_written += len(completed)
        return completed

    def _notify(self) -> None:
        self._version += 1
        self._rendered.clear()
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        watchers, self._watchers = self._watchers, []
        for watcher in watchers:
            watcher.wake()  # answers, or watches again

    def _on_alarm(self) -> None:
        # A wait ran out while no part came (a stalled camera): every waiter checks its own.
        self._alarm = None
        self._wake()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._reader is not None:
            self._reader.close()  # even if the task never ran
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
        if self._alarm is not None:
            self._alarm.cancel()
            self._alarm = None
        self._wake()

    # -- the request side -------------------------------------------------------------
    def touch(self) -> None:
        self.last_request = self._clock()

    async def wait_until(self, ready: Callable[[], bool], timeout: float, *, measure: bool = False) -> bool:
        """Wait (bounded) until `ready()`; False on timeout. A part completion costs one
        wake-up per waiting request, nothing more: no timer per request (asyncio.wait's
        timer and callbacks were a tenth of the gateway's time at 1000 players).
        `measure`: the wait is for a part; note its delivery delay."""
        if ready():
            return True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self.waiting += 1  # a request in flight keeps the muxer from idling out under it
        try:
            while True:
                if self.closed:
                    raise MuxerClosed(f"{self.camera_id}/{self.quality}")
                if deadline - loop.time() <= 0:
                    return False
                self._arm(deadline)
                waiter = loop.create_future()
                self._waiters.append(waiter)
                await waiter
                if ready():
                    if measure:
                        self.record_delay()
                    return True
        finally:
            self.waiting -= 1
            self.touch()

    def watch(self, watcher: PartWatcher) -> None:
        """`watcher.wake()` on the next part, at its deadline at the latest, or when the
        muxer closes: what `wait_until` does for a request aiohttp runs, without its task.
        Never called back from in here: on a closed muxer, at the deadline."""
        self._watchers.append(watcher)
        self._arm(watcher.deadline)

    def _arm(self, deadline: float) -> None:
        if self._alarm is None or deadline < self._alarm_at:
            if self._alarm is not None:
                self._alarm.cancel()
            self._alarm, self._alarm_at = asyncio.get_running_loop().call_at(deadline, self._on_alarm), deadline

    def record_delay(self) -> None:
        """A request that waited for a part is answered: note the part's delivery delay."""
        last = self.segmenter.parts.get(self.segmenter.next_part_id - 1)
        if last is not None:
            self.counters.part_delivery_delay.record(self._clock() - last.completed_at)

    def media_playlist(self, query: str, delta: bool) -> bytes:
        """The current media playlist: rendered once per (change, delta) with TOKEN_SLOT
        where a query goes, and each query written into that once."""
        key = (delta, query)
        text = self._rendered.get(key)
        if text is None:
            shared = self._rendered.get((delta, TOKEN_SLOT))
            if shared is None:
                shared = render_media(self.describe(TOKEN_SLOT, delta)).encode()
                self.counters.playlists_rendered += 1
                self._rendered[delta, TOKEN_SLOT] = shared
            if query == TOKEN_SLOT:
                return shared
            text = shared.replace(_SLOT_QUERY, b"?" + query.encode() if query else b"")
            if len(self._rendered) < RENDERED_KEPT:
                self._rendered[key] = text
        return text

    def describe(self, query: str, delta: bool) -> MediaPlaylist:
        seg = self.segmenter
        recent = len(seg.segments) - PART_SEGMENTS

        def parts(items: list[Part]) -> tuple[PlaylistPart, ...]:
            return tuple(PlaylistPart(with_query(part_name(p.id), query), p.duration, p.independent) for p in items)

        segments = tuple(
            PlaylistSegment(
                uri=with_query(segment_name(s.msn), query),
                duration=s.duration,
                program_date_time=s.program_date_time,
                discontinuity=s.discontinuity,
                map_uri=with_query(init_name(s.init_version), query),
                parts=parts(s.parts) if i >= recent else (),
            )
            for i, s in enumerate(seg.segments)
        )
        skip_until = SKIP_TARGET_DURATIONS * seg.target_duration
        open_segment = seg.open
        open_parts = open_segment.parts if open_segment is not None else []
        return MediaPlaylist(
            target_duration=seg.target_duration,
            part_target=seg.part_target_duration,
            media_sequence=seg.media_sequence,
            discontinuity_sequence=seg.discontinuity_sequence,
            segments=segments,
            open_parts=parts(open_parts),
            open_map_uri=with_query(init_name(open_segment.init_version if open_segment else seg.init_version), query),
            open_discontinuity=open_segment.discontinuity if open_segment else False,
            preload_hint_uri=with_query(part_name(seg.next_part_id), query),
            skip_until=skip_until,
            skipped_segments=self._skippable(skip_until, sum(p.duration for p in open_parts)) if delta else 0,
        )

    def _skippable(self, skip_until: float, open_duration: float) -> int:
        # RFC 8216bis 6.2.5.1: skip the segments that start more than CAN-SKIP-UNTIL before
        # the end of the playlist; the ones with parts are never among them.
        segments = list(self.segmenter.segments)
        distance = open_duration + sum(s.duration for s in segments)
        skipped = 0
        for segment in segments[:-PART_SEGMENTS]:
            if distance <= skip_until:
                break
            distance -= segment.duration
            skipped += 1
        return skipped
