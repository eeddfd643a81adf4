"""Fmp4Reader against FFmpeg-made fMP4 (PyAV demux as the reference) and hand-broken streams."""

from __future__ import annotations

import itertools
import random
import struct
from typing import TYPE_CHECKING

import pytest

from gateway.media import h264
from gateway.media.fmp4 import (
    Fmp4Error,
    Fmp4Reader,
    Fragment,
    FragmentWriter,
    InitSegment,
    Sample,
    TrackInfo,
    write_init_segment,
)
from gateway.media.fmp4.boxes import box, full_box, iter_boxes

if TYPE_CHECKING:
    from conftest import Fmp4Fixture


def chunked(data: bytes, chunking: str, seed: int = 0) -> list[bytes]:
    """data cut into pieces: "1" and "7" byte pieces, "random" sizes 1..5000, or "whole"."""
    if chunking == "whole":
        return [data]
    if chunking == "random":
        rng = random.Random(seed)
        pieces, offset = [], 0
        while offset < len(data):
            size = rng.choice((1, 3, 8, 16, 100, 4096, 5000))
            pieces.append(data[offset : offset + size])
            offset += size
        return pieces
    size = int(chunking)
    return [data[offset : offset + size] for offset in range(0, len(data), size)]


def read_all(data: bytes, chunking: str = "whole", reader: Fmp4Reader | None = None) -> list[InitSegment | Fragment]:
    reader = reader or Fmp4Reader()
    events: list[InitSegment | Fragment] = []
    for piece in chunked(data, chunking):
        events.extend(reader.feed(piece))
    return events


def samples_of(events: list[InitSegment | Fragment]) -> list[Sample]:
    return [sample for event in events if isinstance(event, Fragment) for sample in event.samples]


def assert_matches_reference(samples: list[Sample], fixture: Fmp4Fixture) -> None:
    track_ids = sorted({packet.track_id for packet in fixture.packets})
    assert sorted({sample.track_id for sample in samples}) == track_ids
    for track_id in track_ids:
        ours = [s for s in samples if s.track_id == track_id]
        theirs = fixture.track_packets(track_id)
        assert len(ours) == len(theirs)
        # FFmpeg applies the edit list to timestamps: one constant shift per track, if any.
        shift = theirs[0].dts - ours[0].decode_time
        assert [(s.decode_time + shift, s.decode_time + s.composition_offset + shift) for s in ours] == [
            (p.dts, p.pts) for p in theirs
        ]
        assert [s.duration for s in ours[:-1]] == [p.duration for p in theirs[:-1]]
        assert [s.is_keyframe for s in ours] == [p.keyframe for p in theirs]
        assert [s.data for s in ours] == [p.data for p in theirs]


@pytest.mark.parametrize("chunking", ["whole", "7", "random"])
def test_samples_match_pyav_demux(fmp4_fixture: Fmp4Fixture, chunking: str) -> None:
    events = read_all(fmp4_fixture.data, chunking)
    assert isinstance(events[0], InitSegment)
    assert all(isinstance(event, Fragment) for event in events[1:])
    assert_matches_reference(samples_of(events), fmp4_fixture)
    # The init segment is the file's ftyp+moov; fragment sizes are its moof+mdat boxes.
    assert events[0].data == fmp4_fixture.data[: len(events[0].data)]
    boxes = list(iter_boxes(fmp4_fixture.data))
    assert [event.size for event in events[1:]] == [
        n.end - h.offset for h, n in itertools.pairwise(boxes) if h.type == b"moof" and n.type == b"mdat"
    ]


def test_one_byte_chunks(per_frame_fixture: Fmp4Fixture) -> None:
    reader = Fmp4Reader()
    events = read_all(per_frame_fixture.data, "1", reader)
    assert_matches_reference(samples_of(events), per_frame_fixture)
    assert reader.buffered == 0
    # frag_every_frame: one video sample per fragment, sequence numbers counting up.
    fragments = [event for event in events if isinstance(event, Fragment)]
    assert [len(f.samples) for f in fragments] == [1] * len(fragments)
    assert [f.sequence_number for f in fragments] == list(range(1, len(fragments) + 1))


