"""Camera audio: one pull per camera (through its backend), published as AAC-LC track 2
into every hub (quality) of that camera so each HLS player can play it, and as opus
packets into `opus_hub` for WebRTC viewers (RFC 7587).

What is transcoded depends on what the camera sends, and happens once per camera:
- opus (WEP's webm): forwarded untouched to `opus_hub`, nothing decodes on that path;
  AAC is made from it (transcoders/aac.py);
- AAC (Amcrest/Dahua RTSP): forwarded untouched to the hubs; opus is made from it;
- G.711 (Amcrest/Dahua RTSP): both are made from it (transcoders/camera_audio.py).

The audio connection has its own clock. Each hub places audio on its video timeline at
the first AAC frame (the current end of video on that hub), then runs on the AAC sample
count, which OpusToAac keeps continuous across upstream gaps.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from collections.abc import Callable

from gateway.backends.base import AudioFrame, AudioTrack, Backend, UpstreamFailure
from gateway.config import SourcesConfig
from gateway.media.fmp4.model import Sample, TrackInfo
from gateway.media.hub import Hub
from gateway.media.reconnect import keep_pulling
from gateway.media.webm import WebmError, opus_packet_samples
from transcoders.aac import OpusToAac, UnsupportedOpus
from transcoders.camera_audio import CameraAudioTranscoder, UnsupportedAudio

log = logging.getLogger("gateway.audio")

AUDIO_TRACK_ID = 2
AAC_CODEC = "mp4a.40.2"
OPUS_CLOCK = 48_000  # RFC 7587 4.1: opus RTP timestamps count 48 kHz samples whatever the coded rate
# AAC or G.711 from a camera is transcoded in runs of about 100 ms (this span of pts
# between the first and last packet), not packet by packet: each executor round trip is
# what costs (20 ms a call: 6.2 % of a core per camera, 60 ms: 4.7 %, 100 ms: 3.0 %;
# bench/bench_amcrest.py). The run's audio is placed on the hubs by its newest sample, so
# the wait costs latency, not lip sync; audio lagging 100 ms is inside what viewers accept
# (ITU-R BT.1359: -125 ms).
TRANSCODE_RUN_MS = 80.0


@dataclasses.dataclass
class _Tap:
    hub: Hub
    video_clock: Callable[[], float | None]  # end of published video, seconds, hub timeline
    offset: int | None = None  # AAC pts -> hub audio decode time
    last: int = -1


class CameraAudio:
    def __init__(self, camera_id: str, backend: Backend | None, config: SourcesConfig):
        self.camera_id = camera_id
        self.track: TrackInfo | None = None
        self.track_ready = asyncio.Event()
        self.reconnects: Counter = Counter()
        self.frames_out = 0
        self._backend = backend
        self._config = config
        self._taps: dict[int, _Tap] = {}
        self._source_track: AudioTrack | None = None  # what the camera sends
        self._transcoder: OpusToAac | CameraAudioTranscoder | None = None
        self._waiting: list[AudioFrame] = []  # camera AAC/G.711 not transcoded yet (TRANSCODE_RUN_MS)
        self._delivered = False
        self.opus_hub = Hub(f"{camera_id}/opus", audio_only=True)
        self._opus_published = False  # on this connection: a reconnect is then a discontinuity

    def attach(self, hub: Hub, video_clock: Callable[[], float | None]) -> None:
        self._taps[id(hub)] = _Tap(hub, video_clock)

    def detach(self, hub: Hub) -> None:
        self._taps.pop(id(hub), None)

    @property
    def attached(self) -> int:
        return len(self._taps)

    async def run(self) -> None:
        try:
            await keep_pulling(
                self._pull_once, self._config, self.reconnects, self.camera_id, "audio", watched=self._watched
            )
        finally:
            self.opus_hub.close()  # the pull is gone for good: WebRTC audio readers end

    def _watched(self) -> bool:
        """Whether anybody hears this pull: a reader of a video hub it feeds, or of its opus."""
        return self.opus_hub.reader_count > 0 or any(tap.hub.reader_count for tap in self._taps.values())

    async def _pull_once(self) -> tuple[str, bool]:
        cause, delivered = await self._connect_once()
        if self._opus_published:
            # The next connection starts a new webm clock: readers re-anchor their RTP time.
            self.opus_hub.publish_discontinuity(cause)
            self._opus_published = False
        return cause, delivered

    async def _connect_once(self) -> tuple[str, bool]:
        self._delivered = False
        assert self._backend is not None  # audio is pulled only from a camera a backend lists
        try:
            async with self._backend.open_audio(self.camera_id, self._config.stall_timeout) as feed:
                async for batch in feed.batches():
                    await self._on_events(batch)
            cause = "ended"
        except UpstreamFailure as exc:
            log.warning("audio upstream failed: %s", exc, extra={"camera": self.camera_id})
            cause = exc.cause
        except (WebmError, UnsupportedOpus, UnsupportedAudio) as exc:
            log.warning("audio upstream sent bad media: %s", exc, extra={"camera": self.camera_id})
            cause = "bad_media"
        except (TimeoutError, OSError) as exc:
            log.warning("audio connection lost: %s", exc.__class__.__name__, extra={"camera": self.camera_id})
            cause = "connection"
        return cause, self._delivered

    async def _on_events(self, events: list[AudioTrack | AudioFrame]) -> None:
        """One read's worth of the feed: the transcoder runs once per batch, off the loop."""
        frames: list[AudioFrame] = []
        for event in events:
            if isinstance(event, AudioTrack):
                self._start_transcoder(event)
            elif self._source_track is not None:
                frames.append(event)
                if self._source_track.codec == "opus":
                    self._publish_opus(event)
        if not frames or self._transcoder is None:
            return
        # Decoding and encoding are CPU work: off the event loop, once per camera.
        transcoder = self._transcoder
        loop = asyncio.get_running_loop()
        if isinstance(transcoder, OpusToAac):
            aac = await loop.run_in_executor(None, lambda: [out for frame in frames for out in transcoder.feed(frame)])
            opus: list = []
        else:
            self._waiting += frames
            if self._waiting[-1].pts_ms - self._waiting[0].pts_ms < TRANSCODE_RUN_MS:
                return
            frames, self._waiting = self._waiting, []
            aac, opus = await loop.run_in_executor(None, _transcode_all, transcoder, frames)
        # Placed by the newest sample of the batch, which arrived with the newest video.
        newest = aac[-1].pts + aac[-1].duration if aac else 0
        for frame in aac:
            self._publish(frame.data, frame.pts, frame.duration, newest - frame.pts)
        for packet in opus:
            self.opus_hub.publish(Sample(AUDIO_TRACK_ID, packet.pts, packet.samples, 0, True, packet.data), "audio")
            self._opus_published = True

    def _start_transcoder(self, track: AudioTrack) -> None:
        channels = min(track.channels, 2)
        same_codec = self._source_track is not None and self._source_track.codec == track.codec
        if self._transcoder is not None and same_codec and self.track is not None and self.track.channels == channels:
            return  # a reconnect: same shape, the running transcoder keeps the timeline continuous
        if self.track is not None and self.track.channels != channels:
            log.warning(
                "audio channel count changed; keeping %d", self.track.channels, extra={"camera": self.camera_id}
            )
            channels = self.track.channels
        if self.track is not None and not same_codec:
            # The hubs' init segments already name an AAC track of this shape: keep it.
            log.warning(
                "camera audio changed from %s to %s",
                self._source_track.codec if self._source_track else "?",
                track.codec,
                extra={"camera": self.camera_id},
            )
        self._source_track = track
        self._waiting = []
        if track.codec == "opus":
            self._transcoder = OpusToAac(track.config, channels)
        else:
            self._transcoder = CameraAudioTranscoder(track.codec, track.sample_rate, channels, track.config)
        if self.track is None:
            self.track = TrackInfo(
                AUDIO_TRACK_ID,
                "audio",
                AAC_CODEC,
                self._transcoder.sample_rate,
                sample_rate=self._transcoder.sample_rate,
                channels=channels,
                codec_config=self._transcoder.audio_specific_config,
            )
            self.track_ready.set()

    def _publish_opus(self, frame: AudioFrame) -> None:  # frame: opus, as the camera coded it
        """The packet as the camera coded it, on the webm clock in 48 kHz samples."""
        samples = opus_packet_samples(frame.data)
        if not samples:
            return  # empty or unreadable TOC (RFC 6716 3.1): nothing a receiver could decode
        self.opus_hub.publish(
            Sample(AUDIO_TRACK_ID, round(frame.pts_ms * OPUS_CLOCK / 1000), samples, 0, True, frame.data), "audio"
        )
        self._opus_published = True

    def _publish(self, data: bytes, pts: int, duration: int, age: int = 0) -> None:
        """One AAC frame into every hub; `age`: samples between its start and the newest audio
        (what the first frame on a hub is placed by)."""
        self._delivered = True
        rate = self.track.timescale if self.track else 48000
        for tap in self._taps.values():
            if tap.offset is None:
                video_end = tap.video_clock()
                if video_end is None:
                    continue  # no video on this hub yet: audio starts with the picture
                tap.offset = round(video_end * rate) - pts - age
            decode_time = pts + tap.offset
            if decode_time <= tap.last or tap.hub.init is None or tap.hub.init.track("audio") is None:
                continue
            tap.last = decode_time
            tap.hub.publish(Sample(AUDIO_TRACK_ID, decode_time, duration, 0, True, data), "audio")
            self.frames_out += 1


def _transcode_all(transcoder: CameraAudioTranscoder, frames: list[AudioFrame]) -> tuple[list, list]:
    aac: list = []
    opus: list = []
    for frame in frames:
        more_aac, more_opus = transcoder.feed(frame.data, frame.pts_ms)
        aac += more_aac
        opus += more_opus
    return aac, opus
