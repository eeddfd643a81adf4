"""Benchmark the fMP4 reader and writer against references measured in the same run.

    .venv/bin/python bench/bench_fmp4.py [--seconds 10] [--size 1280x720]

Reader: real PyAV/FFmpeg-made fMP4 (one fragment per GOP, and one per frame) fed in 4 KiB
chunks, as upstream chunks arrive; compared with (a) just cutting the same bytes into 4 KiB
chunks and appending them to a bytearray (the floor for any streaming reader in Python)
and (b) FFmpeg's own demuxer through PyAV (C code) on the whole file.
Writer: FragmentWriter.write per frame and per GOP, compared with FFmpeg's mp4 muxer through
PyAV writing the same packets as frag_every_frame fMP4.
Numbers depend on the machine; read the ratios.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.media.fmp4 import Fmp4Reader, Fragment, FragmentWriter, InitSegment, Sample

CHUNK = 4096
FPS, GOP = 15, 15


def encode(width: int, height: int, seconds: int, movflags: str) -> bytes:
    buffer = io.BytesIO()
    rng = np.random.default_rng(1)
    with av.open(buffer, "w", format="mp4", options={"movflags": movflags}) as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = GOP
        stream.options = {"preset": "ultrafast", "sc_threshold": "0", "b": "2M"}
        noise = rng.integers(0, 255, (height, width, 3), np.uint8)
        for index in range(seconds * FPS):
            picture = np.roll(noise, index * 4, axis=1)  # moving detail, a camera-like bitrate
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def best_of(runs: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def read_chunks(data: bytes) -> int:
    reader = Fmp4Reader()
    fragments = 0
    for offset in range(0, len(data), CHUNK):
        for event in reader.feed(data[offset : offset + CHUNK]):
            fragments += isinstance(event, Fragment)
    return fragments


def append_chunks(data: bytes) -> None:
    buffer = bytearray()
    for offset in range(0, len(data), CHUNK):
        buffer += data[offset : offset + CHUNK]


def pyav_demux(data: bytes) -> None:
    with av.open(io.BytesIO(data), "r", format="mp4") as container:
        for packet in container.demux():
            bytes(packet)


def pyav_mux(packets: list[tuple[int, int, bool, bytes]], template: av.video.stream.VideoStream) -> None:
    with av.open(
        io.BytesIO(),
        "w",
        format="mp4",
        options={"movflags": "frag_keyframe+empty_moov+default_base_moof+frag_every_frame"},
    ) as container:
        stream = container.add_stream_from_template(template)
        for dts, pts, keyframe, payload in packets:
            packet = av.Packet(payload)
            packet.dts, packet.pts, packet.time_base, packet.stream = dts, pts, template.time_base, stream
            packet.is_keyframe = keyframe
            container.mux(packet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    width, height = (int(part) for part in args.size.split("x"))
    base = "frag_keyframe+empty_moov+default_base_moof"
    files = {
        "per GOP": encode(width, height, args.seconds, base),
        "per frame": encode(width, height, args.seconds, base + "+frag_every_frame"),
    }

    print(
        f"fMP4 reader, {width}x{height} H.264, {args.seconds} s at {FPS} fps, fed in {CHUNK}-byte chunks, best of {args.runs}"
    )
    print(f"{'file':<10} {'what':<34} {'MB/s':>9} {'fragments/s':>12} {'vs reader':>10}")
    for name, data in files.items():
        fragments = read_chunks(data)
        mb = len(data) / 1e6
        ours = best_of(args.runs, partial(read_chunks, data))
        rows = [
            ("Fmp4Reader.feed", ours),
            ("ref: bytearray append, no parsing", best_of(args.runs, partial(append_chunks, data))),
            ("ref: FFmpeg demux via PyAV (C)", best_of(args.runs, partial(pyav_demux, data))),
        ]
        for what, seconds in rows:
            print(f"{name:<10} {what:<34} {mb / seconds:>9.0f} {fragments / seconds:>12.0f} {ours / seconds:>9.2f}x")
        print(f"{'':<10} ({mb:.1f} MB, {fragments} fragments)")

    events = Fmp4Reader().feed(files["per GOP"])
    init = events[0]
    assert isinstance(init, InitSegment)
    samples: list[Sample] = [s for e in events[1:] if isinstance(e, Fragment) for s in e.samples]
    gops = [e.samples for e in events[1:] if isinstance(e, Fragment)]
    with av.open(io.BytesIO(files["per GOP"])) as container:
        template = container.streams.video[0]
        packets = [(s.decode_time, s.decode_time + s.composition_offset, s.is_keyframe, s.data) for s in samples]

        def write_per_frame() -> None:
            writer = FragmentWriter()
            for sample in samples:
                writer.write((sample,))

        def write_per_gop() -> None:
            writer = FragmentWriter()
            for gop in gops:
                writer.write(gop)

        per_frame = best_of(args.runs, write_per_frame)
        per_gop = best_of(args.runs, write_per_gop)
        muxer = best_of(args.runs, lambda: pyav_mux(packets, template))
    print()
    print(f"fMP4 writer, same {len(samples)} samples, best of {args.runs}")
    print(f"{'what':<45} {'fragments/s':>12} {'samples/s':>10} {'vs per-frame':>13}")
    for what, seconds, count in [
        ("FragmentWriter.write, 1 sample per fragment", per_frame, len(samples)),
        ("FragmentWriter.write, 1 GOP per fragment", per_gop, len(gops)),
        ("ref: FFmpeg mp4 muxer via PyAV, per frame", muxer, len(samples)),
    ]:
        print(f"{what:<45} {count / seconds:>12.0f} {len(samples) / seconds:>10.0f} {per_frame / seconds:>12.2f}x")


if __name__ == "__main__":
    main()