def test_init_segment_tracks(fmp4_fixture: Fmp4Fixture) -> None:
    init = read_all(fmp4_fixture.data)[0]
    assert isinstance(init, InitSegment)
    video = init.track("video")
    assert video is not None and video.track_id == 1
    assert (video.width, video.height) == (fmp4_fixture.width, fmp4_fixture.height)
    config = h264.parse_avcc(video.codec_config)
    assert video.codec == config.codec_string
    assert h264.sps_dimensions(config.sps[0]) == (fmp4_fixture.width, fmp4_fixture.height)
    audio = init.track("audio")
    if fmp4_fixture.name == "aac":
        assert audio is not None and audio.codec == "mp4a.40.2"
        assert (audio.sample_rate, audio.channels, audio.timescale) == (48000, 1, 48000)
        assert len(audio.codec_config) >= 2  # AudioSpecificConfig
    elif fmp4_fixture.name == "opus":
        assert audio is not None and audio.codec == "opus"
        assert (audio.sample_rate, audio.channels) == (48000, 1)
        assert audio.codec_config[1] == 1  # dOps OutputChannelCount
    else:
        assert audio is None


def _split(data: bytes) -> tuple[bytes, list[bytes]]:
    """(ftyp+moov, [moof+mdat, ...]) of a fragmented file."""
    boxes = list(iter_boxes(data))
    init_end = next(h.offset for h in boxes if h.type == b"moof")
    fragments = [data[h.offset : n.end] for h, n in itertools.pairwise(boxes) if h.type == b"moof"]
    return data[:init_end], fragments


def test_skips_other_top_level_boxes(per_frame_fixture: Fmp4Fixture) -> None:
    init, fragments = _split(per_frame_fixture.data)
    junk = [
        box(b"styp", b"msdh", bytes(4)),
        full_box(b"sidx", 1, 0, bytes(40)),
        box(b"free", bytes(3)),
        full_box(b"emsg", 0, 0, b"x\x00"),
        box(b"prft", bytes(20)),
        box(b"zzzz", b"unknown"),
        box(b"mdat", b"orphan"),
    ]
    stream = init + b"".join(junk[i % len(junk)] + fragment for i, fragment in enumerate(fragments))
    events = read_all(stream, "random")
    assert len(events) == 1 + len(fragments)
    assert_matches_reference(samples_of(events), per_frame_fixture)


def test_large_skipped_box_streams_through_without_buffering(per_frame_fixture: Fmp4Fixture) -> None:
    init, fragments = _split(per_frame_fixture.data)
    reader = Fmp4Reader(max_box_size=64 << 20, max_buffer=256 << 10)
    events = read_all(init + fragments[0], "whole", reader)
    big = box(b"free", bytes(8 << 20))  # far over max_buffer, dropped as it arrives
    for piece in chunked(big, "random"):
        assert reader.feed(piece) == []
        assert reader.buffered < 4096
    events += read_all(b"".join(fragments[1:]), "7", reader)
    assert_matches_reference(samples_of(events), per_frame_fixture)


def test_new_init_segment_after_reconnect(aac_fixture: Fmp4Fixture) -> None:
    reader = Fmp4Reader()
    first = read_all(aac_fixture.data, "random", reader)
    second = read_all(aac_fixture.data, "random", reader)
    assert isinstance(second[0], InitSegment) and second[0] == first[0]
    assert samples_of(second) == samples_of(first)
    assert reader.init_segment == second[0]


# --- corrupt and hostile input: one clear Fmp4Error each ---------------------------------


def _fragment_with(init: bytes, moof: bytes, mdat_payload: bytes) -> bytes:
    return init + moof + box(b"mdat", mdat_payload)


def _moof(track_id: int, trun: bytes, tfhd_flags: int = 0x020000, sequence: int = 1) -> bytes:
    tfhd = full_box(b"tfhd", 0, tfhd_flags, struct.pack(">I", track_id))
    return box(b"moof", full_box(b"mfhd", 0, 0, struct.pack(">I", sequence)), box(b"traf", tfhd, trun))


def _trun(count: int, sizes: list[int], data_offset: int) -> bytes:
    entries = b"".join(struct.pack(">II", 100, size) for size in sizes)
    return full_box(b"trun", 0, 0x301, struct.pack(">Ii", count, data_offset), entries)


