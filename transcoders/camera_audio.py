"""A camera's own audio (AAC, or G.711 A-law / mu-law from RTSP) to what the gateway
publishes: AAC-LC access units for the video hubs and opus packets for WebRTC. Once per
camera, sans-IO: the gateway calls `CameraAudioTranscoder.feed()` from an executor thread.

- AAC in: the access units go to the hubs untouched (no generation loss, no encode cost);
  only the opus side decodes them, resamples to 48 kHz and encodes with libopus.
- G.711 in: decoded by table lookup, then encoded twice: AAC-LC at 16 kHz, opus at 48 kHz.

Timestamps follow `transcoders.aac.OpusToAac`: each output counts its samples from an
anchor (the first input pts), so pts are continuous and monotonic whatever millisecond
jitter the input carries. An input packet landing more than `resync_threshold_ms` from
where the count says it should re-anchors every output: a jump forward is kept as a gap
(audio stays aligned with video), a jump backward is absorbed (pts never go back).
Encoder delay is not subtracted: AAC packet n is stamped anchor + n * 1024 although the
encoder primes with 1024 samples (21-64 ms late for a player that ignores priming), opus
packet n anchor + n * 960 although libopus looks ahead 312 samples (6.5 ms), as a WebRTC
sender does (RFC 7587 has no pre-skip).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import av
import av.error
import numpy as np

from transcoders import g711
from transcoders.aac import AAC_FRAME_SAMPLES, AacFrame

OPUS_RATE = 48_000  # RFC 7587 4.1: the opus RTP clock
OPUS_FRAME_SAMPLES = 960  # 20 ms: the packet length browsers send and expect by default
# G.711 carries 300-3400 Hz (ITU-T G.712), so 16 kHz AAC holds all of it (8 kHz Nyquist), is
# an exact 2:1 resample of 8 kHz, and encodes at well under half the CPU of 48 kHz (measured
# with PyAV's aac: 6 against 15 ms per second of audio). It is in the AAC rate table (ISO/IEC
# 14496-3 Table 1.18) that MSE decoders take: ffmpeg decodes it in
# tests/transcoders/test_camera_audio.py, and Chromium 156's MSE played it to the end in a
# one-off check (so did it 8 kHz; Safari and Firefox not checked here). 8 kHz would also be
# legal, but it is rarely met in practice and an AAC frame would last 128 ms.
G711_AAC_RATE = 16_000
G711_RATES = (8000, 16000)  # RFC 3551 4.5.14: PCMA/PCMU at 8 kHz; some cameras offer 16 kHz too
AAC_LC = 2  # audioObjectType (ISO/IEC 14496-3 Table 1.17)
# ISO/IEC 14496-3 Table 1.18: samplingFrequencyIndex 0-12.
AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)
# ISO/IEC 14496-3 Table 1.19: channelConfiguration to channel count (0: a PCE decides).
_AAC_CHANNELS = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 8}
# RFC 6716 2: opus audio bandwidths (NB, MB, WB, SWB, FB) as libopus `cutoff` values.
_OPUS_CUTOFFS = (4000, 6000, 8000, 12000, 20000)


class UnsupportedAudio(ValueError):
    """The camera's audio cannot be transcoded (unknown codec, > 2 channels, bad config)."""


class AudioTranscodeError(ValueError):
    """An encoder or resampler failed mid-stream; the transcoder cannot go on."""


@dataclass(frozen=True, slots=True)
class OpusPacket:
    """One opus packet for WebRTC."""

    data: bytes
    pts: int  # 48 kHz clock (RFC 7587 4.1), continuous and monotonic
    samples: int  # 48 kHz samples it covers (960 for 20 ms)


_OPUS_INPUT_RATES = (8000, 12000, 16000, 24000, 48000)


class _Clock:
    """Output pts in 1/rate: a piecewise map from output sample index to pts.

    Each piece starts at an anchor (index, pts) and runs one pts per sample, so stamps
    within a piece are continuous; a new piece starts only at a resync.
    """

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._index: list[int] = []
        self._pts: list[int] = []

    def start(self, pts: int) -> None:
        self._index, self._pts = [0], [max(0, pts)]  # an fMP4 tfdt cannot be negative

    def jump(self, index: int, gap: int) -> None:
        """From output sample `index` on, pts run `gap` (>= 0) samples later than the count."""
        pts = self.pts_at(index) + gap
        if self._index[-1] == index:  # gaps in a row (undecodable units) add up in one piece
            self._pts[-1] = pts
        else:
            self._index.append(index)
            self._pts.append(pts)

    def pts_at(self, index: int) -> int:
        i = bisect.bisect_right(self._index, index) - 1
        return self._pts[i] + index - self._index[i]

    def forget_before(self, index: int) -> None:
        """Pieces ending at or before `index` are never looked up again."""
        while len(self._index) > 1 and self._index[1] <= index:
            del self._index[0], self._pts[0]


