"""WebmReader against PyAV/FFmpeg-made WebM, hand-built live streams checked by ffprobe, and fuzzing."""

from __future__ import annotations

import io
import itertools
import json
import random
import shutil
import struct
import subprocess
from fractions import Fraction

import av
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.media.webm import AudioFrame, AudioTrack, WebmError, WebmReader

RATE = 48_000


def opus_webm(seconds: float = 1.0, layout: str = "mono", options: dict | None = None) -> bytes:
    """A 440 Hz sine, libopus in WebM, muxed by PyAV (FFmpeg's matroska muxer)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="webm", options=options or {}) as out:
        stream = out.add_stream("libopus", rate=RATE, layout=layout)
        channels = 1 if layout == "mono" else 2
        t = np.arange(int(seconds * RATE)) / RATE
        sine = (0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
        for start in range(0, len(sine), 960):
            block = np.repeat(sine[start : start + 960], channels)[None, :]
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout=layout)
            frame.sample_rate, frame.pts = RATE, start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


def pyav_packets(data: bytes) -> tuple[bytes, list[tuple[int, bytes]]]:
    """(OpusHead, [(pts ms, packet)]) as FFmpeg's matroska demuxer sees them."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        assert stream.time_base == Fraction(1, 1000)
        packets = [(p.pts, bytes(p)) for p in container.demux(stream) if p.size]
        return bytes(stream.codec_context.extradata), packets


def feed_chunked(reader: WebmReader, data: bytes, rng: random.Random, largest: int = 700) -> list:
    events = []
    pos = 0
    while pos < len(data):
        size = rng.randint(1, largest)
        events += reader.feed(data[pos : pos + size])
        pos += size
    return events


# -- a small EBML writer, to build what FFmpeg's muxer never writes (unknown-size
#    Clusters, lacing, BlockGroups with ReferenceBlock, splices); ffprobe checks its output.

UNKNOWN = b"\x01\xff\xff\xff\xff\xff\xff\xff"


def vint(value: int) -> bytes:
    length = 1
    while value >= (1 << (7 * length)) - 1:
        length += 1
    return ((1 << (7 * length)) | value).to_bytes(length, "big")


def el(element_id: int, payload: bytes = b"", unknown: bool = False) -> bytes:
    head = element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")
    return head + (UNKNOWN if unknown else vint(len(payload))) + payload


def uint(element_id: int, value: int) -> bytes:
    return el(element_id, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def header(opus_head: bytes, channels: int = 1, track: int = 1) -> bytes:
    ebml = el(
        0x1A45DFA3,
        uint(0x4286, 1)
        + uint(0x42F7, 1)
        + uint(0x42F2, 4)
        + uint(0x42F3, 8)
        + el(0x4282, b"webm")
        + uint(0x4287, 4)
        + uint(0x4285, 2),
    )
    info = el(0x1549A966, uint(0x2AD7B1, 1_000_000) + el(0x4D80, b"test"))
    audio = el(0xE1, el(0xB5, struct.pack(">d", RATE)) + uint(0x9F, channels))
    entry = el(
        0xAE, uint(0xD7, track) + uint(0x73C5, 7) + uint(0x83, 2) + el(0x86, b"A_OPUS") + el(0x63A2, opus_head) + audio
    )
    # Segment of unknown size, as a live muxer writes it (RFC 8794 6.2).
    return ebml + b"\x18\x53\x80\x67" + UNKNOWN + info + el(0x1654AE6B, entry)


def block_body(track: int, relative: int, flags: int, payload: bytes) -> bytes:
    return vint(track) + struct.pack(">hB", relative, flags) + payload


def live_stream(opus_head: bytes, packets: list[bytes], per_cluster: int = 10, track: int = 1) -> bytes:
    """Unknown-size Segment and Clusters, one SimpleBlock per 20 ms packet."""
    out = [header(opus_head, track=track)]
    for first in range(0, len(packets), per_cluster):
        cluster = [uint(0xE7, first * 20)]
        for i, packet in enumerate(packets[first : first + per_cluster]):
            cluster.append(el(0xA3, block_body(track, i * 20, 0x80, packet)))
        out.append(el(0x1F43B675, b"".join(cluster), unknown=True))
    return b"".join(out)


def ffprobe_packets(tmp_path, data: bytes) -> list[dict]:
    if shutil.which("ffprobe") is None:
        pytest.fail("missing ffprobe: run ./scripts/test, which installs it")
    path = tmp_path / "probe.webm"
    path.write_bytes(data)
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_packets", "-of", "json", str(path)],
        capture_output=True,
        timeout=60,
        check=True,
        text=True,
    )
    return json.loads(result.stdout)["packets"]