@pytest.fixture(scope="module")
def video_init(per_frame_fixture: Fmp4Fixture) -> bytes:
    return _split(per_frame_fixture.data)[0]


def _expect_error(data: bytes, match: str, **limits: int) -> None:
    reader = Fmp4Reader(**limits)
    with pytest.raises(Fmp4Error, match=match):
        for piece in chunked(data, "random"):
            reader.feed(piece)
    with pytest.raises(Fmp4Error, match="earlier error"):
        reader.feed(b"\x00" * 8)


def test_written_fragment_parses(video_init: bytes) -> None:
    # The hand-made boxes below are right apart from the one thing each test breaks.
    moof = _moof(1, _trun(2, [3, 4], 0))
    moof = _moof(1, _trun(2, [3, 4], len(moof) + 8))
    events = read_all(_fragment_with(video_init, moof, b"abcdefg"))
    assert [(s.decode_time, s.data) for s in events[1].samples] == [(0, b"abc"), (100, b"defg")]


def test_moof_before_init() -> None:
    _expect_error(_moof(1, _trun(1, [1], 0)) + box(b"mdat", b"x"), "moof before any init segment")


def test_over_large_box(video_init: bytes) -> None:
    _expect_error(video_init + struct.pack(">I4s", 100 << 20, b"mdat"), "over the limit", max_box_size=1 << 20)


def test_largesize_box_over_limit(video_init: bytes) -> None:
    _expect_error(video_init + struct.pack(">I4sQ", 1, b"moof", 1 << 40), "over the limit")


def test_buffer_limit(video_init: bytes) -> None:
    moof = _moof(1, _trun(1, [1], 0))
    _expect_error(video_init + moof + struct.pack(">I4s", 600 << 10, b"mdat"), "buffered", max_buffer=512 << 10)


def test_trun_sizes_overrun_mdat(video_init: bytes) -> None:
    moof = _moof(1, _trun(2, [3, 400], 0))
    moof = _moof(1, _trun(2, [3, 400], len(moof) + 8))
    _expect_error(_fragment_with(video_init, moof, b"abcdefg"), "outside its 7 bytes")


def test_trun_data_offset_before_mdat(video_init: bytes) -> None:
    _expect_error(_fragment_with(video_init, _moof(1, _trun(1, [3], 0)), b"abc"), "outside")


def test_trun_count_larger_than_box(video_init: bytes) -> None:
    moof = _moof(1, _trun(1000, [3], 0))
    _expect_error(_fragment_with(video_init, moof, b"abc"), "more than its")


def test_absurd_sample_count_with_defaults(video_init: bytes) -> None:
    # No per-sample fields: 4 billion samples would take no trun bytes at all.
    trun = full_box(b"trun", 0, 0x001, struct.pack(">Ii", 0xFFFFFFFF, 0))
    _expect_error(_fragment_with(video_init, _moof(1, trun), b""), "per fragment limit")


def test_traf_for_unknown_track(video_init: bytes) -> None:
    moof = _moof(9, _trun(1, [1], 0))
    moof = _moof(9, _trun(1, [1], len(moof) + 8))
    _expect_error(_fragment_with(video_init, moof, b"a"), "track 9")


def test_moof_without_mdat(video_init: bytes) -> None:
    moof = _moof(1, _trun(1, [1], 0))
    _expect_error(video_init + moof + moof, "between a moof and its mdat")


def test_zero_size_box(video_init: bytes) -> None:
    _expect_error(video_init + struct.pack(">I4s", 0, b"mdat"), "size 0")


def test_truncated_tfhd(video_init: bytes) -> None:
    traf = box(b"traf", box(b"tfhd", b"\x00\x00"))
    moof = box(b"moof", full_box(b"mfhd", 0, 0, struct.pack(">I", 1)), traf)
    _expect_error(_fragment_with(video_init, moof, b""), "tfhd box of 10 bytes is truncated")


