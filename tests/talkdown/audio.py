"""Test audio: tones written as real WAV / Ogg-opus / MP3 files (PyAV's FFmpeg encoders),
and the measures the talkdown tests judge received PCMU by."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import av
import numpy as np

from transcoders import g711


def tone(seconds: float, rate: int, freq: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t) * 32767).astype(np.int16)


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    path.write_bytes(wav_bytes(samples, rate))
    return path


def encoded_bytes(samples: np.ndarray, rate: int, container: str, codec: str) -> bytes:
    """Mono s16 samples encoded by FFmpeg (e.g. "ogg"/"libopus", "mp3"/"libmp3lame")."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=rate)
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="s16", layout="mono")
        frame.sample_rate, frame.pts = rate, 0
        for piece in resampler.resample(frame):
            out.mux(stream.encode(piece))
        out.mux(stream.encode(None))
    return buffer.getvalue()


def dominant_hz(pcmu: bytes, rate: int = 8000) -> float:
    samples = g711.decode(pcmu).astype(float)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def seconds_of(pcmu: bytes) -> float:
    return len(pcmu) / 8000


def opus_packets(samples: np.ndarray, rate: int = 48000, fec: bool = True) -> list[bytes]:
    """Mono s16 samples as 20 ms opus packets (PyAV's libopus, as a browser sends: voip,
    in-band FEC on), the RTP payloads of a microphone track."""
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format, encoder.bit_rate = rate, "mono", "s16", 32000
    encoder.options = {"application": "voip", "frame_duration": "20", "fec": "1" if fec else "0", "packet_loss": "20"}
    frame_samples = rate // 50
    packets = []
    for start in range(0, len(samples) - frame_samples + 1, frame_samples):
        frame = av.AudioFrame.from_ndarray(samples[None, start : start + frame_samples], format="s16", layout="mono")
        frame.sample_rate, frame.pts = rate, start
        packets += encoder.encode(frame)
    packets += encoder.encode(None)
    return [bytes(packet) for packet in packets]
