"""CameraAudioTranscoder: a camera's G.711 (PyAV's pcm_alaw / pcm_mulaw, 20 ms packets) or
AAC (PyAV's aac encoder, raw access units) in; AAC and opus out, muxed by PyAV and decoded
by ffmpeg back to the 440 Hz tone, of the input's length, on continuous timestamps."""

from __future__ import annotations

import struct
import subprocess
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import av
import numpy as np
import pytest

from tests.conftest import require
from tests.talkdown.audio import tone
from transcoders import g711
from transcoders.aac import AacFrame
from transcoders.camera_audio import (
    OPUS_RATE,
    CameraAudioTranscoder,
    OpusPacket,
    UnsupportedAudio,
)

SECONDS = 1.0
G711_PACKET_MS = 20
G711_ENCODERS = {"pcma": "pcm_alaw", "pcmu": "pcm_mulaw"}
# (codec, input rate, channels): what Amcrest/Dahua cameras send over RTSP (G.711 at 8 kHz, AAC
# mono), and stereo AAC.
INPUTS = [("pcma", 8000, 1), ("pcmu", 8000, 1), ("aac", 16000, 1), ("aac", 48000, 1), ("aac", 48000, 2)]


def g711_packets(codec: str, seconds: float = SECONDS) -> list[tuple[bytes, float]]:
    """A 440 Hz tone as 20 ms G.711 packets from FFmpeg's encoder, with their pts (ms)."""
    encoder = av.CodecContext.create(G711_ENCODERS[codec], "w")
    encoder.sample_rate, encoder.layout, encoder.format = 8000, "mono", "s16"
    samples = tone(seconds, 8000)
    packets = []
    for start in range(0, len(samples), 160):
        frame = av.AudioFrame.from_ndarray(samples[None, start : start + 160], format="s16", layout="mono")
        frame.sample_rate = 8000
        packets += [bytes(packet) for packet in encoder.encode(frame)]
    return [(packet, index * G711_PACKET_MS) for index, packet in enumerate(packets)]


def aac_units(rate: int, channels: int = 1, seconds: float = SECONDS) -> tuple[bytes, list[tuple[bytes, float]]]:
    """A 440 Hz tone as raw AAC-LC access units from FFmpeg's encoder, with their pts (ms),
    and the encoder's extradata (the AudioSpecificConfig an SDP would carry)."""
    layout = "mono" if channels == 1 else "stereo"
    encoder = av.CodecContext.create("aac", "w")
    encoder.sample_rate, encoder.layout, encoder.format, encoder.bit_rate = rate, layout, "fltp", 64_000 * channels
    encoder.open()
    signal = np.repeat((tone(seconds, rate) / 32768).astype(np.float32)[None, :], channels, axis=0)
    units = []
    for start in range(0, signal.shape[1], 1024):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(signal[:, start : start + 1024]), format="fltp", layout=layout
        )
        frame.sample_rate = rate
        units += [bytes(packet) for packet in encoder.encode(frame)]
    units += [bytes(packet) for packet in encoder.encode(None)]
    return bytes(encoder.extradata), [(unit, index * 1024 * 1000 / rate) for index, unit in enumerate(units)]


def camera_input(codec: str, rate: int, channels: int) -> tuple[CameraAudioTranscoder, list[tuple[bytes, float]]]:
    if codec == "aac":
        config, units = aac_units(rate, channels)
        return CameraAudioTranscoder("aac", rate, channels, config), units
    return CameraAudioTranscoder(codec, rate, channels), g711_packets(codec)


def sent_seconds(packets: list[tuple[bytes, float]]) -> float:
    """Up to the end of the last packet (all packets have the same length)."""
    return (2 * packets[-1][1] - packets[-2][1]) / 1000


def transcode(transcoder: CameraAudioTranscoder, packets) -> tuple[list[AacFrame], list[OpusPacket]]:
    aac: list[AacFrame] = []
    opus: list[OpusPacket] = []
    for data, pts_ms in packets:
        more_aac, more_opus = transcoder.feed(data, pts_ms)
        aac += more_aac
        opus += more_opus
    more_aac, more_opus = transcoder.flush()
    return aac + more_aac, opus + more_opus


def mux(path: Path, container: str, codec: str, rate: int, channels: int, extradata: bytes, packets) -> Path:
    """(data, pts, duration) packets into a file by PyAV's muxer, pts from the first."""
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono" if channels == 1 else "stereo")
        stream.codec_context.extradata = extradata
        first = packets[0][1]
        for data, pts, duration in packets:
            packet = av.Packet(data)
            packet.pts = packet.dts = pts - first
            packet.duration, packet.time_base, packet.stream = duration, Fraction(1, rate), stream
            out.mux(packet)
    return path


def ffmpeg_decode(path: Path, rate: int, channels: int) -> np.ndarray:
    """The file as ffmpeg decodes it (channels x samples, float); ffmpeg must not complain."""
    require("ffmpeg")
    result = subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(path),
            "-f",
            "f32le",
            "-ar",
            str(rate),
            "-ac",
            str(channels),
            "-",
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and result.stderr == b"", result.stderr.decode()
    return np.frombuffer(result.stdout, dtype=np.float32).reshape(-1, channels).T


def peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def tone_seconds(samples: np.ndarray, rate: int) -> float:
    """From the first to the last sample at half the tone's amplitude (0.5): priming, lookahead
    and padding, silent, do not count."""
    loud = np.flatnonzero(np.abs(samples) > 0.25)
    return (loud[-1] - loud[0]) / rate


def opus_head(channels: int) -> bytes:
    """RFC 7845 5.1: version 1, channels, pre-skip 312 (libopus's lookahead), 48 kHz, gain 0, family 0."""
    return b"OpusHead" + bytes([1, channels]) + struct.pack("<HIhB", 312, OPUS_RATE, 0, 0)


def assert_is_the_tone(decoded: np.ndarray, rate: int, channels: int) -> None:
    assert decoded.shape[0] == channels
    for channel in decoded:
        assert abs(tone_seconds(channel, rate) - SECONDS) <= 0.05
        steady = channel[rate // 10 : -rate // 10]
        assert abs(peak_hz(steady, rate) - 440) <= 5
        assert 0.25 < np.sqrt(np.mean(steady**2)) < 0.45  # the 0.5-amplitude sine (RMS 0.35), not noise


@pytest.mark.peer
@pytest.mark.parametrize("codec,rate,channels", INPUTS)
def test_aac_output_decodes_in_ffmpeg_to_the_tone_of_the_input_length(tmp_path, codec, rate, channels):
    transcoder, packets = camera_input(codec, rate, channels)
    aac, _ = transcode(transcoder, packets)
    assert (transcoder.sample_rate, transcoder.channels) == ((rate if codec == "aac" else 16000), channels)
    path = mux(
        tmp_path / "out.aac",
        "adts",
        "aac",
        transcoder.sample_rate,
        channels,
        transcoder.audio_specific_config,
        [(f.data, f.pts, f.duration) for f in aac],
    )
    decoded = ffmpeg_decode(path, transcoder.sample_rate, channels)
    assert_is_the_tone(decoded, transcoder.sample_rate, channels)
    # Nothing beyond what was sent (for AAC in: with its own priming), the encoder's priming
    # and the last frame's padding.
    assert decoded.shape[1] <= sent_seconds(packets) * transcoder.sample_rate + 2 * 1024


@pytest.mark.peer
@pytest.mark.parametrize("codec,rate,channels", INPUTS)
def test_opus_output_decodes_in_ffmpeg_to_the_tone_of_the_input_length(tmp_path, codec, rate, channels):
    transcoder, packets = camera_input(codec, rate, channels)
    _, opus = transcode(transcoder, packets)
    assert {packet.samples for packet in opus} == {960}
    path = mux(
        tmp_path / "out.ogg",
        "ogg",
        "libopus",
        OPUS_RATE,
        channels,
        opus_head(channels),
        [(p.data, p.pts, p.samples) for p in opus],
    )
    decoded = ffmpeg_decode(path, OPUS_RATE, channels)
    assert_is_the_tone(decoded, OPUS_RATE, channels)
    assert decoded.shape[1] <= sent_seconds(packets) * OPUS_RATE + 2 * 960


@pytest.mark.parametrize("rate", [16000, 48000])
def test_aac_passes_through_untouched_on_its_sample_clock(rate):
    config, units = aac_units(rate)
    transcoder = CameraAudioTranscoder("aac", rate, 1, config)
    assert transcoder.aac_passthrough
    assert transcoder.audio_specific_config == config
    start_ms = 5000.0
    aac, _ = transcode(transcoder, [(unit, pts_ms + start_ms) for unit, pts_ms in units])
    assert [frame.data for frame in aac] == [unit for unit, _ in units]
    assert [frame.pts for frame in aac] == [round(start_ms * rate / 1000) + i * 1024 for i in range(len(units))]
    assert {frame.duration for frame in aac} == {1024}


@pytest.mark.parametrize("codec,rate,channels", INPUTS[:3])
def test_jittered_millisecond_pts_give_continuous_output_pts(codec, rate, channels):
    transcoder, packets = camera_input(codec, rate, channels)
    jitter = np.random.default_rng(7).integers(-3, 4, len(packets))
    aac, opus = transcode(transcoder, [(data, round(pts_ms) + int(j)) for (data, pts_ms), j in zip(packets, jitter)])
    assert transcoder.resyncs == 0
    assert_continuous(aac, opus)
    assert aac[0].pts == round((packets[0][1] + jitter[0]) * transcoder.sample_rate / 1000)
    assert opus[0].pts == round((packets[0][1] + jitter[0]) * 48)


def assert_continuous(aac: list[AacFrame], opus: list[OpusPacket]) -> None:
    assert all(b.pts == a.pts + a.duration for a, b in pairwise(aac))
    assert all(b.pts == a.pts + a.samples for a, b in pairwise(opus))


def steps(stamps: list[int]) -> np.ndarray:
    return np.diff(np.array(stamps))


@pytest.mark.parametrize("codec,rate,channels", INPUTS[:3])
def test_a_forward_gap_is_kept_and_a_backward_jump_absorbed(codec, rate, channels):
    transcoder, packets = camera_input(codec, rate, channels)
    end_ms = sent_seconds(packets) * 1000
    # the input as sent; the same packets 1 s after it ends (an upstream gap); then a
    # reconnect whose timeline restarts at 0.
    stream = packets + [(data, pts_ms + end_ms + 1000) for data, pts_ms in packets] + packets
    aac, opus = transcode(transcoder, stream)
    assert transcoder.resyncs == 2
    aac_steps = steps([f.pts for f in aac])
    opus_steps = steps([p.pts for p in opus])
    assert np.all(aac_steps >= 1024) and np.all(opus_steps >= 960)  # monotonic, never overlapping
    # Only the forward jump shows, as exactly the second missing from the input.
    assert sorted(set(aac_steps)) == [1024, 1024 + transcoder.sample_rate]
    assert list(aac_steps).count(1024 + transcoder.sample_rate) == 1
    assert sorted(set(opus_steps)) == [960, 960 + OPUS_RATE]
    assert list(opus_steps).count(960 + OPUS_RATE) == 1
    # Both outputs put the gap at the same input time, to within a frame and the codec delays.
    aac_gap_at = aac[int(np.argmax(aac_steps)) + 1].pts / transcoder.sample_rate
    opus_gap_at = opus[int(np.argmax(opus_steps)) + 1].pts / OPUS_RATE
    assert abs(aac_gap_at - opus_gap_at) <= 0.1
    assert 0 <= aac_gap_at - (end_ms / 1000 + 1.0) <= 0.15


def test_undecodable_aac_units_are_passed_on_and_leave_an_opus_gap_of_their_length():
    config, units = aac_units(16000)
    broken = units[:8] + [(b"\xff\x00\x12garbage", pts_ms) for _, pts_ms in units[8:10]] + units[10:]
    transcoder = CameraAudioTranscoder("aac", 16000, 1, config)
    aac, opus = transcode(transcoder, broken)
    assert transcoder.decode_errors == 2 and transcoder.resyncs == 0
    assert [frame.data for frame in aac] == [unit for unit, _ in broken]
    assert_continuous(aac, [])
    opus_steps = steps([p.pts for p in opus])
    assert sorted(set(opus_steps)) == [960, 960 + 2 * 1024 * 3]  # 64 ms at 16 kHz is 3072 at 48 kHz
    clean = transcode(CameraAudioTranscoder("aac", 16000, 1, config), units)[1]
    assert abs(opus[-1].pts - clean[-1].pts) <= 960


def test_alaw_decode_is_ffmpeg_pcm_alaw_and_mulaw_is_pcm_mulaw():
    codes = bytes(range(256))
    for name, ours in (("pcm_alaw", g711.decode_alaw), ("pcm_mulaw", g711.decode)):
        decoder = av.CodecContext.create(name, "r")
        decoder.sample_rate, decoder.layout = 8000, "mono"
        (frame,) = decoder.decode(av.Packet(codes))
        assert np.array_equal(frame.to_ndarray().reshape(-1), ours(np.frombuffer(codes, dtype=np.uint8)))


def asc(object_type: int, rate_index: int, channel_config: int) -> bytes:
    return ((object_type << 11) | (rate_index << 7) | (channel_config << 3)).to_bytes(2, "big")


@pytest.mark.parametrize(
    "args,message",
    [
        (("opus", 48000, 2), "audio codec 'opus' is not transcoded: only aac, pcma and pcmu"),
        (("pcma", 8000, 6), "6 audio channels: only mono and stereo are transcoded"),
        (("aac", 48000, 6, asc(2, 3, 6)), "6 audio channels: only mono and stereo are transcoded"),
        (("pcmu", 44100, 1), "G.711 at 44100 Hz: only 8000 and 16000 Hz are transcoded"),
        (("aac", 16000, 1), "AAC without its AudioSpecificConfig (SDP config= or extradata)"),
        (("aac", 16000, 1, b"\x14"), "AudioSpecificConfig 14 ends early"),
        (("aac", 16000, 1, asc(5, 8, 1)), "AAC object type 5: only AAC-LC (2) is passed through"),
        (("aac", 16000, 1, asc(2, 13, 1)), "AudioSpecificConfig 1688 has reserved samplingFrequencyIndex 13"),
        (("aac", 16000, 1, asc(2, 3, 1)), "AudioSpecificConfig says 48000 Hz, 1 channels; the stream 16000 Hz, 1"),
    ],
)
def test_what_it_cannot_transcode_is_refused_in_one_line(args, message):
    with pytest.raises(UnsupportedAudio) as refused:
        CameraAudioTranscoder(*args)
    assert str(refused.value) == message