def test_moov_without_sample_entry() -> None:
    data = box(b"ftyp", b"iso6", bytes(4))
    trak = box(
        b"trak",
        full_box(b"tkhd", 0, 3, struct.pack(">5I", 0, 0, 1, 0, 0), bytes(60)),
        box(
            b"mdia",
            full_box(b"mdhd", 0, 0, struct.pack(">4I", 0, 0, 90000, 0), bytes(4)),
            full_box(b"hdlr", 0, 0, struct.pack(">I4s", 0, b"vide"), bytes(13)),
        ),
    )
    _expect_error(data + box(b"moov", trak), "no stsd")


def _mfhd(sequence: int) -> bytes:
    return full_box(b"mfhd", 0, 0, struct.pack(">I", sequence))


def test_base_data_offset_is_stream_position(per_frame_fixture: Fmp4Fixture) -> None:
    # tfhd base-data-offset (8.8.7.1) is absolute: it counts from the first byte fed to the
    # reader, however much the reader has dropped since.
    trun = full_box(b"trun", 0, 0x201, struct.pack(">Ii", 1, 0), struct.pack(">I", 3))

    def moof(base: int) -> bytes:
        tfhd = full_box(b"tfhd", 0, 0x000001, struct.pack(">IQ", 1, base))
        return box(b"moof", _mfhd(999), box(b"traf", tfhd, trun))

    prefix = per_frame_fixture.data
    payload_at = len(prefix) + len(moof(0)) + 8
    events = read_all(prefix + moof(payload_at) + box(b"mdat", b"xyz"), "random")
    assert events[-1].sequence_number == 999
    assert [s.data for s in events[-1].samples] == [b"xyz"]


def test_defaults_and_first_sample_flags(video_init: bytes) -> None:
    # tfhd default duration/size/flags (non-sync); trun first-sample-flags makes sample 1 sync.
    tfhd = full_box(b"tfhd", 0, 0x020038, struct.pack(">IIII", 1, 50, 2, 0x01010000))

    def moof(data_offset: int) -> bytes:
        trun = full_box(b"trun", 0, 0x005, struct.pack(">IiI", 3, data_offset, 0x02000000))
        return box(b"moof", _mfhd(1), box(b"traf", tfhd, full_box(b"tfdt", 0, 0, struct.pack(">I", 500)), trun))

    events = read_all(video_init + moof(len(moof(0)) + 8) + box(b"mdat", b"aabbcc"))
    assert [(s.decode_time, s.duration, s.is_keyframe, s.data) for s in events[1].samples] == [
        (500, 50, True, b"aa"),
        (550, 50, False, b"bb"),
        (600, 50, False, b"cc"),
    ]


def test_two_trafs_give_samples_in_file_order(video_init: bytes) -> None:
    # Two trafs of track 1, the second one's data first in the mdat.
    def moof(offset: int) -> bytes:
        def traf(tfdt: int, data_offset: int) -> bytes:
            tfhd = full_box(b"tfhd", 0, 0x020000, struct.pack(">I", 1))
            trun = full_box(b"trun", 0, 0x301, struct.pack(">IiII", 1, data_offset, 10, 2))
            return box(b"traf", tfhd, full_box(b"tfdt", 1, 0, struct.pack(">Q", tfdt)), trun)

        return box(b"moof", _mfhd(1), traf(10, offset + 2), traf(0, offset))

    events = read_all(video_init + moof(len(moof(0)) + 8) + box(b"mdat", b"AABB"))
    assert [(s.decode_time, s.data) for s in events[1].samples] == [(0, b"AA"), (10, b"BB")]


def test_tracks_that_are_neither_video_nor_audio_are_skipped(per_frame_fixture: Fmp4Fixture) -> None:
    video = read_all(per_frame_fixture.data)[0].track("video")
    opus = TrackInfo(2, "audio", "opus", 48000, sample_rate=48000, channels=1)
    init = write_init_segment([video, opus]).replace(b"soun", b"meta")  # track 2 becomes timed metadata
    samples = [Sample(1, 0, 10, 0, True, b"\x00\x00\x00\x01\x65"), Sample(2, 0, 960, 0, True, b"meta")]
    events = read_all(init + FragmentWriter().write(samples), "7")
    assert [track.track_id for track in events[0].tracks] == [1]
    assert events[1].samples == (samples[0],)
