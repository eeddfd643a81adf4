"""Recorded video as HLS: `GET /hls/{camera}/{quality}/playlist.m3u8?t=<ISO time>`.

A recording is its own upstream pull (`GET /media` with the MPD's BaseURL and `t`), never
the live hub: one per (camera, quality, normalised t), shared by every player of that
time, closed like a live muxer once nobody asks. Its fMP4 goes through the live
segmenter (no parts: one moof+mdat per segment) into a plain EVENT playlist (RFC 8216bis
4.4.3.5): segments only accumulate, and `EXT-X-ENDLIST` closes it when WEP ends the
stream or when the recording reaches its bound (`RecordingLimits`), which is what keeps
memory bounded. WEP paces recorded video in real time, so the playlist grows in real
time; a player can start once the first segment exists. A dropped connection is retried
by the live sources' loop (gateway/media/reconnect.py keep_pulling, paced as for a watched
pull) and resumes after the last frame received.

Media names carry the recording id (`r{id}-seg{msn}.m4s`, `r{id}-init{v}.mp4`), so they
never meet a live name, and ids start from the clock, so a name served as immutable is
never reused by a later recording.

The camera's audio comes along as live audio does, AAC-LC track 2: each upstream video
connection has its recorded audio pull from the same `t` (recorded_audio.py), waited for
(AUDIO_WAIT) before the first init segment so the track set never changes. WEP's webm
carries no absolute time, so its clock's start is taken to be the instant asked for, and
the video's first frame sits at its own camera time (below): their difference is where
the audio goes on the video's timeline. The match criterion lets WEP start either stream
a little off the instant (the emulator: a cluster, <= 200 ms, for audio), which is the
lip-sync error this leaves.

EXT-X-PROGRAM-DATE-TIME is the camera's time of each segment's first frame where the
stream says it (`prft`, gateway/media/fmp4/prft.py); otherwise the instant asked for is
taken as the first frame's, which the match criterion may put up to half a GOP off.

    GET /hls/{camera}/{quality}/playlist.m3u8?t=...   the EVENT playlist (t=live: the live one)
    GET /hls/{camera}/{quality}/r{id}-init{v}.mp4     a recording's init segment
    GET /hls/{camera}/{quality}/r{id}-seg{msn}.m4s    a recording's segment
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web

from gateway.api.errors import ApiError, bad_request, not_found
from gateway.backends.base import Backend, Capability, UpstreamFailure
from gateway.config import SourcesConfig
from gateway.hls.answers import FIRST_SEGMENT_TIMEOUT, MEDIA_CACHE, MEDIA_TYPE, PLAYLIST_TYPE, token_query, unavailable
from gateway.hls.playlist import PlaylistSegment, segment_lines, with_query
from gateway.hls.recorded_audio import RecordedAudio
from gateway.hls.segmenter import Segmenter
from gateway.media.audio import AUDIO_TRACK_ID
from gateway.media.fmp4 import Fragment, FragmentWriter, InitSegment, Sample, TrackInfo
from gateway.media.hub import Discontinuity, Frame
from gateway.media.reconnect import UPSTREAM_FAULTS, fault_cause, keep_pulling
from gateway.media.source import AUDIO_WAIT, VIDEO_TRACK_ID, Source, Timeline
from gateway.services import CAMERAS, CONFIG
from gateway.snapshots.request import ParameterError, SnapshotTime, parse_time
from gateway.wep.errors import WepUnavailable
from transcoders.aac import AacFrame

log = logging.getLogger("gateway.hls")

# EXT-X-MAP without EXT-X-I-FRAMES-ONLY needs version 6 (RFC 8216bis 7).
VERSION = 6
# One part per segment: the segmenter closes a part only where its segment ends.
NO_PARTS = 24 * 3600.0
# A time this far past the gateway's clock is a mistake (a wrong zone), not clock skew
# with WEP: 400 without asking WEP. Closer ones go to WEP, which answers 404 if need be.
FUTURE_LIMIT = 60.0
# A recording outlives at least this many target durations without requests: players of
# an EVENT playlist reload about once per target duration (RFC 8216bis 6.3.4).
IDLE_TARGET_DURATIONS = 3
# What a segment costs beyond its samples, so the byte bound holds before the segment is
# written: FragmentWriter's moof, one video traf and the mdat header (96 bytes, rounded up),
# and a trun entry (16 bytes) per sample.
FRAGMENT_HEAD_BYTES = 128
SAMPLE_ENTRY_BYTES = 16
AUDIO_TRAF_BYTES = 64  # the audio track's traf, tfhd, tfdt and trun head, when there is audio
# AAC frames that came before the connection's first video frame, held until it comes (~5 s).
MAX_HELD_AUDIO = 256
ENDED_BY_WEP = "WEP ended the stream"
_NAME = re.compile(r"r([0-9a-f]{1,16})-(init|seg)([0-9]{1,9})\.(mp4|m4s)")


@dataclass(frozen=True)
class RecordingLimits:
    """The bounds of recorded HLS. Segment bytes held for recordings (moof headers included)
    are at most `max_recordings * max_bytes`, plus an init segment each."""

    max_seconds: float = 600.0  # of video per recording; then EXT-X-ENDLIST
    max_bytes: int = 64 * 1024 * 1024  # of segments per recording; then EXT-X-ENDLIST
    max_recordings: int = 8  # open at once; more answer 503
    segment_min_duration: float = 2.0  # no parts here: fewer, longer segments than live
    # Connections in a row that deliver no frame, past which the recording ends (a drop
    # mid-way resumes where the last frame ended, with `g`: the first keyframe after it).
    max_reconnects: int = 3


# -- rendering (sans-IO) --------------------------------------------------------------------


def render_event(segments: Sequence[PlaylistSegment], target_duration: int, ended: bool) -> str:
    """An EVENT media playlist (RFC 8216bis 4.4.3.5): every segment since the start, in
    order, never removed; `EXT-X-ENDLIST` once nothing more will be added (4.4.3.4)."""
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{VERSION}",
        f"#EXT-X-TARGETDURATION:{target_duration}",
        "#EXT-X-PLAYLIST-TYPE:EVENT",
        "#EXT-X-MEDIA-SEQUENCE:0",
        # No EXT-X-INDEPENDENT-SEGMENTS: a GOP longer than the target is cut mid-GOP (segmenter.py).
    ]
    lines.extend(segment_lines(segments))  # recorded segments have no parts
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def recording_key(at: SnapshotTime) -> str:
    """Equal times make one recording: the WEP form, `20160310T210100.057Z,c`."""
    return at.wep()


def segment_name(recording_id: str, msn: int) -> str:
    return f"r{recording_id}-seg{msn}.m4s"


def init_name(recording_id: str, version: int) -> str:
    return f"r{recording_id}-init{version}.mp4"


# -- one recording ----------------------------------------------------------------------------


@dataclass
class RecordingCounters:
    """Plain counters, apart from the live sources': a recorded pull is not a live one."""

    connections: int = 0
    reconnect_causes: Counter = field(default_factory=Counter)  # by cause, as the live sources count
    bytes_in: int = 0
    segments: int = 0
    bytes_held: int = 0  # segment bytes in memory
    playlist_requests: int = 0
    segments_served: int = 0
    bytes_served: int = 0

    @property
    def reconnects(self) -> int:
        return sum(self.reconnect_causes.values())