class _Encoder:
    """One PyAV encoder, the resampler into it, and the clock its packets are stamped on."""

    def __init__(self, context: av.AudioCodecContext, frame_samples: int, clock: _Clock) -> None:
        self.clock = clock
        self._context = context
        self._frame_samples = frame_samples
        self._packets_out = 0
        self._resampler: av.AudioResampler | None = None
        self._input_shape: tuple[str, str, int] | None = None

    @property
    def extradata(self) -> bytes:
        return bytes(self._context.extradata or b"")

    def encode(self, frame: av.AudioFrame | None) -> list[tuple[bytes, int]]:
        """(packet, pts) for what the encoder hands back; None flushes (the encoder ends)."""
        try:
            if frame is None:
                packets = self._drain() + self._context.encode(None)
            else:
                packets = self._resample_and_encode(frame)
        except (av.error.FFmpegError, ValueError) as exc:
            raise AudioTranscodeError(f"{self._context.name} encoding failed: {exc}") from None
        out = []
        for packet in packets:
            out.append((bytes(packet), self.clock.pts_at(self._packets_out * self._frame_samples)))
            self._packets_out += 1
        self.clock.forget_before(self._packets_out * self._frame_samples)
        return out

    def _resample_and_encode(self, frame: av.AudioFrame) -> list[av.Packet]:
        packets = []
        shape = (frame.format.name, frame.layout.name, frame.sample_rate)
        if shape != self._input_shape:
            # An AudioResampler takes one input shape; a decoder may change its output
            # mid-stream (implicit SBR), so finish the old resampler and start anew.
            packets += self._drain()
            context = self._context
            self._resampler = av.AudioResampler(format=context.format, layout=context.layout, rate=context.sample_rate)
            self._input_shape = shape
        frame.pts = None  # the clock places samples; the resampler must not pad or trim by pts
        assert self._resampler is not None
        for resampled in self._resampler.resample(frame):
            # PyAV cuts what it is given into the encoder's frame_size (1024 AAC, 960 opus).
            packets += self._context.encode(resampled)
        return packets

    def _drain(self) -> list[av.Packet]:
        if self._resampler is None:
            return []
        packets = []
        for resampled in self._resampler.resample(None):
            packets += self._context.encode(resampled)
        self._resampler = None
        self._input_shape = None
        return packets