@pytest.fixture(scope="module")
def fixture_live() -> bytes:
    return opus_webm(options={"live": "1"})


@pytest.fixture(scope="module")
def fixture_opus(fixture_live) -> tuple[bytes, list[tuple[int, bytes]]]:
    return pyav_packets(fixture_live)


# -- FFmpeg-made streams -----------------------------------------------------------------


@pytest.mark.parametrize("options", [{}, {"live": "1"}, {"live": "1", "cluster_size_limit": "1500"}])
def test_matches_ffmpeg_demux_in_any_chunking(options):
    data = opus_webm(options=options)
    if options:
        assert b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff" in data  # live: Segment size unknown
    opus_head, packets = pyav_packets(data)
    for seed in range(5):
        events = feed_chunked(WebmReader(), data, random.Random(seed), largest=[1, 7, 300, 5000, 10**6][seed])
        track, frames = events[0], events[1:]
        assert track == AudioTrack("opus", RATE, 1, opus_head, 1_000_000)
        assert all(isinstance(frame, AudioFrame) for frame in frames)
        assert [frame.data for frame in frames] == [packet for _, packet in packets]
        # FFmpeg's demuxer subtracts CodecDelay (6.5 ms, stored rounded); we report raw times.
        offsets = {frame.pts_ms - pts for frame, (pts, _) in zip(frames, packets)}
        assert len(offsets) == 1 and 0 <= offsets.pop() <= 7
        assert all(frame.keyframe for frame in frames)


def test_stereo_track():
    events = WebmReader().feed(opus_webm(seconds=0.2, layout="stereo"))
    assert events[0].channels == 2 and events[0].codec_private[9] == 2  # OpusHead channel count


def test_ffmpeg_cues_seekhead_and_tags_are_skipped():
    data = opus_webm()  # not live: SeekHead, Cues and Tags with known sizes
    for element_id in (b"\x11\x4d\x9b\x74", b"\x1c\x53\xbb\x6b", b"\x12\x54\xc3\x67"):
        assert element_id in data
    frames = WebmReader().feed(data)[1:]
    assert len(frames) == len(pyav_packets(data)[1])


# -- live shapes FFmpeg does not write, checked against ffprobe ------------------------


def test_unknown_size_clusters_match_ffprobe(tmp_path, fixture_opus):
    opus_head, packets = fixture_opus
    data = live_stream(opus_head, [p for _, p in packets], per_cluster=7)
    assert data.count(b"\x1f\x43\xb6\x75" + UNKNOWN) == (len(packets) + 6) // 7
    probed = ffprobe_packets(tmp_path, data)
    frames = feed_chunked(WebmReader(), data, random.Random(1))[1:]
    assert len(probed) == len(frames) == len(packets)
    assert (
        [frame.pts_ms for frame in frames]
        == [float(p["pts"]) for p in probed]
        == [i * 20.0 for i in range(len(packets))]
    )
    assert [frame.data for frame in frames] == [p for _, p in packets]


