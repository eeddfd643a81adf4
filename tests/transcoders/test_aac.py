"""OpusToAac: camera WebM opus in, AAC-LC out, decoded back by FFmpeg (PyAV and ffprobe)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from dataclasses import dataclass

import av
import numpy as np
import pytest

from gateway.media.webm import AudioFrame, WebmReader
from transcoders.aac import AacFrame, OpusToAac, UnsupportedOpus

RATE = 48_000
ADTS_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350]


def opus_webm(seconds: float, layout: str = "mono", freq: float = 440.0) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="webm", options={"live": "1"}) as out:
        stream = out.add_stream("libopus", rate=RATE, layout=layout)
        channels = 1 if layout == "mono" else 2
        t = np.arange(int(seconds * RATE)) / RATE
        sine = (0.5 * np.sin(2 * np.pi * freq * t) * 32767).astype(np.int16)
        for start in range(0, len(sine), 960):
            block = np.repeat(sine[start : start + 960], channels)[None, :]
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout=layout)
            frame.sample_rate, frame.pts = RATE, start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


def transcode(webm: bytes) -> tuple[OpusToAac, list[AacFrame]]:
    events = WebmReader().feed(webm)
    track, packets = events[0], events[1:]
    transcoder = OpusToAac(track.codec_private, track.channels)
    frames = [aac for packet in packets for aac in transcoder.feed(packet)]
    return transcoder, frames + transcoder.flush()


def parse_asc(asc: bytes) -> tuple[int, int, int]:
    """(audioObjectType, sample rate, channelConfiguration): ISO/IEC 14496-3 1.6.2.1."""
    bits = int.from_bytes(asc[:2], "big")
    return bits >> 11, ADTS_RATES[(bits >> 7) & 0xF], (bits >> 3) & 0xF


def adts(asc: bytes, frames: list[AacFrame]) -> bytes:
    """Raw access units wrapped in ADTS headers (ISO/IEC 13818-7 6.2), for FFmpeg to read."""
    object_type, rate, channels = parse_asc(asc)
    out = bytearray()
    for frame in frames:
        length = len(frame.data) + 7
        header = (0xFFF << 44) | (1 << 40) | ((object_type - 1) << 38) | (ADTS_RATES.index(rate) << 34)
        header |= (channels << 30) | (length << 13) | (0x7FF << 2)
        out += header.to_bytes(7, "big") + frame.data
    return bytes(out)


def decode_adts(data: bytes) -> np.ndarray:
    with av.open(io.BytesIO(data), format="aac") as container:
        return np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)


def peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


@dataclass(frozen=True)
class Packet:
    data: bytes
    pts_ms: float


@pytest.mark.parametrize("layout,channels", [("mono", 1), ("stereo", 2)])
def test_transcoded_aac_is_the_same_tone_and_length(layout, channels):
    transcoder, frames = transcode(opus_webm(2.0, layout))
    asc = transcoder.audio_specific_config
    assert parse_asc(asc) == (2, RATE, channels)  # AAC-LC, 48 kHz
    decoded = decode_adts(adts(asc, frames))
    assert decoded.shape[0] == channels
    # 2 s of input, plus the AAC priming, plus at most the opus end padding (DiscardPadding
    # is not applied on a live stream) and the last AAC frame's padding.
    assert decoded.shape[1] == 1024 * len(frames)
    assert 2 * RATE + transcoder.priming_samples <= decoded.shape[1] <= 2 * RATE + 1024 + 960 + 1024
    steady = decoded[:, 4800:-4800]
    for channel in steady:
        assert abs(peak_hz(channel, RATE) - 440) <= 10
        assert 0.2 < np.sqrt(np.mean(channel**2)) < 0.5  # the 0.5-amplitude sine, not noise


def test_ffprobe_reads_every_frame(tmp_path):
    if shutil.which("ffprobe") is None:
        pytest.fail("missing ffprobe: run ./scripts/test, which installs it")
    transcoder, frames = transcode(opus_webm(1.0))
    path = tmp_path / "out.aac"
    path.write_bytes(adts(transcoder.audio_specific_config, frames))
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-count_frames", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stderr == ""
    stream = json.loads(result.stdout)["streams"][0]
    assert (stream["codec_name"], stream["profile"], stream["sample_rate"]) == ("aac", "LC", "48000")
    assert int(stream["nb_read_frames"]) == len(frames)


def test_pts_count_samples_from_the_first_packet():
    transcoder, frames = transcode(opus_webm(1.0))
    assert frames[0].pts == 0
    assert [f.pts for f in frames] == [i * 1024 for i in range(len(frames))]
    assert all(f.duration == 1024 for f in frames)
    assert transcoder.resyncs == 0


def _packets(seconds: float) -> tuple[bytes, list[AudioFrame]]:
    events = WebmReader().feed(opus_webm(seconds))
    return events[0].codec_private, events[1:]


def test_millisecond_jitter_does_not_move_pts():
    head, packets = _packets(1.0)
    transcoder = OpusToAac(head, 1)
    jittered = [Packet(p.data, p.pts_ms + (1 if i % 3 else -1)) for i, p in enumerate(packets)]
    frames = [f for p in jittered for f in transcoder.feed(p)] + transcoder.flush()
    assert np.all(np.diff([f.pts for f in frames]) == 1024)
    assert transcoder.resyncs == 0


def test_forward_jump_keeps_the_gap_and_backward_jump_is_absorbed():
    head, packets = _packets(1.0)
    transcoder = OpusToAac(head, 1)
    # first second as is; then the same packets 10 s later (an upstream gap); then a
    # reconnect whose timeline restarts at 0.
    stream = packets + [Packet(p.data, p.pts_ms + 11_000) for p in packets] + list(packets)
    frames = [f for p in stream for f in transcoder.feed(p)] + transcoder.flush()
    pts = np.array([f.pts for f in frames])
    steps = np.diff(pts)
    assert np.all(steps >= 1024)  # monotonic, never overlapping
    assert transcoder.resyncs == 2
    gaps = steps[steps != 1024]
    assert len(gaps) == 1  # only the forward jump shows
    assert abs(gaps[0] - 1024 - 10 * RATE) <= 2 * 960  # the 10 s gap, to within a packet
    assert pts[-1] > pts[len(pts) // 2]


def test_corrupt_packet_is_counted_not_raised():
    head, packets = _packets(0.5)
    transcoder = OpusToAac(head, 1)
    stream = [*packets[:5], Packet(b"\xff\xff\xff", packets[5].pts_ms), *packets[6:]]
    frames = [f for p in stream for f in transcoder.feed(p)] + transcoder.flush()
    assert transcoder.decode_errors == 1
    assert len(frames) >= 20


def test_rejects_what_it_cannot_transcode():
    with pytest.raises(UnsupportedOpus, match="not an OpusHead"):
        OpusToAac(b"garbage", 1)
    with pytest.raises(UnsupportedOpus, match="6 opus channels"):
        OpusToAac(b"OpusHead\x01\x06" + bytes(11), 6)