class CameraAudioTranscoder:
    """AAC or G.711 camera audio -> AAC-LC for the hubs and opus for WebRTC, once per camera."""

    def __init__(
        self,
        codec: str,
        sample_rate: int,
        channels: int,
        config: bytes = b"",
        resync_threshold_ms: float = 100.0,
    ) -> None:
        codec = codec.lower()
        if codec not in ("aac", "pcma", "pcmu"):
            raise UnsupportedAudio(f"audio codec {codec!r} is not transcoded: only aac, pcma and pcmu")
        if channels not in (1, 2):
            raise UnsupportedAudio(f"{channels} audio channels: only mono and stereo are transcoded")
        if codec == "aac":
            _check_aac_config(config, sample_rate, channels)
        elif sample_rate not in G711_RATES:
            raise UnsupportedAudio(f"G.711 at {sample_rate} Hz: only 8000 and 16000 Hz are transcoded")
        self.codec = codec
        self.aac_passthrough = codec == "aac"
        self.channels = channels
        self.decode_errors = 0  # AAC access units the opus side could not decode (left as gaps)
        self.resyncs = 0
        self._input_rate = sample_rate
        self._layout = "mono" if channels == 1 else "stereo"
        self._threshold = round(resync_threshold_ms * sample_rate / 1000)
        self._next_in: int | None = None  # where the next packet should start, input samples
        self._fed = 0  # input samples placed on the clocks since construction
        self._decoded = 0  # input samples handed to the encoders (AAC: decoded ones only)
        self._opus = _Encoder(self._open_opus(), OPUS_FRAME_SAMPLES, _Clock(OPUS_RATE))
        self._decode: Callable[[bytes], av.AudioFrame | None]
        if self.aac_passthrough:
            self.sample_rate = sample_rate
            self.audio_specific_config = bytes(config)
            self._aac_clock = _Clock(sample_rate)
            self._aac: _Encoder | None = None
            self._aac_decoder = _open("aac", "r", lambda c: setattr(c, "extradata", bytes(config)))
            self._decode = self._decode_aac
        else:
            self.sample_rate = G711_AAC_RATE
            self._aac = _Encoder(self._open_aac(), AAC_FRAME_SAMPLES, _Clock(G711_AAC_RATE))
            self._aac_clock = self._aac.clock
            self.audio_specific_config = self._aac.extradata
            # Both G.191's expansion, which is also what FFmpeg's pcm_mulaw / pcm_alaw decode.
            self._expand = g711.decode if codec == "pcmu" else g711.decode_alaw
            self._decode = self._decode_g711

    def feed(self, data: bytes, pts_ms: float) -> tuple[list[AacFrame], list[OpusPacket]]:
        """One input packet (an AAC access unit, or G.711 bytes) at its millisecond pts."""
        samples = AAC_FRAME_SAMPLES if self.aac_passthrough else len(data) // self.channels
        if not data or not samples:
            return [], []
        self._place(pts_ms, samples)
        if self.aac_passthrough:
            aac = [AacFrame(bytes(data), self._aac_clock.pts_at(self._fed))]
            self._fed += samples
            self._aac_clock.forget_before(self._fed)
        else:
            self._fed += samples
            aac = []
        frame = self._decode(data)
        if frame is None:  # an undecodable AAC unit: the opus side keeps its place with a gap
            self._opus.clock.jump(self._output_index(self._opus.clock), round(samples * OPUS_RATE / self._input_rate))
            return aac, []
        self._decoded += frame.samples * self._input_rate // frame.sample_rate
        if self._aac is not None:
            aac = [AacFrame(packet, pts) for packet, pts in self._aac.encode(frame)]
        opus = [OpusPacket(packet, pts, OPUS_FRAME_SAMPLES) for packet, pts in self._opus.encode(frame)]
        return aac, opus

    def flush(self) -> tuple[list[AacFrame], list[OpusPacket]]:
        """What the resamplers and encoders still hold; the instance is finished after this."""
        aac = [AacFrame(packet, pts) for packet, pts in self._aac.encode(None)] if self._aac is not None else []
        return aac, [OpusPacket(packet, pts, OPUS_FRAME_SAMPLES) for packet, pts in self._opus.encode(None)]

    def _place(self, pts_ms: float, samples: int) -> None:
        """Anchor the first packet; re-anchor every output when one jumps past the threshold."""
        clocks = (self._aac_clock, self._opus.clock)
        start = round(pts_ms * self._input_rate / 1000)
        if self._next_in is None:
            for clock in clocks:
                clock.start(round(pts_ms * clock.rate / 1000))
        elif abs(jump := start - self._next_in) > self._threshold:
            self.resyncs += 1
            gap = max(0, jump)
            for clock in clocks:
                clock.jump(self._output_index(clock), round(gap * clock.rate / self._input_rate))
        self._next_in = start + samples

    def _output_index(self, clock: _Clock) -> int:
        """Where the next input sample lands in an output's sample count."""
        if clock is self._aac_clock and self.aac_passthrough:
            return self._fed
        # Resamplers and encoders lag by their delay; the ideal position is what the
        # output count converges to, so the gap lands where the input put it.
        return round(self._decoded * clock.rate / self._input_rate)

    def _decode_g711(self, data: bytes) -> av.AudioFrame:
        codes = np.frombuffer(data, dtype=np.uint8, count=len(data) - len(data) % self.channels)
        frame = av.AudioFrame.from_ndarray(self._expand(codes)[None, :], format="s16", layout=self._layout)
        frame.sample_rate = self._input_rate
        return frame

    def _decode_aac(self, data: bytes) -> av.AudioFrame | None:
        try:
            frames = self._aac_decoder.decode(av.Packet(data))
        except (av.error.FFmpegError, ValueError):
            frames = []
        if len(frames) != 1:  # FFmpeg's AAC decoder gives one frame per access unit
            self.decode_errors += 1
            return None
        return frames[0]

    def _open_opus(self) -> av.AudioCodecContext:
        # A camera microphone hears a scene, not only a talker: "audio" keeps it as heard,
        # "voip" would high-pass and tune for speech. G.711 is telephone speech already:
        # there "voip" spends the bits on intelligibility.
        application = "audio" if self.aac_passthrough else "voip"
        bit_rate = 32_000 * self.channels
        # No wider than the source's Nyquist: the bits go to the band that exists, none to
        # resampler noise above it.
        cutoff = max(c for c in _OPUS_CUTOFFS if c <= max(self._input_rate // 2, _OPUS_CUTOFFS[0]))
        options = {"application": application, "frame_duration": "20", "cutoff": str(cutoff)}

        # libopus codes 8, 12, 16, 24 and 48 kHz input alike (RFC 6716 2); its RTP clock is
        # 48 kHz whatever the input (RFC 7587 4.1), which is what the packets are stamped on.
        # G.711 goes in at its own rate: no resampling up to 48 kHz that carries no more
        # sound and costs the most of this transcode.
        rate = self._input_rate if not self.aac_passthrough and self._input_rate in _OPUS_INPUT_RATES else OPUS_RATE

        def configure(context: av.AudioCodecContext) -> None:
            context.sample_rate, context.layout, context.format = rate, self._layout, "flt"
            context.bit_rate, context.options = bit_rate, options

        return _open("libopus", "w", configure)

    def _open_aac(self) -> av.AudioCodecContext:
        def configure(context: av.AudioCodecContext) -> None:
            context.sample_rate, context.layout, context.format = G711_AAC_RATE, self._layout, "fltp"
            # About 2 bits a sample: transparent for telephone-band input at 16 kHz.
            context.bit_rate = 32_000 * self.channels

        return _open("aac", "w", configure)


def _open(
    name: str, mode: Literal["r", "w"], configure: Callable[[av.AudioCodecContext], None]
) -> av.AudioCodecContext:
    try:
        context = av.CodecContext.create(name, mode)
        assert isinstance(context, av.AudioCodecContext)  # the names here are audio codecs
        configure(context)
        context.open()
    except (av.error.FFmpegError, ValueError) as exc:
        role = "encoder" if mode == "w" else "decoder"
        raise UnsupportedAudio(f"FFmpeg {name} {role} did not open: {exc}") from None
    return context


def _check_aac_config(config: bytes, sample_rate: int, channels: int) -> None:
    """The config must be AAC-LC and agree with the stream's rate and channels."""
    if not config:
        raise UnsupportedAudio("AAC without its AudioSpecificConfig (SDP config= or extradata)")
    object_type, asc_rate, channel_config = parse_audio_specific_config(config)
    if object_type != AAC_LC:
        raise UnsupportedAudio(f"AAC object type {object_type}: only AAC-LC ({AAC_LC}) is passed through")
    if channel_config not in _AAC_CHANNELS:
        raise UnsupportedAudio(f"AAC channel configuration {channel_config}: only 1 (mono) and 2 (stereo)")
    asc_channels = _AAC_CHANNELS[channel_config]
    if asc_channels > 2:
        raise UnsupportedAudio(f"{asc_channels} audio channels: only mono and stereo are transcoded")
    if (asc_rate, asc_channels) != (sample_rate, channels):
        raise UnsupportedAudio(
            f"AudioSpecificConfig says {asc_rate} Hz, {asc_channels} channels; the stream {sample_rate} Hz, {channels}"
        )


def parse_audio_specific_config(config: bytes) -> tuple[int, int, int]:
    """(audioObjectType, sampling rate, channelConfiguration): ISO/IEC 14496-3 1.6.2.1."""
    bits = int.from_bytes(config, "big")
    left = len(config) * 8

    def read(count: int) -> int:
        nonlocal left
        if left < count:
            raise UnsupportedAudio(f"AudioSpecificConfig {config.hex()} ends early")
        left -= count
        return (bits >> left) & ((1 << count) - 1)

    object_type = read(5)
    if object_type == 31:  # escape: 32 + 6 more bits
        object_type = 32 + read(6)
    index = read(4)
    if index == 15:  # escape: the rate itself, 24 bits
        rate = read(24)
    elif index < len(AAC_RATES):
        rate = AAC_RATES[index]
    else:
        raise UnsupportedAudio(f"AudioSpecificConfig {config.hex()} has reserved samplingFrequencyIndex {index}")
    return object_type, rate, read(4)