@pytest.mark.parametrize("lacing", [1, 2, 3])  # Xiph, fixed, EBML (RFC 9559 10.3)
def test_lacing(tmp_path, fixture_opus, lacing):
    opus_head, packets = fixture_opus
    payloads = [p for _, p in packets[1:13]]
    if lacing == 2:
        payloads = [p[:100].ljust(100, b"\0") for p in payloads]  # fixed lacing needs equal sizes
    groups = [payloads[i : i + 4] for i in range(0, len(payloads), 4)]
    blocks = []
    for n, group in enumerate(groups):
        if lacing == 1:
            sizes = b"".join(b"\xff" * (len(p) // 255) + bytes([len(p) % 255]) for p in group[:-1])
        elif lacing == 3:
            sizes = vint(len(group[0])) + b"".join(
                _signed_vint(len(b) - len(a)) for a, b in itertools.pairwise(group[:-1])
            )
        else:
            sizes = b""
        body = bytes([len(group) - 1]) + sizes + b"".join(group)
        blocks.append(el(0xA3, block_body(1, n * 80, 0x80 | lacing << 1, body)))
    data = header(opus_head) + el(0x1F43B675, uint(0xE7, 1000) + b"".join(blocks), unknown=True)
    frames = feed_chunked(WebmReader(), data, random.Random(lacing))[1:]
    assert [frame.data for frame in frames] == payloads
    if lacing != 2:  # the real packets are 20 ms each: laced ones are placed by their TOC
        assert [frame.pts_ms for frame in frames] == [1000.0 + 20 * i for i in range(len(payloads))]
        assert len(ffprobe_packets(tmp_path, data)) == len(payloads)


def _signed_vint(value: int) -> bytes:
    for length in range(1, 9):
        bias = (1 << (7 * length - 1)) - 1
        if -bias <= value <= bias:
            return ((1 << (7 * length)) | (value + bias)).to_bytes(length, "big")
    raise AssertionError(value)


def test_blockgroup_keyframe_from_reference_block(fixture_opus):
    opus_head, packets = fixture_opus
    group_key = el(0xA0, el(0xA1, block_body(1, 0, 0, packets[1][1])) + uint(0x9B, 20))
    group_ref = el(0xA0, el(0xA1, block_body(1, 20, 0, packets[2][1])) + el(0xFB, b"\xec"))
    data = header(opus_head) + el(0x1F43B675, uint(0xE7, 500) + group_key + group_ref)
    frames = WebmReader().feed(data)[1:]
    assert [(f.pts_ms, f.data, f.keyframe) for f in frames] == [
        (500.0, packets[1][1], True),
        (520.0, packets[2][1], False),
    ]


def test_unknown_elements_and_other_tracks_are_skipped(fixture_opus):
    opus_head, packets = fixture_opus
    cluster = (
        uint(0xE7, 0)
        + el(0xEC, b"\0" * 3000)  # Void
        + el(0xA3, block_body(2, 0, 0x80, b"video?"))  # a track we do not read
        + el(0x2F1234, b"unknown child")
        + el(0xA3, block_body(1, 0, 0x80, packets[0][1]))
    )
    data = header(opus_head) + el(0x1254C367, b"\0" * 100) + el(0x1F43B675, cluster, unknown=True)
    frames = feed_chunked(WebmReader(), data, random.Random(3), largest=50)[1:]
    assert [frame.data for frame in frames] == [packets[0][1]]


def test_new_ebml_header_mid_stream_starts_a_new_track(fixture_live):
    stereo = opus_webm(seconds=0.3, layout="stereo", options={"live": "1"})
    events = feed_chunked(WebmReader(), fixture_live + stereo, random.Random(7))
    tracks = [i for i, event in enumerate(events) if isinstance(event, AudioTrack)]
    assert len(tracks) == 2
    assert events[tracks[0]].channels == 1 and events[tracks[1]].channels == 2
    second = events[tracks[1] + 1 :]
    assert [f.data for f in second] == [p for _, p in pyav_packets(stereo)[1]]
    assert second[0].pts_ms == 0.0  # the new stream's own timeline


# -- hostile input ---------------------------------------------------------------------


def test_errors_have_clear_messages(fixture_opus):
    opus_head, _packets = fixture_opus
    good = header(opus_head)
    cases = [
        (b"RIFF\x00\x00\x00\x00WAVE", "does not start with an EBML header"),
        (el(0x1A45DFA3, el(0x4282, b"mp4")), "DocType b'mp4' is not webm or matroska"),
        (good + el(0xA3, b"\0" * 10, unknown=True), "has unknown size, only Segment and Cluster may"),
        (good + b"\xec\x08\x00\x00\x00\x00\x00\x00\x00", "longer than 8 bytes"),
        (good + el(0x1F43B675, el(0xA3, block_body(1, 0, 0x80, b"x"))), "comes before its Cluster Timecode"),
        (
            good + el(0x1F43B675, uint(0xE7, 0) + el(0xA3, block_body(1, 0, 0x82, b"\x03\xff"))),
            "Xiph lace sizes run past the block",
        ),
        (
            good + el(0x1F43B675, uint(0xE7, 0) + el(0xA3, block_body(1, 0, 0x84, b"\x02\0\0\0\0"))),
            "do not split into 3 frames",
        ),
        (good.replace(b"A_OPUS", b"A_VORB"), "codec 'A_VORB' is not supported, only A_OPUS"),
        (
            el(0x1A45DFA3, el(0x4282, b"webm")) + b"\x18\x53\x80\x67\x84" + el(0x1549A966, b"\0" * 8),
            "overruns its parent",
        ),
    ]
    for data, message in cases:
        with pytest.raises(WebmError, match=message.replace("(", r"\(").replace(")", r"\)")):
            WebmReader().feed(data)


def test_element_size_limit_bounds_memory(fixture_opus):
    opus_head, _ = fixture_opus
    reader = WebmReader(max_element_size=4096)
    reader.feed(header(opus_head) + b"\x1f\x43\xb6\x75" + UNKNOWN + uint(0xE7, 0))
    with pytest.raises(WebmError, match="is 5000 bytes, over the limit of 4096"):
        reader.feed(b"\xa3" + vint(5000) + b"\0" * 100)


def test_skipped_elements_are_not_buffered(fixture_opus):
    opus_head, packets = fixture_opus
    reader = WebmReader(max_element_size=1 << 20, max_buffer=(1 << 20) + 1024)
    reader.feed(header(opus_head))
    reader.feed(b"\xec" + vint(900_000))  # a Void we must drop, not hold
    for _ in range(90):
        assert reader.feed(b"\0" * 10_000) == []
        assert len(reader._buf) < 1024
    frames = reader.feed(el(0x1F43B675, uint(0xE7, 0) + el(0xA3, block_body(1, 0, 0x80, packets[0][1]))))
    assert [f.data for f in frames] == [packets[0][1]]


def _assert_only_webm_error(reader: WebmReader, chunks: list[bytes]) -> None:
    try:
        for chunk in chunks:
            reader.feed(chunk)
            assert len(reader._buf) <= reader.max_buffer
    except WebmError:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=200), max_size=20))
def test_fuzz_random_bytes(chunks):
    _assert_only_webm_error(WebmReader(max_element_size=4096), [b"\x1a\x45\xdf\xa3", *chunks])


_SEED_STREAM = None


def _seed_stream() -> bytes:
    global _SEED_STREAM
    if _SEED_STREAM is None:
        head, packets = pyav_packets(opus_webm(seconds=0.2))
        _SEED_STREAM = live_stream(head, [p for _, p in packets], per_cluster=3)
    return _SEED_STREAM


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), max_size=8),
    st.integers(0, 4000),
    st.integers(1, 600),
)
def test_fuzz_mutated_stream(flips, cut, chunk):
    data = bytearray(_seed_stream())
    for where, value in flips:
        data[where % len(data)] = value
    data = bytes(data[: len(data) - cut % len(data)])
    _assert_only_webm_error(
        WebmReader(max_element_size=4096), [data[i : i + chunk] for i in range(0, len(data), chunk)]
    )
