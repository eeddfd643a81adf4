"""Opus packets (from the camera's WebM audio) to raw AAC-LC access units, once per camera.

No asyncio: the gateway calls `OpusToAac.feed()` from an executor thread.

Timestamps: AAC pts are counted in samples (1/48000 s) from an anchor, so they are
continuous and monotonic whatever jitter the millisecond WebM timestamps carry. When an
input packet lands more than `resync_threshold_ms` away from where the sample count says
it should (an upstream gap or reconnect), the mapping is re-anchored:
- a jump forward is kept as a gap in the AAC pts, so audio stays aligned with video;
- a jump backward (a new upstream timeline) is absorbed: pts go on from the sample count,
  because output pts must never go back.
The AAC encoder delays its output by `priming_samples` (1024, FFmpeg's `initial_padding`):
AAC frame n is stamped anchor + n * 1024, so a player that ignores priming (fMP4 without an
edit list) hears the audio that much late (21 ms).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

import av
import av.error

SAMPLE_RATE = 48_000  # opus always decodes at 48 kHz (RFC 7845 5.1); AAC keeps that rate
AAC_FRAME_SAMPLES = 1024  # AAC-LC access unit (ISO/IEC 14496-3 4.5.2.1)
_TIME_BASE = Fraction(1, SAMPLE_RATE)


class UnsupportedOpus(ValueError):
    """The opus track cannot be transcoded (bad OpusHead, more than two channels)."""


class OpusPacket(Protocol):
    """What `feed` needs of a `gateway.media.webm.AudioFrame`."""

    @property
    def data(self) -> bytes: ...

    @property
    def pts_ms(self) -> float: ...


@dataclass(frozen=True, slots=True)
class AacFrame:
    data: bytes  # one raw AAC access unit, no ADTS header
    pts: int  # in 1/sample_rate
    duration: int = AAC_FRAME_SAMPLES


def opus_pre_skip(opus_head: bytes) -> int:
    """OpusHead pre-skip in 48 kHz samples (RFC 7845 5.1: bytes 10-11, little-endian)."""
    if len(opus_head) < 19 or not opus_head.startswith(b"OpusHead"):
        raise UnsupportedOpus("codec private data is not an OpusHead")
    return int.from_bytes(opus_head[10:12], "little")


class OpusToAac:
    def __init__(
        self,
        codec_private: bytes,
        channels: int,
        bit_rate: int | None = None,
        resync_threshold_ms: float = 100.0,
    ) -> None:
        if channels not in (1, 2):
            raise UnsupportedOpus(f"{channels} opus channels: only mono and stereo are transcoded")
        self._pre_skip = opus_pre_skip(codec_private)
        layout = "mono" if channels == 1 else "stereo"
        self._decoder = av.CodecContext.create("opus", "r")
        self._decoder.extradata = codec_private
        self._decoder.sample_rate = SAMPLE_RATE
        self._decoder.layout = layout
        self._encoder = av.CodecContext.create("aac", "w")
        self._encoder.sample_rate = SAMPLE_RATE
        self._encoder.layout = layout
        self._encoder.format = "fltp"
        self._encoder.bit_rate = bit_rate or (64_000 if channels == 1 else 96_000)
        self._encoder.time_base = _TIME_BASE
        self._encoder.open()
        # Opus decoders may hand back a different layout than the track says; the encoder
        # takes exactly one. The resampler passes matching frames through untouched.
        self._resampler = av.AudioResampler(format="fltp", layout=layout, rate=SAMPLE_RATE)
        self.sample_rate = SAMPLE_RATE
        self.channels = channels
        self.priming_samples = AAC_FRAME_SAMPLES
        self.decode_errors = 0
        self.resyncs = 0
        self._threshold = round(resync_threshold_ms * SAMPLE_RATE / 1000)
        self._next_in: int | None = None  # where the next packet should start, input timeline
        self._fed = 0  # samples handed to the encoder since construction
        self._packets_out = 0
        # (first encoder sample index, its pts): the piecewise map from sample count to pts
        self._anchor_index: list[int] = []
        self._anchor_pts: list[int] = []

    @property
    def audio_specific_config(self) -> bytes:
        """AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1) for esds / the HLS codec string."""
        return bytes(self._encoder.extradata or b"")

    def feed(self, packet: OpusPacket) -> list[AacFrame]:
        start = round(packet.pts_ms * SAMPLE_RATE / 1000) - self._pre_skip
        self._place(start)
        av_packet = av.Packet(packet.data)
        av_packet.pts = start
        av_packet.time_base = _TIME_BASE
        try:
            decoded = self._decoder.decode(av_packet)
        except av.error.FFmpegError:
            self.decode_errors += 1  # its samples go missing; the resync check absorbs that
            return []
        out: list[AacFrame] = []
        first = self._fed == 0 and self._next_in == start
        produced = 0
        for frame in decoded:
            produced += frame.samples
            out += self._encode(frame)
        # The decoder drops the pre-skip from the first packet (RFC 7845 4.2).
        self._next_in = start + produced + (self._pre_skip if first else 0)
        return out

    def flush(self) -> list[AacFrame]:
        """Encode what the encoder still holds; the instance is finished after this."""
        out: list[AacFrame] = []
        for frame in self._resampler.resample(None):
            out += self._encode_resampled(frame)
        out += self._collect(self._encoder.encode(None))
        return out

    def _place(self, start: int) -> None:
        """Anchor the first packet; re-anchor when a packet jumps past the threshold."""
        if self._next_in is None:
            self._anchor_index.append(0)
            # The first kept sample is at start + pre_skip; pts start at zero at least,
            # as an fMP4 tfdt cannot be negative.
            self._anchor_pts.append(max(0, start + self._pre_skip))
            self._next_in = start
            return
        jump = start - self._next_in
        if abs(jump) <= self._threshold:
            return
        self.resyncs += 1
        expected = self._pts_at(self._fed)
        self._anchor_index.append(self._fed)
        self._anchor_pts.append(expected + max(0, jump))
        self._next_in = start

    def _pts_at(self, index: int) -> int:
        i = bisect.bisect_right(self._anchor_index, index) - 1
        return self._anchor_pts[i] + index - self._anchor_index[i]

    def _encode(self, frame: av.AudioFrame) -> list[AacFrame]:
        frame.pts = None  # our own count places samples; the resampler need not
        out: list[AacFrame] = []
        for resampled in self._resampler.resample(frame):
            out += self._encode_resampled(resampled)
        return out

    def _encode_resampled(self, frame: av.AudioFrame) -> list[AacFrame]:
        frame.pts = self._fed
        frame.time_base = _TIME_BASE
        self._fed += frame.samples
        return self._collect(self._encoder.encode(frame))

    def _collect(self, packets: list[av.Packet]) -> list[AacFrame]:
        out = []
        for av_packet in packets:
            pts = self._pts_at(self._packets_out * AAC_FRAME_SAMPLES)
            self._packets_out += 1
            out.append(AacFrame(bytes(av_packet), pts))
        # Anchors behind the oldest sample still to be stamped are never looked up again.
        while len(self._anchor_index) > 1 and self._anchor_index[1] <= self._packets_out * AAC_FRAME_SAMPLES:
            del self._anchor_index[0], self._anchor_pts[0]
        return out
