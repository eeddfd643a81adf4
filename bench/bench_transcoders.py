"""CPU cost of the audio transcoders, per second of audio, as a share of one core.

Run: .venv/bin/python bench/bench_transcoders.py [--seconds 20]

- WebmReader + OpusToAac: once per camera (camera opus to AAC for HLS/RTMP).
- PcmuEncoder: once per talker (browser mic, aiortc's 48 kHz stereo s16, 20 ms frames).
  Target: under 2 % of a core.
- g711.encode (numpy tables) against FFmpeg's pcm_mulaw encoder through PyAV, on the same
  samples in the same run, per 20 ms packet (how the talkdown path calls it) and in bulk.
"""

from __future__ import annotations

import argparse
import io
import time
from functools import partial

import av
import numpy as np

from gateway.media.webm import AudioFrame, WebmReader
from transcoders import g711
from transcoders.aac import OpusToAac
from transcoders.pcmu import PcmuEncoder

RATE = 48_000


def sine(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)


def camera_webm(seconds: float) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="webm", options={"live": "1"}) as out:
        stream = out.add_stream("libopus", rate=RATE, layout="mono")
        signal = sine(seconds, RATE)
        for start in range(0, len(signal), 960):
            frame = av.AudioFrame.from_ndarray(signal[None, start : start + 960], format="s16", layout="mono")
            frame.sample_rate, frame.pts = RATE, start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


def mic_frames(seconds: float) -> list[av.AudioFrame]:
    signal = sine(seconds, RATE)
    frames = []
    for start in range(0, len(signal), 960):
        frame = av.AudioFrame.from_ndarray(
            np.repeat(signal[start : start + 960], 2)[None, :], format="s16", layout="stereo"
        )
        frame.sample_rate, frame.pts = RATE, start
        frames.append(frame)
    return frames


def cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def pyav_mulaw(chunks: list[np.ndarray]) -> None:
    encoder = av.CodecContext.create("pcm_mulaw", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 8000, "mono", "s16"
    encoder.open()
    for chunk in chunks:
        frame = av.AudioFrame.from_ndarray(chunk[None, :], format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in encoder.encode(frame):
            bytes(packet)


def numpy_mulaw(chunks: list[np.ndarray]) -> None:
    for chunk in chunks:
        g711.encode(chunk).tobytes()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    seconds = parser.parse_args().seconds

    webm = camera_webm(seconds)
    events: list = []
    reader = WebmReader()
    reader_cpu = cpu(lambda: [events.extend(reader.feed(webm[i : i + 4096])) for i in range(0, len(webm), 4096)])
    track, packets = events[0], [e for e in events if isinstance(e, AudioFrame)]

    def aac() -> None:
        transcoder = OpusToAac(track.codec_private, track.channels)
        for packet in packets:
            transcoder.feed(packet)
        transcoder.flush()

    aac_cpu = cpu(aac)
    frames = mic_frames(seconds)

    def pcmu() -> None:
        encoder = PcmuEncoder()
        for frame in frames:
            encoder.encode(frame)
        encoder.flush()

    pcmu_cpu = cpu(pcmu)

    samples = sine(seconds, 8000)
    packets_20ms = [samples[i : i + 160] for i in range(0, len(samples), 160)]
    rows = [
        ("WebmReader (4 KiB chunks)", reader_cpu),
        ("OpusToAac (mono, 64 kb/s)", aac_cpu),
        ("PcmuEncoder (48k stereo s16, 20 ms frames)", pcmu_cpu),
    ]
    print(f"{seconds:.0f} s of audio on {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"{'stage':<48}{'CPU s':>8}{'% of a core':>14}")
    for name, spent in rows:
        print(f"{name:<48}{spent:>8.3f}{100 * spent / seconds:>13.2f}%")
    print(f"PCMU target: under 2 % of a core per talker: {'met' if pcmu_cpu / seconds < 0.02 else 'NOT met'}")

    print()
    print(f"{'mu-law encode of the same samples':<48}{'numpy s':>10}{'PyAV s':>10}{'PyAV/numpy':>12}")
    for name, chunks in (("per 20 ms packet (160 samples)", packets_20ms), ("one block", [samples])):
        ours = min(cpu(partial(numpy_mulaw, chunks)) for _ in range(3))
        theirs = min(cpu(partial(pyav_mulaw, chunks)) for _ in range(3))
        print(f"{name:<48}{ours:>10.4f}{theirs:>10.4f}{theirs / max(ours, 1e-9):>11.1f}x")


if __name__ == "__main__":
    main()
