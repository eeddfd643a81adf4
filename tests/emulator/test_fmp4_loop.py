import itertools
import struct
import subprocess

import pytest

from gateway.emulator.encode import VideoSpec, encode_video
from gateway.emulator.fmp4_loop import split_loop
from gateway.media.fmp4.boxes import find_box


@pytest.fixture(scope="module", params=["frame", "gop"])
def loop(request, media_cache):
    return split_loop(encode_video(VideoSpec(0, 160, 90, 15, 30, 100_000, request.param), media_cache))


def test_split_finds_every_frame_and_closes_the_loop_exactly(loop):
    assert loop.timescale == 90000
    assert loop.loop_ticks == 2 * 90000  # 30 frames at 15 fps: the last sample fixed up
    assert sum(f.samples for f in loop.fragments) == 30
    assert [f.keyframe for f in loop.fragments if f.start % 90000 == 0] == [True, True]
    for a, b in zip(loop.fragments, loop.fragments[1:]):
        assert a.start + a.duration == b.start


def test_stamping_rewrites_tfdt_and_sequence_number_only(loop):
    frag = loop.fragments[-1]
    out = frag.stamped(123_456_789_000, 77)
    tfdt = find_box(out, [b"moof", b"traf", b"tfdt"])
    mfhd = find_box(out, [b"moof", b"mfhd"])
    assert struct.unpack_from(">Q", out, tfdt.payload_offset + 4)[0] == 123_456_789_000
    assert struct.unpack_from(">I", out, mfhd.payload_offset + 4)[0] == 77
    assert len(out) == len(frag.data)


def test_three_passes_decode_with_increasing_timestamps(loop, tmp_path):
    passes = [
        f.stamped(k * loop.loop_ticks + f.start, k * len(loop.fragments) + i + 1)
        for k in range(3)
        for i, f in enumerate(loop.fragments)
    ]
    path = tmp_path / "three.mp4"
    path.write_bytes(loop.init + b"".join(passes))
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "packet=dts_time", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, check=True, timeout=30).stdout.split()  # fmt: skip
    times = [float(t) for t in out]
    assert len(times) == 90
    assert all(b > a for a, b in itertools.pairwise(times))
    assert times[-1] == pytest.approx(6 - 1 / 15, abs=1e-3)
