"""A source: one upstream pull of one camera at one quality, published into a hub.

The source owns the upstream connection and nothing else: it opens the camera's video
feed through its backend (gateway/backends/), rewrites timestamps onto one continuous
timeline and publishes. On a drop, a 5xx, a stall or an expired session it reconnects
with capped exponential backoff and jitter while every reader stays attached, short-capped
while anybody reads (gateway/media/reconnect.py); the hub tells readers about the
discontinuity.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from gateway.backends.base import Backend, VideoFeed
from gateway.config import SourcesConfig
from gateway.media.audio import CameraAudio
from gateway.media.fmp4 import Fragment, InitSegment, Sample, TrackInfo, write_init_segment
from gateway.media.hub import Hub
from gateway.media.reconnect import UPSTREAM_FAULTS, fault_cause, keep_pulling

log = logging.getLogger("gateway.source")

VIDEO_TRACK_ID = 1
# How long a new source holds its first init segment for the audio track to be known:
# the track set of an fMP4 stream cannot change later without breaking MSE players.
AUDIO_WAIT = 3.0

AudioProvider = Callable[[str], "CameraAudio | None"]  # camera_id -> its shared audio pull (None: no audio)
BackendResolver = Callable[[str], Awaitable[Backend]]  # camera_id -> its backend (UpstreamFailure if none)
# (backend, camera_id, quality, stall_timeout) -> an open feed: the backend's own, or in a
# cluster the owning node's (gateway/cluster/ownership.py).
VideoOpener = Callable[[Backend, str, str, float], AbstractAsyncContextManager[VideoFeed]]


def open_direct(backend: Backend, camera_id: str, quality: str, stall_timeout: float):
    return backend.open_video(camera_id, quality, stall_timeout)


class UpstreamEnded(Exception):
    """The upstream closed a live stream that should go on forever."""


class Timeline:
    """Maps each connection's decode times onto the hub's continuous timeline.

    A reconnect starts a new upstream clock; the first sample after it is placed right
    after the last one published, so every output keeps monotonic timestamps.
    """

    def __init__(self) -> None:
        self._offset: int | None = None
        self._next_time: float | None = None  # seconds, end of the last published sample
        self._last_upstream: int | None = None
        self._timescale = 1

    @property
    def end_time(self) -> float | None:
        """Seconds on the hub timeline where the next sample goes (None before any)."""
        return self._next_time

    @property
    def offset_seconds(self) -> float | None:
        """This connection's shift from upstream time to hub time (None before its first sample)."""
        return None if self._offset is None else self._offset / self._timescale

    def new_connection(self) -> None:
        self._offset = None
        self._last_upstream = None

    def place(self, sample: Sample, timescale: int, track_id: int) -> Sample:
        if self._last_upstream is not None and sample.decode_time < self._last_upstream:
            self._offset = None  # upstream clock went backwards: re-anchor, stay monotonic
        if self._offset is None:
            start = sample.decode_time if self._next_time is None else round(self._next_time * timescale)
            self._offset = start - sample.decode_time
            self._timescale = timescale
        self._last_upstream = sample.decode_time
        decode_time = sample.decode_time + self._offset
        self._next_time = (decode_time + sample.duration) / timescale
        return dataclasses.replace(sample, decode_time=decode_time, track_id=track_id)


@dataclasses.dataclass
class SourceCounters:
    connections: int = 0
    reconnects: Counter = dataclasses.field(default_factory=Counter)  # by cause
    bytes_in: int = 0


