"""Remux the hub's samples into FLV with PyAV: H.264 and AAC packets copied, never re-encoded.

Blocking (FFmpeg does the I/O when the destination is an rtmp:// URL): call it from a
thread, never from the event loop.

How the streams are described: FFmpeg reads codec parameters from a tiny fMP4 init
segment built from the tracks (avcC for H.264, esds with the AudioSpecificConfig for
AAC), and the FLV streams are copied from it (`add_stream_from_template`), so no encoder
is ever opened. The FLV muxer turns the avcC into the AVC sequence header and the
AudioSpecificConfig into the AAC sequence header (FLV spec v10.1, E.4.3.1 / E.4.2.2):
avcC and FLV's AVCDecoderConfigurationRecord are the same bytes, and the AVCC samples
(length-prefixed NAL units) are what FLV's AVC NALU packets carry.

Timestamps: FLV counts milliseconds from 0. Each remuxer rebases both tracks on the first
video keyframe it writes (the first audio frame for audio-only), so a push that reconnects
starts at 0 again; audio before it is dropped, and a packet that would go backwards on its track is dropped, not sent, because
the FLV muxer refuses non-monotonic timestamps.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from typing import BinaryIO

import av

from gateway.media.fmp4 import Sample, TrackInfo, write_init_segment

AAC_CODEC = "mp4a.40.2"


class FlvRemuxError(ValueError):
    """The tracks cannot go into FLV (not H.264, not AAC)."""


@dataclass(frozen=True)
class FlvTracks:
    video: TrackInfo | None
    audio: TrackInfo | None = None

    def __post_init__(self) -> None:
        if self.video is None and self.audio is None:
            raise FlvRemuxError("FLV needs a video or an audio track")
        if self.video is not None and (
            not self.video.codec.startswith(("avc1", "avc3")) or not self.video.codec_config
        ):
            raise FlvRemuxError(f"FLV carries H.264 video with an avcC, not {self.video.codec!r}")
        if self.audio is not None and (self.audio.codec != AAC_CODEC or not self.audio.codec_config):
            raise FlvRemuxError(f"FLV audio must be AAC-LC ({AAC_CODEC}) with its config, not {self.audio.codec!r}")

    @property
    def leading(self) -> TrackInfo:
        """The track whose first packet (a keyframe, for video) becomes FLV time 0."""
        return self.video if self.video is not None else self.audio  # type: ignore[return-value]

    def as_list(self) -> list[TrackInfo]:
        return [track for track in (self.video, self.audio) if track is not None]


class FlvRemuxer:
    """`write()` samples in decode order; the first write opens the destination.

    `target` is a URL FFmpeg can write (rtmp://, rtmps://, a path) or a binary file object.
    `timeout` bounds every blocking FFmpeg call (connect, handshake, a stuck write).
    """

    def __init__(self, target: str | BinaryIO, tracks: FlvTracks, *, timeout: float = 10.0):
        self.tracks = tracks
        self.bytes_written = 0  # media payload handed to the muxer
        self.packets_written = 0
        self.packets_dropped = 0
        # PyAV's timeout is an FFmpeg interrupt callback: it ends a blocking connect or write.
        self._container = av.open(target, "w", format="flv", timeout=(timeout, timeout))
        self._template = av.open(io.BytesIO(write_init_segment(tracks.as_list())), "r", format="mp4")
        self._streams: dict[int, tuple[av.stream.Stream, Fraction]] = {}
        templates: dict[str, av.stream.Stream] = {stream.type: stream for stream in self._template.streams}
        for track in tracks.as_list():
            stream = self._container.add_stream_from_template(templates[track.kind], opaque=True)
            self._streams[track.track_id] = (stream, Fraction(1, track.timescale))
        self._origin: Fraction | None = None  # seconds on the hub timeline that become FLV time 0
        self._last_dts: dict[int, int] = {}
        self._closed = False

    def write(self, sample: Sample) -> bool:
        """Mux one sample; False when it was dropped (before the first keyframe, backwards)."""
        entry = self._streams.get(sample.track_id)
        if entry is None:
            raise FlvRemuxError(f"sample of track {sample.track_id}, which this remuxer was not given")
        stream, time_base = entry
        if self._origin is None:
            leading = self.tracks.leading
            if sample.track_id != leading.track_id or (leading.kind == "video" and not sample.is_keyframe):
                self.packets_dropped += 1
                return False
            self._origin = sample.decode_time * time_base
        dts = round(sample.decode_time - self._origin / time_base)
        last = self._last_dts.get(sample.track_id)
        if dts < 0 or (last is not None and dts <= last):
            self.packets_dropped += 1
            return False
        packet = av.Packet(sample.data)
        packet.dts = dts
        packet.pts = dts + sample.composition_offset
        packet.time_base = time_base
        packet.is_keyframe = sample.is_keyframe
        packet.stream = stream
        self._container.mux(packet)
        self._last_dts[sample.track_id] = dts
        self.bytes_written += len(sample.data)
        self.packets_written += 1
        return True

    def close(self) -> None:
        """Write the trailer (best effort when the destination is gone) and release FFmpeg."""
        if self._closed:
            return
        self._closed = True
        try:
            self._container.close()
        finally:
            self._template.close()
