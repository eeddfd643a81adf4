"""PcmuEncoder and decode_audio_file: 440 Hz in, 440 Hz at 8 kHz mu-law out, checked by FFmpeg."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

from transcoders import g711
from transcoders.pcmu import CHUNK_SAMPLES, PcmuEncoder, UnsupportedAudio, decode_audio_file


def sine(seconds: float, rate: int, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t) * 32767).astype(np.int16)


def frames(seconds: float, rate: int, layout: str, fmt: str = "s16", samples: int = 960):
    """av.AudioFrames as aiortc hands them over (packed s16, 20 ms at 48 kHz)."""
    channels = 1 if layout == "mono" else 2
    signal = sine(seconds, rate)
    for start in range(0, len(signal), samples):
        block = np.repeat(signal[start : start + samples], channels)[None, :]
        frame = av.AudioFrame.from_ndarray(block, format="s16", layout=layout)
        frame.sample_rate, frame.pts = rate, start
        if fmt != "s16":
            frame = av.AudioResampler(format=fmt, layout=layout, rate=rate).resample(frame)[0]
        yield frame


def peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def ffmpeg_decode_pcmu(codes: bytes) -> np.ndarray:
    decoder = av.CodecContext.create("pcm_mulaw", "r")
    decoder.sample_rate, decoder.layout = 8000, "mono"
    return np.concatenate([f.to_ndarray().ravel() for f in decoder.decode(av.Packet(codes))]).astype(float)


@pytest.mark.parametrize(
    "rate,layout,fmt", [(48000, "stereo", "s16"), (48000, "mono", "s16"), (44100, "stereo", "fltp")]
)
def test_encoder_gives_440_hz_at_8_khz(rate, layout, fmt):
    encoder = PcmuEncoder()
    pcmu = b"".join(encoder.encode(frame) for frame in frames(1.0, rate, layout, fmt)) + encoder.flush()
    assert abs(len(pcmu) - 8000) <= 8  # one second, to the resampler's rounding
    decoded = ffmpeg_decode_pcmu(pcmu)
    assert abs(peak_hz(decoded[400:], 8000) - 440) <= 10
    assert 0.3 * 32767 < np.sqrt(np.mean(decoded[400:-400] ** 2)) < 0.4 * 32767  # 0.5 amplitude / sqrt 2
    assert np.array_equal(g711.decode(pcmu), decoded)


def test_encoder_follows_a_change_of_input_shape():
    encoder = PcmuEncoder()
    mono = b"".join(encoder.encode(f) for f in frames(0.5, 48000, "mono"))
    stereo = b"".join(encoder.encode(f) for f in frames(0.5, 16000, "stereo", samples=320)) + encoder.flush()
    assert abs(len(mono) + len(stereo) - 8000) <= 16
    assert abs(peak_hz(ffmpeg_decode_pcmu(mono + stereo)[400:], 8000) - 440) <= 10


def audio_file(fmt: str, codec: str, rate: int, seconds: float = 1.0) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout="stereo")
        for frame in frames(seconds, rate, "stereo", samples=1152):
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return {
        "wav": audio_file("wav", "pcm_s16le", 44100),
        "ogg": audio_file("ogg", "libopus", 48000),
        "mp3": audio_file("mp3", "libmp3lame", 44100),
    }


@pytest.mark.parametrize("kind", ["wav", "ogg", "mp3"])
def test_file_decodes_to_20_ms_chunks_of_the_tone(files, kind):
    chunks = list(decode_audio_file(files[kind], max_seconds=120))
    assert {len(chunk) for chunk in chunks} == {CHUNK_SAMPLES}
    assert 49 <= len(chunks) <= 51  # 1 s, give or take the codec's padding
    decoded = ffmpeg_decode_pcmu(b"".join(chunks))
    assert abs(peak_hz(decoded[800:-800], 8000) - 440) <= 10


def test_file_longer_than_the_cap_is_cut(files):
    assert len(list(decode_audio_file(files["mp3"], max_seconds=0.4))) == 20


@pytest.mark.parametrize(
    "body,message",
    [
        (b"", "not a recognised audio file"),
        (b"this is not audio at all" * 50, "not a recognised audio file"),
        (bytes(np.random.default_rng(3).integers(0, 256, 4000, dtype=np.uint8)), "not a recognised audio file"),
    ],
)
def test_garbage_is_refused(body, message):
    with pytest.raises(UnsupportedAudio, match=message):
        decode_audio_file(body, max_seconds=120)


def test_other_containers_are_refused():
    buf = io.BytesIO()
    with av.open(buf, "w", format="webm") as out:
        stream = out.add_stream("libopus", rate=48000, layout="mono")
        for frame in frames(0.1, 48000, "mono"):
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with pytest.raises(UnsupportedAudio, match="format 'matroska,webm' not accepted"):
        decode_audio_file(buf.getvalue(), max_seconds=120)


# Truncated or damaged files are refused whole, before any chunk exists, when FFmpeg or
# the declared duration reveals it; a WAV cut short is just a shorter WAV.
@pytest.mark.parametrize(
    "kind,cut,message",
    [
        ("ogg", 0.5, "truncated audio file"),
        ("mp3", 0.5, r"damaged or truncated audio file: 0\.5\d s of the 1\.00 s it declares"),
    ],
)
def test_truncated_file_is_refused(files, kind, cut, message):
    with pytest.raises(UnsupportedAudio, match=message):
        decode_audio_file(files[kind][: int(len(files[kind]) * cut)], max_seconds=120)


@pytest.mark.parametrize("kind", ["ogg", "mp3"])
def test_damaged_middle_is_refused(files, kind):
    damaged = bytearray(files[kind])
    middle = len(damaged) // 2
    damaged[middle : middle + 200] = bytes((b * 7 + 13) & 0xFF for b in damaged[middle : middle + 200])
    with pytest.raises(UnsupportedAudio, match="damaged"):
        decode_audio_file(bytes(damaged), max_seconds=120)


def test_truncated_wav_plays_what_it_holds(files):
    chunks = list(decode_audio_file(files["wav"][: len(files["wav"]) // 2], max_seconds=120))
    assert len(chunks) == 25
