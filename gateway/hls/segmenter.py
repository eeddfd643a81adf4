"""The LL-HLS segmenter: hub items in, complete parts and segments out. Sans-IO.

Cut rules (gohlslib's muxer_segmenter.go, RFC 8216bis 4.4.4.9 / 4.4.4.9.1):
- A segment starts at a video keyframe and ends at the first video keyframe that comes
  once at least `segment_min_duration` has passed, or at a discontinuity / new init.
- A part (one moof+mdat, written once) closes as soon as adding one more frame of the same
  duration would take it past the part target (or when the frame that came would), or
  where its segment ends. A part whose first video sample is a keyframe is INDEPENDENT.
- A segment's bytes are its parts' bytes, concatenated once when it closes.

The two targets are fixed for the playlist's life (RFC 8216 6.2.1 lets a server only
append, remove from the top and count up; hls.js and Safari take EXT-X-TARGETDURATION
once). They are chosen when the first segment closes, from what the camera showed:
- EXT-X-TARGETDURATION: the first segment's length, or the segment the measured GOP
  makes with `segment_min_duration` if longer, rounded up to whole seconds (at least 1,
  at most MAX_TARGET_DURATION). RFC 8216 4.3.3.1: every EXTINF, rounded, is <= it.
- PART-TARGET: the longest part of the first segment plus PART_SLACK, to the millisecond
  above. Parts then hold the same whole number of frames, so they stay within the
  85 % floor of RFC 8216bis 4.4.4.9 when frame durations jitter by a little.
When a camera's GOP later outgrows the target (a camera reconfigured, a night mode), a
segment is cut where a frame would take it past the target: at a part boundary, and the
next segment starts mid-GOP (`segments_cut` counts it). Its parts still say INDEPENDENT
where a keyframe starts them, but no playlist of ours claims EXT-X-INDEPENDENT-SEGMENTS
(RFC 8216 4.3.5.1) for that reason. The other way the RFC leaves, starting over with a
discontinuity at the next keyframe, would drop every frame past the target in each long
GOP: a camera with a 4 s GOP under a 1 s target would show a quarter of its video.

EXT-X-PROGRAM-DATE-TIME is the camera's own time where the upstream tells it (a sample's
`captured_at`, from a `prft` box: gateway/media/fmp4/prft.py): each segment gets the
capture instant of its first frame. Without it (an RTSP camera: FFmpeg's reader does not
hand over the RTCP sender reports' NTP time per stream), the time the first frame after
a discontinuity reached the gateway anchors it, and media time runs on from there.
The camera's time also shows what a reconnect replays: WEP starts a live stream at its
latest keyframe, which may be before the last frame it sent on the connection that broke.
After a discontinuity, frames taken before the end of what was already segmented (by at
most MAX_REPLAY seconds: more is a camera clock step, not a replay) are skipped, so a
moment is never shown twice and the date never goes back; the next segment starts at the
first keyframe past them.

All times are in the video track's timescale; the hub's timeline is already continuous
(the source re-anchors each connection), so decode times only grow.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gateway.media.fmp4 import InitSegment, Sample
from gateway.media.hub import Discontinuity, Frame, HubItem

FragmentWrite = Callable[[Sequence[Sample]], bytes]

# Bounds the target a very long first GOP could pick (Apple's authoring spec: 6 s
# segments); longer GOPs are cut at part boundaries.
MAX_TARGET_DURATION = 10
# PART-TARGET over the longest part measured: frame-duration jitter of upstream clocks
# up to this much keeps every part at the same number of frames.
PART_SLACK = 1.02
MAX_REPLAY = 30.0  # seconds: a reconnect replays at most a GOP
_EPSILON = 1e-9

# Parts are listed (and kept) for this many closed segments before the open one:
# RFC 8216bis 6.2.2 lets a server drop parts older than ~3 target durations from the
# live edge; hls.js and gohlslib list them for the last two.
PART_SEGMENTS = 2


@dataclass(frozen=True, slots=True)
class Part:
    id: int  # global, monotonic across segments: preload hints name the next one blindly
    msn: int  # media sequence number of the parent segment
    index: int  # position in the parent segment (the _HLS_part value)
    duration: float  # seconds
    independent: bool  # starts with a video keyframe (EXT-X-PART INDEPENDENT=YES)
    data: bytes
    completed_at: float  # monotonic clock of the caller, for delivery-delay metrics


@dataclass(slots=True)
class Segment:
    msn: int
    init_version: int
    start_time: int  # video decode time, timescale units
    program_date_time: float  # unix seconds of the first sample (EXT-X-PROGRAM-DATE-TIME)
    discontinuity: bool  # EXT-X-DISCONTINUITY before it
    independent: bool = True  # starts with a keyframe; False after a cut at the target
    parts: list[Part] = field(default_factory=list)
    duration: float = 0.0  # seconds; final once closed
    data: bytes = b""  # set when closed
    closed: bool = False


@dataclass(slots=True)
class _PendingPart:
    samples: list[Sample] = field(default_factory=list)
    start_time: int | None = None  # video decode time of the first video sample
    end_time: int = 0  # end of the last video sample
    last_duration: int = 0
    independent: bool = False


class Segmenter:
    def __init__(
        self,
        write: FragmentWrite,
        *,
        part_target: float,
        segment_min_duration: float,
        window_segments: int,
        clock: Callable[[], float],
        first_msn: int = 0,
        first_part_id: int = 0,
    ):
        self._write = write
        self.part_target = part_target
        self.segment_min_duration = segment_min_duration
        self.window_segments = window_segments
        self._clock = clock
        self.init: InitSegment | None = None
        self.init_version = 0  # bumped on each new init segment: versioned init URLs
        self.inits: dict[int, bytes] = {}
        self._timescale = 90000
        self._video_track_id = 1
        self.segments: deque[Segment] = deque()  # closed, oldest first
        self.open: Segment | None = None
        self._pending = _PendingPart()
        self._next_msn = first_msn
        self.next_part_id = first_part_id
        self.parts: dict[int, Part] = {}  # retained parts by id
        self.discontinuity_sequence = 0  # discontinuities that slid out of the window
        self._discontinuity_next = False
        self._pdt_anchor: tuple[int, float] | None = None  # (decode time, unix seconds)
        self.max_part_duration = 0.0
        self.max_segment_duration = 0.0
        self._target: int | None = None  # EXT-X-TARGETDURATION once chosen
        self._part_target: float | None = None  # PART-TARGET once chosen
        self._last_keyframe: int | None = None  # decode time
        self._longest_gop = 0  # ticks between keyframes, the longest seen before the target was chosen
        self.segments_cut = 0  # segments cut at the target, mid-GOP
        self._camera_end: float | None = None  # camera time where the last video frame ended
        self._resuming = False  # after a discontinuity until a segment opens: replays are skipped
        self.frames_replayed = 0  # skipped as already segmented (camera time)

    # -- input --------------------------------------------------------------------
    def push(self, item: HubItem, wall_time: float) -> list[Part]:
        """Feed one hub item; `wall_time`: when it reached the gateway (unix seconds), the
        date of a segment whose first sample has no `captured_at`. Returns the parts it
        completed, oldest first."""
        if isinstance(item, Frame):
            return self._push_frame(item, wall_time)
        if isinstance(item, Discontinuity):
            done = self._close_segment()
            self._pending = _PendingPart()  # audio left over from before the cut
            self._discontinuity_next = True
            self._pdt_anchor = None
            self._resuming = True
            self._last_keyframe = None  # a GOP is not measured across the gap
            return done
        if isinstance(item, InitSegment):
            return self._push_init(item)
        raise TypeError(f"unexpected hub item {type(item).__name__}")

    def _push_init(self, init: InitSegment) -> list[Part]:
        if self.init is not None and init.data == self.init.data:
            return []
        done = self._close_segment()
        self._pending = _PendingPart()
        video = init.track("video")
        if video is None:
            raise ValueError("init segment has no video track")
        if self.init is not None:
            # A new init means new decoder parameters: players must reset (RFC 8216bis 4.4.4.5).
            self._discontinuity_next = True
        self.init = init
        self.init_version += 1
        self.inits[self.init_version] = init.data
        self._timescale = video.timescale
        self._video_track_id = video.track_id
        self._pdt_anchor = None
        return done

    def _push_frame(self, frame: Frame, wall_time: float) -> list[Part]:
        if self.init is None:
            return []
        sample = frame.sample
        if frame.kind != "video":
            if self.open is not None:
                self._pending.samples.append(sample)
            return []
        if self._resuming and self._replayed(sample):
            self.frames_replayed += 1
            return []
        done: list[Part] = []
        cut = False
        if self.open is not None:
            if frame.is_keyframe and self._open_duration() >= self.segment_min_duration - _EPSILON:
                done += self._close_segment()
            elif self._duration_with(sample) > self.target_duration + _EPSILON:
                # RFC 8216 4.3.3.1: this frame would take the segment past the target.
                done += self._close_segment()
                self.segments_cut += 1
                cut = True
        if frame.is_keyframe:
            self._measure_gop(sample.decode_time)
        if self.open is None:
            if not frame.is_keyframe and not cut:
                return done  # a segment must start decodable (or continue one cut short)
            self._open_segment(sample, wall_time)
        pending = self._pending
        limit = self._part_limit()
        if pending.start_time is not None and (sample.decode_time + sample.duration - pending.start_time) > limit:
            done.append(self._close_part())  # this frame is longer than the last: it starts the next part
            pending = self._pending
        if pending.start_time is None:
            pending.start_time = sample.decode_time
            pending.independent = frame.is_keyframe
        pending.samples.append(sample)
        pending.end_time = sample.decode_time + sample.duration
        pending.last_duration = sample.duration
        captured = sample.captured_at
        self._camera_end = None if captured is None else captured + sample.duration / self._timescale
        if pending.end_time - pending.start_time + pending.last_duration > limit:
            done.append(self._close_part())
        return done

    def _replayed(self, sample: Sample) -> bool:
        if sample.captured_at is None or self._camera_end is None:
            return False
        return 0.001 < self._camera_end - sample.captured_at <= MAX_REPLAY

    def _measure_gop(self, decode_time: int) -> None:
        if self._last_keyframe is not None and self._target is None:
            self._longest_gop = max(self._longest_gop, decode_time - self._last_keyframe)
        self._last_keyframe = decode_time

    def _part_limit(self) -> float:
        """The part target in timescale units, with a margin for float rounding."""
        return self.part_target_duration * self._timescale + 1e-6

    # -- parts and segments -----------------------------------------------------------
    def _open_duration(self) -> float:
        assert self.open is not None
        end = self._pending.end_time if self._pending.start_time is not None else None
        if end is None:
            return sum(part.duration for part in self.open.parts)
        return (end - self.open.start_time) / self._timescale

    def _duration_with(self, sample: Sample) -> float:
        assert self.open is not None
        return (sample.decode_time + sample.duration - self.open.start_time) / self._timescale

    def _open_segment(self, first: Sample, wall_time: float) -> None:
        start_time = first.decode_time
        if first.captured_at is not None:
            self._pdt_anchor = (start_time, first.captured_at)  # the camera's clock
        elif self._pdt_anchor is None:
            self._pdt_anchor = (start_time, wall_time)  # arrival, then media time
        anchor_time, anchor_wall = self._pdt_anchor
        self._resuming = False
        self.open = Segment(
            msn=self._next_msn,
            init_version=self.init_version,
            start_time=start_time,
            program_date_time=anchor_wall + (start_time - anchor_time) / self._timescale,
            discontinuity=self._discontinuity_next,
            independent=first.is_keyframe,
        )
        self._next_msn += 1
        self._discontinuity_next = False

    def _close_part(self) -> Part:
        assert self.open is not None
        pending = self._pending
        assert pending.start_time is not None
        samples = sorted(pending.samples, key=lambda s: s.track_id)  # one traf per track
        part = Part(
            id=self.next_part_id,
            msn=self.open.msn,
            index=len(self.open.parts),
            duration=(pending.end_time - pending.start_time) / self._timescale,
            independent=pending.independent,
            data=self._write(samples),
            completed_at=self._clock(),
        )
        self.next_part_id += 1
        self.open.parts.append(part)
        self.parts[part.id] = part
        self.max_part_duration = max(self.max_part_duration, part.duration)
        self._pending = _PendingPart()
        return part

    def _close_segment(self) -> list[Part]:
        segment = self.open
        if segment is None:
            return []
        done = [self._close_part()] if self._pending.start_time is not None else []
        self.open = None
        if not segment.parts:
            return done
        segment.duration = sum(part.duration for part in segment.parts)
        segment.data = b"".join(part.data for part in segment.parts)
        segment.closed = True
        self.max_segment_duration = max(self.max_segment_duration, segment.duration)
        if self._target is None:
            self._choose_targets(segment)
        self.segments.append(segment)
        self._slide()
        return done

    def _choose_targets(self, first: Segment) -> None:
        expected = first.duration
        if self._longest_gop:
            gop = self._longest_gop / self._timescale
            expected = max(expected, gop * math.ceil(self.segment_min_duration / gop - _EPSILON))
        self._target = min(
            MAX_TARGET_DURATION, max(1, math.ceil(self.segment_min_duration - _EPSILON), math.ceil(expected - 1e-6))
        )
        self._part_target = _millis_up(
            max(self.part_target, 0.001) if not first.parts else max(part.duration for part in first.parts) * PART_SLACK
        )

    def _slide(self) -> None:
        while len(self.segments) > self.window_segments:
            gone = self.segments.popleft()
            if gone.discontinuity:
                # RFC 8216bis 4.4.3.3: counts the discontinuities removed from the top.
                self.discontinuity_sequence += 1
            self._forget_parts(gone)
        if len(self.segments) > PART_SEGMENTS:
            self._forget_parts(self.segments[-PART_SEGMENTS - 1])
        live = {segment.init_version for segment in self.segments}
        live.add(self.init_version)
        for version in [v for v in self.inits if v not in live]:
            del self.inits[version]

    def _forget_parts(self, segment: Segment) -> None:
        for part in segment.parts:
            self.parts.pop(part.id, None)

    # -- queries --------------------------------------------------------------------------
    def segment(self, msn: int) -> Segment | None:
        if not self.segments or msn < self.segments[0].msn or msn > self.segments[-1].msn:
            return None
        return self.segments[msn - self.segments[0].msn]

    @property
    def media_sequence(self) -> int:
        return self.segments[0].msn if self.segments else 0

    @property
    def open_msn(self) -> int:
        """The msn of the segment being written (or the next one to be)."""
        return self.open.msn if self.open is not None else self._next_msn

    def has_part(self, msn: int, part: int | None) -> bool:
        """Does the playlist already hold segment `msn` (whole, or up to part `part`)?

        RFC 8216bis 6.2.5.2: a part index past the end of a closed segment means part 0 of
        the following one."""
        if part is None:
            return bool(self.segments) and msn <= self.segments[-1].msn
        closed = self.segment(msn)
        if closed is not None:
            if part < len(closed.parts):
                return True
            msn, part = msn + 1, 0
        if self.segments and msn < self.segments[0].msn:
            return True  # already slid out: nothing to wait for
        if self.open is not None and msn == self.open.msn:
            return part < len(self.open.parts)
        return bool(self.segments) and msn <= self.segments[-1].msn

    def too_far_ahead(self, msn: int, part: int | None) -> bool:
        """RFC 8216bis 6.2.5.2: more than two segments past the last one in the playlist,
        or more than the Advance Part Limit (3) parts past the last part: 400."""
        last_msn = self.open_msn
        if msn > last_msn + 1:
            return True
        if part is None:
            return False
        listed = len(self.open.parts) if self.open is not None else 0
        if msn == last_msn:
            return part >= listed + ADVANCE_PART_LIMIT
        return msn == last_msn + 1 and part >= ADVANCE_PART_LIMIT

    @property
    def target_duration(self) -> int:
        """EXT-X-TARGETDURATION: fixed when the first segment closes (see the module doc);
        until then the bound segments are cut at."""
        if self._target is not None:
            return self._target
        return max(MAX_TARGET_DURATION, math.ceil(self.segment_min_duration - _EPSILON))

    @property
    def part_target_duration(self) -> float:
        """PART-TARGET: fixed when the first segment closes; the configured one until then.
        RFC 8216bis 4.4.4.9: every part <= it; a single frame longer than it (a camera
        dropping to a very low frame rate) still makes a part that long."""
        return self._part_target if self._part_target is not None else self.part_target


def _millis_up(seconds: float) -> float:
    return math.ceil(seconds * 1000 - 1e-6) / 1000


ADVANCE_PART_LIMIT = 3