class Source:
    def __init__(
        self,
        camera_id: str,
        quality: str,
        backend: BackendResolver,
        config: SourcesConfig,
        hub: Hub,
        audio_provider: AudioProvider | None = None,
        open_video: VideoOpener = open_direct,
        release_audio: Callable[[Source], None] | None = None,
    ):
        self.camera_id = camera_id
        self.quality = quality
        self.hub = hub
        self.counters = SourceCounters()
        self.connected = False
        self._resolve_backend = backend
        self._config = config
        self._video_timeline = Timeline()
        self._video_track: TrackInfo | None = None
        self._published_any = False
        self._audio_provider = audio_provider
        self._open_video = open_video
        self._release_audio = release_audio
        self.audio: CameraAudio | None = None
        # Tracks of a feed that carries the camera's audio itself (a cluster peer's): by
        # track id, what each is.
        self._relayed: dict[int, TrackInfo] = {}
        self._relayed_audio_end: float | None = None
        # Set when the first reader arrives: a source backing off with nobody watching retries soon.
        self._viewer_joined = asyncio.Event()
        hub.add_reader_listener(self._readers_changed)

    def _readers_changed(self, count: int) -> None:
        if count:
            self._viewer_joined.set()

    async def run(self) -> None:
        await keep_pulling(
            self._pull_and_mark,
            self._config,
            self.counters.reconnects,
            self.camera_id,
            "video",
            watched=lambda: self.hub.reader_count > 0,
            viewer_joined=self._viewer_joined,
        )

    async def _pull_and_mark(self) -> tuple[str, bool]:
        cause = await self._pull_once()
        delivered, self.connected = self.connected, False
        if self._published_any:
            self.hub.publish_discontinuity(cause)
        return cause, delivered

    async def _pull_once(self) -> str:
        """One upstream connection, until it fails; returns the cause of its end."""
        try:
            backend = await self._resolve_backend(self.camera_id)
            async with self._open_video(backend, self.camera_id, self.quality, self._config.stall_timeout) as feed:
                relay = getattr(feed, "carries_audio", False)
                if relay:
                    self._leave_audio()  # the feed brings the camera's audio
                else:
                    self._relayed = {}
                    await self._join_audio()
                self.counters.connections += 1
                self._video_timeline.new_connection()
                on_event = self._on_relayed if relay else self._on_event
                async for event in feed.events():
                    on_event(event)
            raise UpstreamEnded("upstream closed the stream")
        except UpstreamEnded:
            log.warning("upstream ended the stream", extra={"camera": self.camera_id})
            return "ended"
        except UPSTREAM_FAULTS as exc:
            return fault_cause(exc, self.camera_id, "upstream")

    async def _join_audio(self) -> None:
        if self.audio is None and self._audio_provider and self._config.audio:
            self.audio = self._audio_provider(self.camera_id)
            if self.audio is None:
                return
            self.audio.attach(self.hub, lambda: self._video_timeline.end_time)
        if self.audio is not None and self.hub.init is None and not self.audio.track_ready.is_set():
            try:
                await asyncio.wait_for(self.audio.track_ready.wait(), AUDIO_WAIT)
            except TimeoutError:
                log.warning("no camera audio yet: streaming video only", extra={"camera": self.camera_id})

    def _leave_audio(self) -> None:
        if self.audio is not None:
            self.audio.detach(self.hub)
            self.audio = None
            if self._release_audio is not None:
                self._release_audio(self)

    def _on_relayed(self, event: InitSegment | Fragment) -> None:
        """A feed that is already this gateway's output (a peer's hub): its init goes out
        as it is, and every track's samples are placed on this hub's timeline with the
        video's offset, so audio stays in sync across a reconnect."""
        self.counters.bytes_in += event.size if isinstance(event, Fragment) else len(event.data)
        if isinstance(event, InitSegment):
            video = event.track("video")
            if video is None:
                raise ValueError("the peer's init segment has no video track")
            self._video_track = video
            self._relayed = {track.track_id: track for track in event.tracks}
            self.hub.publish_init(event)
            return
        if not self._relayed:
            raise ValueError("fragment before init segment")
        for sample in event.samples:
            track = self._relayed.get(sample.track_id)
            if track is None:
                continue
            if track.kind == "video":
                placed = self._video_timeline.place(sample, track.timescale, sample.track_id)
                self.connected = self._published_any = True
            else:
                shift = self._video_timeline.offset_seconds
                if shift is None:
                    continue  # audio before this connection's first picture: no anchor yet
                placed = dataclasses.replace(sample, decode_time=sample.decode_time + round(shift * track.timescale))
                if not self._audio_after(placed, track.timescale):
                    continue
            self.hub.publish(placed, track.kind)

    def _audio_after(self, sample: Sample, timescale: int) -> bool:
        """Whether a relayed audio sample goes after the last one published (a reconnect
        may repeat a little)."""
        start = sample.decode_time / timescale
        if self._relayed_audio_end is not None and start < self._relayed_audio_end - 1e-6:
            return False
        self._relayed_audio_end = (sample.decode_time + sample.duration) / timescale
        return True

    def _on_event(self, event: InitSegment | Fragment) -> None:
        self.counters.bytes_in += event.size if isinstance(event, Fragment) else len(event.data)
        if isinstance(event, InitSegment):
            video = event.track("video")
            if video is None:
                raise ValueError("upstream init segment has no video track")
            self._video_track = video
            if self.hub.init is None or self.hub.init.track("video") != self._renumbered(video):
                audio = self.audio.track if self.audio is not None else None
                self.hub.publish_init(self.output_init(video, audio))
            return
        if self._video_track is None:
            raise ValueError("fragment before init segment")
        for sample in event.samples:
            if sample.track_id != self._video_track.track_id:
                continue
            placed = self._video_timeline.place(sample, self._video_track.timescale, VIDEO_TRACK_ID)
            self.hub.publish(placed, "video")
            self._published_any = True
            self.connected = True

    @staticmethod
    def _renumbered(video: TrackInfo) -> TrackInfo:
        return dataclasses.replace(video, track_id=VIDEO_TRACK_ID)

    @classmethod
    def output_init(cls, video: TrackInfo, audio: TrackInfo | None = None) -> InitSegment:
        tracks = (cls._renumbered(video),) + ((audio,) if audio is not None else ())
        return InitSegment(write_init_segment(tracks), tracks)