class RecordingFailed(Exception):
    """WEP refused the recording before any video came (e.g. 404: nothing recorded then)."""

    def __init__(self, error: UpstreamFailure):
        super().__init__(str(error))
        self.error = error


class Recording:
    """One upstream pull of recorded video from `at`, segmented into an EVENT playlist."""

    def __init__(
        self,
        recording_id: str,
        camera_id: str,
        quality: str,
        at: SnapshotTime,
        limits: RecordingLimits,
        *,
        clock: Callable[[], float] = time.monotonic,
        audio: bool = False,
    ):
        if at.at is None:
            raise ValueError("a recording needs a time, not live")
        self.id = recording_id
        self.camera_id = camera_id
        self.quality = quality
        self.at = at
        self.limits = limits
        self.counters = RecordingCounters()
        self.segmenter = Segmenter(
            FragmentWriter().write,
            part_target=NO_PARTS,
            segment_min_duration=limits.segment_min_duration,
            window_segments=sys.maxsize,
            clock=clock,  # EVENT: nothing slides out
        )
        self.ended: str | None = None  # why EXT-X-ENDLIST was written
        self.failure: UpstreamFailure | None = None
        self.closed = False
        self.last_request = clock()
        self._clock = clock
        self._timeline = Timeline()
        self._video: TrackInfo | None = None
        self._anchor: tuple[int, float] | None = None  # (decode time, unix seconds) of a connection's first frame
        self._connection_at = at.at.timestamp()  # the instant this connection asked WEP for
        self._resume_at = self._connection_at  # unix seconds where the last frame ended
        self._start_time: int | None = None  # decode time of the first frame fed
        self._open_bytes = 0  # bytes of the segment being written, headers apart
        self._changed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._rendered: dict[str, bytes] = {}
        self._task: asyncio.Task | None = None
        self.wants_audio = audio  # the camera has a microphone: pull its recorded audio
        self.audio_track: TrackInfo | None = None  # in the init segment once chosen
        self._audio_zero: int | None = None  # this connection's first AAC pts
        self._audio_held: list[AacFrame] = []
        self._audio_next = 0  # audio decode time where the last frame placed ended

    # -- feeding (no I/O: the pull below calls it, tests call it directly) --------------------
    def feed(self, event: InitSegment | Fragment) -> None:
        """One event of the upstream fMP4 reader. Stops at the bounds (sets `ended`)."""
        if self.ended is not None:
            return
        if isinstance(event, InitSegment):
            video = event.track("video")
            if video is None:
                raise ValueError("upstream init segment has no video track")
            self._video = video
            self.segmenter.push(Source.output_init(video, self.audio_track), time.time())
            return
        if self._video is None:
            raise ValueError("fragment before init segment")
        timescale = self._video.timescale
        for sample in event.samples:
            if sample.track_id != self._video.track_id:
                continue
            placed = self._timeline.place(sample, timescale, VIDEO_TRACK_ID)
            if self._start_time is None:
                self._start_time = placed.decode_time
            if self._anchor is None:
                camera_time = placed.captured_at if placed.captured_at is not None else self._connection_at
                self._anchor = (placed.decode_time, camera_time)
            # Bounds are checked before a frame goes in: what is held never exceeds them.
            if (placed.decode_time + placed.duration - self._start_time) / timescale > self.limits.max_seconds + 1e-9:
                self.end(f"reached {self.limits.max_seconds:g} s")
                return
            if not self._fits(len(placed.data)):
                return
            wall = placed.captured_at
            if wall is None:
                wall = self._anchor[1] + (placed.decode_time - self._anchor[0]) / timescale
            self._push(Frame(placed, "video", self._clock()), wall)
            self._open_bytes += len(placed.data) + SAMPLE_ENTRY_BYTES
            self._resume_at = wall + placed.duration / timescale
            if self._audio_held:
                held, self._audio_held = self._audio_held, []
                for frame in held:
                    self._place_audio(frame)

    def feed_audio(self, frame: AacFrame) -> None:
        """One AAC frame of this connection's recorded audio (recorded_audio.py), its pts on
        the audio connection's clock; held until the connection's first video frame."""
        if self.ended is not None or self.audio_track is None:
            return
        if self._audio_zero is None:
            self._audio_zero = frame.pts
        if self._anchor is None:
            if len(self._audio_held) < MAX_HELD_AUDIO:
                self._audio_held.append(frame)
            return
        self._place_audio(frame)

    def _place_audio(self, frame: AacFrame) -> None:
        assert self._anchor is not None and self._video is not None and self.audio_track is not None
        assert self._audio_zero is not None
        anchor_time, anchor_camera = self._anchor
        # Seconds on the video timeline where this connection's audio clock starts: the
        # instant asked for, against the camera time of the first video frame.
        start = anchor_time / self._video.timescale + (self._connection_at - anchor_camera)
        decode_time = round(start * self.audio_track.timescale) + frame.pts - self._audio_zero
        if decode_time < self._audio_next:
            return  # before the video began, or what an earlier connection already gave
        if not self._fits(len(frame.data)):
            return
        sample = Sample(AUDIO_TRACK_ID, decode_time, frame.duration, 0, True, frame.data)
        self._push(Frame(sample, "audio", self._clock()), self._resume_at)
        self._open_bytes += len(frame.data) + SAMPLE_ENTRY_BYTES
        self._audio_next = decode_time + frame.duration

    def _fits(self, size: int) -> bool:
        """Checked before a sample goes in: what is held never exceeds the byte bound."""
        head = FRAGMENT_HEAD_BYTES + (AUDIO_TRAF_BYTES if self.audio_track is not None else 0)
        if self.counters.bytes_held + head + self._open_bytes + size + SAMPLE_ENTRY_BYTES > self.limits.max_bytes:
            self.end(f"reached {self.limits.max_bytes} bytes")
            return False
        return True

    def _push(self, item: Frame | Discontinuity, wall: float) -> None:
        closed = len(self.segmenter.segments)
        self.segmenter.push(item, wall)
        if len(self.segmenter.segments) != closed:
            for segment in list(self.segmenter.segments)[closed:]:
                self.counters.segments += 1
                self.counters.bytes_held += len(segment.data)
            self._open_bytes = 0
            self._notify()

    def new_connection(self) -> SnapshotTime:
        """The next upstream connection starts here: the requested time first, then (after a
        drop) the first keyframe after the last frame received, as a discontinuity."""
        self._timeline.new_connection()
        self._anchor = None
        self._audio_zero = None
        self._audio_held = []
        if self._start_time is None:
            assert self.at.at is not None  # a recording is of a recorded time, never live
            self._connection_at = self.at.at.timestamp()
            return self.at
        self._push(Discontinuity("recorded stream reconnected"), self._resume_at)
        self._connection_at = self._resume_at
        resume = datetime.fromtimestamp(self._resume_at, UTC)
        return SnapshotTime(resume.replace(microsecond=resume.microsecond // 1000 * 1000), "g")

    def end(self, reason: str) -> None:
        """No more segments: the open one is closed as it is, and the playlist gets ENDLIST."""
        if self.ended is not None:
            return
        # A Discontinuity closes the open segment; nothing follows it to carry the tag.
        self._push(Discontinuity("end of recording"), self._resume_at)
        self.ended = reason
        log.info(
            "recording %s ended: %s (%d segments)",
            self.id,
            reason,
            len(self.segmenter.segments),
            extra={"camera": self.camera_id},
        )
        self._notify()

    def _notify(self) -> None:
        self._rendered.clear()
        changed, self._changed = self._changed, asyncio.get_running_loop().create_future()
        changed.set_result(None)

    # -- the upstream pull ------------------------------------------------------------------------
    def start(self, backend: Backend, sources: SourcesConfig) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._pull(backend, sources), name=f"hls recording {self.camera_id}/{self.quality}"
        )

    async def _pull(self, backend: Backend, sources: SourcesConfig) -> None:
        # The live sources' reconnect loop: a player waits (the watched, short-capped backoff),
        # and a recording ends once more than `max_reconnects` connections in a row deliver nothing.
        try:
            cause = await keep_pulling(
                lambda: self._connect(backend, sources),
                sources,
                self.counters.reconnect_causes,
                self.camera_id,
                "recorded stream",
                watched=lambda: True,
                give_up_after=self.limits.max_reconnects,
            )
            self.end(ENDED_BY_WEP if cause is None else f"upstream lost ({cause})")
        except RecordingFailed as exc:
            self.failure = exc.error
            self.close()

    async def _connect(self, backend: Backend, sources: SourcesConfig) -> tuple[str | None, bool]:
        """One upstream connection: (None once the recording is complete, else why it broke;
        whether it delivered a frame)."""
        first = self._start_time is None
        audio: asyncio.Task | None = None
        try:
            t = self.new_connection()
            audio = await self._start_audio(backend, t.wep(), sources)
            async with backend.open_recorded(self.camera_id, self.quality, t.wep(), sources.stall_timeout) as feed:
                self.counters.connections += 1
                async for event in feed.events():
                    self.counters.bytes_in += event.size if isinstance(event, Fragment) else len(event.data)
                    self.feed(event)
                    if self.ended is not None:
                        return None, True  # a bound: leaving the block closes the upstream stream
            return None, True
        except UPSTREAM_FAULTS as exc:
            # Refused at the first attempt (nothing recorded then, or not allowed): no retry.
            refused = isinstance(exc, UpstreamFailure) and not isinstance(exc, WepUnavailable)
            if first and isinstance(exc, UpstreamFailure) and refused and 400 <= exc.status < 500:
                raise RecordingFailed(exc) from None
            # A connection's first frame sets its anchor (new_connection clears it).
            return fault_cause(exc, self.camera_id, "recorded stream"), self._anchor is not None
        finally:
            if audio is not None:
                audio.cancel()

    async def _start_audio(self, backend: Backend, t: str, sources: SourcesConfig) -> asyncio.Task | None:
        """This connection's audio pull; before the first init segment, wait (AUDIO_WAIT) for
        its track, which the init segment then lists for the recording's whole life."""
        if not self.wants_audio or (self._video is not None and self.audio_track is None):
            return None
        audio = RecordedAudio(self.camera_id, self.feed_audio)
        task = asyncio.get_running_loop().create_task(
            audio.run(backend, t, sources.stall_timeout), name=f"hls recording audio {self.camera_id}"
        )
        if self._video is None:
            try:
                await asyncio.wait_for(audio.track_ready.wait(), AUDIO_WAIT)
            except TimeoutError:
                log.warning("no recorded audio yet: recording video only", extra={"camera": self.camera_id})
            self.audio_track = audio.track
            if self.audio_track is None:
                self.wants_audio = False
                task.cancel()
                return None
        return task

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
        if not self._changed.done():
            self._changed.set_result(None)

    # -- the request side -------------------------------------------------------------------------
    def touch(self) -> None:
        self.last_request = self._clock()

    async def wait_first_segment(self, timeout: float) -> None:
        """Wait (bounded) for a segment; raises RecordingFailed, or 503/404 as ApiError."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.segmenter.segments:
            if self.failure is not None:
                raise RecordingFailed(self.failure)
            if self.ended == ENDED_BY_WEP:
                raise not_found("no recorded video from that time")
            if self.ended is not None:
                raise unavailable(f"the recording ended without video: {self.ended}")
            if self.closed:
                raise unavailable("the recording stopped")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise unavailable("no recorded video from the camera yet")
            await asyncio.wait((self._changed,), timeout=remaining)

    def playlist(self, query: str) -> bytes:
        """The EVENT playlist, rendered once per (change, token)."""
        text = self._rendered.get(query)
        if text is None:
            segments = [
                PlaylistSegment(
                    uri=with_query(segment_name(self.id, s.msn), query),
                    duration=s.duration,
                    program_date_time=s.program_date_time,
                    discontinuity=s.discontinuity,
                    map_uri=with_query(init_name(self.id, s.init_version), query),
                )
                for s in self.segmenter.segments
            ]
            text = render_event(segments, self.segmenter.target_duration, self.ended is not None).encode()
            if len(self._rendered) < 64:  # many distinct tokens: render each time, hold few
                self._rendered[query] = text
        return text

    def media(self, kind: str, number: int) -> bytes | None:
        if kind == "init":
            return self.segmenter.inits.get(number)
        segment = self.segmenter.segment(number)
        return segment.data if segment is not None else None


# -- recordings on demand -----------------------------------------------------------------------


class Recordings:
    """Recordings by (camera, quality, normalised t) and by id; each closed `idle_close_after`
    (at least IDLE_TARGET_DURATIONS target durations) after its last request."""

    def __init__(self, sources: SourcesConfig, limits: RecordingLimits = RecordingLimits()):
        self.limits = limits
        self._sources = sources
        self._by_key: dict[tuple[str, str, str], Recording] = {}
        self._by_id: dict[str, Recording] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._last_id = 0

    def find(self, camera_id: str, quality: str, at: SnapshotTime) -> Recording | None:
        recording = self._by_key.get((camera_id, quality, recording_key(at)))
        if recording is None:
            return None
        if recording.closed:  # failed: the next request asks WEP again
            self._forget(recording)
            return None
        recording.touch()
        return recording

    def by_id(self, recording_id: str) -> Recording | None:
        recording = self._by_id.get(recording_id)
        if recording is None or recording.closed:
            return None
        recording.touch()
        return recording

    def open(
        self, camera_id: str, quality: str, at: SnapshotTime, backend: Backend, *, audio: bool = False
    ) -> Recording:
        """The recording of a camera, quality and time the caller has validated; `audio`:
        the camera has a microphone."""
        found = self.find(camera_id, quality, at)
        if found is not None:
            return found
        if len(self.running()) >= self.limits.max_recordings:
            raise ApiError(
                503,
                "too_many_recordings",
                f"{self.limits.max_recordings} recordings are open; try again when one closes",
                {"Retry-After": "5"},
            )
        recording = Recording(self._new_id(), camera_id, quality, at, self.limits, audio=audio and self._sources.audio)
        recording.start(backend, self._sources)
        self._by_key[camera_id, quality, recording_key(at)] = recording
        self._by_id[recording.id] = recording
        self._arm(recording, self._sources.idle_close_after)
        log.info(
            "recording %s started (%s, t=%s)", recording.id, quality, recording_key(at), extra={"camera": camera_id}
        )
        return recording

    def _new_id(self) -> str:
        # From the clock (microseconds), strictly increasing: unique across restarts too.
        self._last_id = max(self._last_id + 1, time.time_ns() // 1000)
        return format(self._last_id, "x")

    def running(self) -> list[Recording]:
        return [recording for recording in self._by_id.values() if not recording.closed]

    def _idle_after(self, recording: Recording) -> float:
        return max(self._sources.idle_close_after, IDLE_TARGET_DURATIONS * recording.segmenter.target_duration)

    def _arm(self, recording: Recording, delay: float) -> None:
        loop = asyncio.get_running_loop()
        self._timers[recording.id] = loop.call_later(max(delay, 0.05), self._check_idle, recording)

    def _check_idle(self, recording: Recording) -> None:
        idle_for = time.monotonic() - recording.last_request
        wait = self._idle_after(recording) - idle_for
        if wait > 0 and not recording.closed:
            self._arm(recording, wait)
            return
        self._forget(recording)
        if not recording.closed:
            recording.close()
            log.info(
                "recording %s closed after %.0fs idle", recording.id, idle_for, extra={"camera": recording.camera_id}
            )

    def _forget(self, recording: Recording) -> None:
        timer = self._timers.pop(recording.id, None)
        if timer is not None:
            timer.cancel()
        self._by_id.pop(recording.id, None)
        key = (recording.camera_id, recording.quality, recording_key(recording.at))
        if self._by_key.get(key) is recording:
            del self._by_key[key]

    async def close(self) -> None:
        recordings = list(self._by_id.values())
        for recording in recordings:
            self._forget(recording)
            recording.close()
        tasks = [r._task for r in recordings if r._task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)


# -- routes (hooked into gateway.hls.routes) -----------------------------------------------------

RECORDINGS = web.AppKey("hls_recordings", Recordings)


def wants_recording(request: web.Request) -> bool:
    """A playlist request with a `t` other than `live`."""
    values = request.query.getall("t", [])
    return bool(values) and values != ["live"]


def is_recorded_name(name: str) -> bool:
    return name.startswith("r")  # live names start with init, seg or part


def requested_time(request: web.Request, now: float) -> SnapshotTime:
    """`t` of a recorded playlist request, normalised; 400 naming `t` otherwise."""
    values = request.query.getall("t", [])
    try:
        if len(values) > 1:
            raise ParameterError("t", "t is given more than once")
        at = parse_time(values[0])
        if at.at is None:
            raise ParameterError("t", "t=live is the live playlist")
        if at.at.timestamp() > now + FUTURE_LIMIT:
            raise ParameterError("t", f"t is {at.at.timestamp() - now:.0f} s in the future: nothing is recorded there")
    except ParameterError as exc:
        raise bad_request(str(exc)) from None
    return at


async def media_playlist(request: web.Request) -> web.Response:
    at = requested_time(request, time.time())
    camera_id, quality = request.match_info["camera"], request.match_info["quality"]
    recordings = request.app[RECORDINGS]
    recording = recordings.find(camera_id, quality, at)
    if recording is None:
        cameras = request.app[CAMERAS]
        camera, quality = await cameras.quality(camera_id, quality)
        await cameras.usable(camera.id, Capability.RECORDED)
        # No await since the find: one recording per key.
        recording = recordings.open(camera.id, quality, at, cameras.backend_of(camera.id), audio=camera.audio)
    recording.counters.playlist_requests += 1
    try:
        await recording.wait_first_segment(FIRST_SEGMENT_TIMEOUT)
    except RecordingFailed as exc:
        if exc.error.status == 404:
            raise not_found("no recorded video at that time") from None
        raise exc.error from None  # the error middleware's mapping of WEP answers
    body = recording.playlist(token_query(request))
    return web.Response(body=body, headers={"Content-Type": PLAYLIST_TYPE, "Cache-Control": "no-cache"})


async def media(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    match = _NAME.fullmatch(name)
    if match is None:
        raise not_found("no such media")
    recording_id, kind, number, extension = match.groups()
    recording = request.app[RECORDINGS].by_id(recording_id)
    if (kind == "init") != (extension == "mp4") or recording is None:
        raise not_found("no such media")
    if (recording.camera_id, recording.quality) != (request.match_info["camera"], request.match_info["quality"]):
        raise not_found("no such media")  # a token for this camera must not reach another's recording
    body = recording.media(kind, int(number))
    if body is None:
        raise not_found(f"{name} is not in the recording")
    recording.counters.segments_served += kind == "seg"
    recording.counters.bytes_served += len(body)
    return web.Response(body=body, headers={"Content-Type": MEDIA_TYPE, "Cache-Control": MEDIA_CACHE})


async def _service(app: web.Application) -> AsyncIterator[None]:
    app[RECORDINGS] = Recordings(app[CONFIG].sources)
    try:
        yield
    finally:
        await app[RECORDINGS].close()


def install(app: web.Application) -> None:
    """Called by gateway.hls.routes.add_routes: the routes are theirs, with hooks here."""
    app.cleanup_ctx.append(_service)
