import itertools
import subprocess

import pytest

from gateway.emulator.encode import encode_opus_webm
from gateway.emulator.webm_loop import split_webm


@pytest.fixture(scope="module")
def loop(media_cache):
    return split_webm(encode_opus_webm(1, 2.0, media_cache))


def test_clusters_tile_the_loop(loop):
    assert loop.timescale == 1000
    assert loop.loop_ticks == pytest.approx(2000, abs=25)
    for a, b in zip(loop.clusters, loop.clusters[1:]):
        assert a.start + a.duration == b.start
    assert loop.header.startswith(b"\x1a\x45\xdf\xa3")


def test_two_passes_are_one_opus_stream_with_increasing_timestamps(loop, tmp_path):
    body = b"".join(c.stamped(k * loop.loop_ticks + c.start) for k in range(2) for c in loop.clusters)
    path = tmp_path / "two.webm"
    path.write_bytes(loop.header + body)
    probe = ["ffprobe", "-v", "error", "-of", "csv=p=0"]
    codec = subprocess.run([*probe, "-show_entries", "stream=codec_name,sample_rate", str(path)],
                           capture_output=True, text=True, check=True, timeout=30).stdout.strip()  # fmt: skip
    assert codec == "opus,48000"
    out = subprocess.run([*probe, "-show_entries", "packet=pts_time", str(path)],
                         capture_output=True, text=True, check=True, timeout=30).stdout.split()  # fmt: skip
    times = [float(t) for t in out]
    assert len(times) == 200  # 20 ms packets, two 2 s passes
    assert all(b > a for a, b in itertools.pairwise(times))
