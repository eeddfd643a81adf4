"""write_init_segment / FragmentWriter: round trips through Fmp4Reader, and ffprobe decodes the output."""

from __future__ import annotations

import dataclasses
import json
import struct
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.media.fmp4 import Fmp4Reader, Fragment, FragmentWriter, InitSegment, Sample, TrackInfo, write_init_segment
from gateway.media.fmp4.boxes import find_box

if TYPE_CHECKING:
    from conftest import Fmp4Fixture


def read(data: bytes) -> tuple[InitSegment, list[Fragment]]:
    events = Fmp4Reader().feed(data)
    assert isinstance(events[0], InitSegment)
    return events[0], [event for event in events[1:] if isinstance(event, Fragment)]


def ffprobe_frames(path: Path) -> tuple[dict[str, int], str]:
    """Decoded frames per codec, and whatever ffprobe complained about."""
    result = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,nb_read_frames",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    streams = json.loads(result.stdout)["streams"]
    return {stream["codec_name"]: int(stream["nb_read_frames"]) for stream in streams}, result.stderr


def rewrite(fixture: Fmp4Fixture, per_sample: bool = False) -> tuple[InitSegment, list[Fragment], bytes]:
    init, fragments = read(fixture.data)
    writer = FragmentWriter()
    out = [write_init_segment(init.tracks)]
    for fragment in fragments:
        if per_sample:
            out.extend(writer.write((sample,)) for sample in fragment.samples)
        else:
            out.append(writer.write(fragment.samples))
    return init, fragments, b"".join(out)


def test_round_trip_gives_back_tracks_and_samples(fmp4_fixture: Fmp4Fixture) -> None:
    init, fragments, written = rewrite(fmp4_fixture)
    init_back, fragments_back = read(written)
    assert init_back.tracks == init.tracks
    assert [f.samples for f in fragments_back] == [f.samples for f in fragments]
    assert [f.sequence_number for f in fragments_back] == list(range(1, len(fragments) + 1))
    assert sum(f.size for f in fragments_back) == len(written) - len(init_back.data)


@pytest.mark.parametrize("per_sample", [False, True], ids=["per-fragment", "per-sample"])
def test_ffprobe_decodes_every_frame(fmp4_fixture: Fmp4Fixture, per_sample: bool, tmp_path: Path) -> None:
    _, _, written = rewrite(fmp4_fixture, per_sample)
    path = tmp_path / "out.mp4"
    path.write_bytes(written)
    frames, complaints = ffprobe_frames(path)
    assert complaints == ""
    expected = {"h264": len(fmp4_fixture.track_packets(1))}
    if fmp4_fixture.name in ("aac", "opus"):
        expected[fmp4_fixture.name] = len(fmp4_fixture.track_packets(2))
    assert frames == expected


def test_ffmpeg_demuxes_the_same_packets(fmp4_fixture: Fmp4Fixture, pyav_demux) -> None:
    _, _, written = rewrite(fmp4_fixture, per_sample=True)
    ours = pyav_demux(written)
    assert len(ours) == len(fmp4_fixture.packets)
    for track_id in {packet.track_id for packet in ours}:
        # The source may carry an edit list (opus pre-skip) that shifts FFmpeg's timestamps.
        def relative(packets):
            start = packets[0].dts
            return [(p.dts - start, p.pts - start, p.keyframe, p.data) for p in packets]

        assert relative([p for p in ours if p.track_id == track_id]) == relative(fmp4_fixture.track_packets(track_id))


def test_init_segment_layout(aac_fixture: Fmp4Fixture) -> None:
    init, _ = read(aac_fixture.data)
    data = write_init_segment(init.tracks)
    ftyp = find_box(data, [b"ftyp"])
    assert ftyp is not None and data[8:12] == b"iso6" and b"cmfc" in data[16 : ftyp.end]
    trex = [find_box(data, [b"moov", b"mvex", b"trex"])]
    assert trex[0] is not None
    assert find_box(data, [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"]) is not None
    (next_track_id,) = struct.unpack_from(">I", data, find_box(data, [b"moov", b"mvhd"]).end - 4)
    assert next_track_id == 3


def test_video_dimensions_from_sps_when_missing(per_frame_fixture: Fmp4Fixture) -> None:
    init, _ = read(per_frame_fixture.data)
    video = dataclasses.replace(init.track("video"), width=0, height=0)
    back, _ = read(write_init_segment([video]))
    assert (back.tracks[0].width, back.tracks[0].height) == (per_frame_fixture.width, per_frame_fixture.height)


def test_opus_without_config_gets_default_dops() -> None:
    track = TrackInfo(track_id=1, kind="audio", codec="opus", timescale=48000, sample_rate=48000, channels=2)
    back, _ = read(write_init_segment([track]))
    assert back.tracks[0].codec == "opus" and back.tracks[0].channels == 2


def test_writer_rejects_what_it_cannot_write(per_frame_fixture: Fmp4Fixture) -> None:
    init, _ = read(per_frame_fixture.data)
    with pytest.raises(ValueError, match="at least one sample"):
        FragmentWriter().write([])
    with pytest.raises(ValueError, match="trun v1 field"):
        FragmentWriter().write([Sample(1, 0, 1 << 32, 0, True, b"x")])
    with pytest.raises(ValueError, match="codec 'hvc1"):
        write_init_segment([dataclasses.replace(init.tracks[0], codec="hvc1.1.6.L93.B0")])
    with pytest.raises(ValueError, match="unique"):
        write_init_segment([init.tracks[0], init.tracks[0]])


# --- property: any samples survive write -> read -----------------------------------------

# avcC from libx264 (High, 320x240), as FFmpeg's muxer wrote it.
_AVCC = (
    b"\x01d\x00\x0c\xff\xe1\x00\x18gd\x00\x0c\xac\xd9AA\xfa\x10\x00\x00\x03\x00\x10\x00\x00\x03\x01"
    b"\xe0\xf1B\x99`\x01\x00\x04h\xef\x8f\xcb\xfd\xf8\xf8\x00"
)


def _tracks() -> tuple[TrackInfo, ...]:
    return (
        TrackInfo(1, "video", "avc1.64000C", 90000, 320, 240, codec_config=_AVCC),
        TrackInfo(2, "audio", "mp4a.40.2", 48000, sample_rate=48000, channels=1, codec_config=b"\x11\x88"),
        TrackInfo(3, "audio", "opus", 48000, sample_rate=48000, channels=2),
    )


_samples = st.lists(
    st.builds(
        Sample,
        track_id=st.sampled_from([1, 2, 3]),
        decode_time=st.integers(0, 1 << 40),
        duration=st.integers(0, (1 << 32) - 1),
        composition_offset=st.integers(-(1 << 31), (1 << 31) - 1),
        is_keyframe=st.booleans(),
        data=st.binary(max_size=40),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(batches=st.lists(_samples, min_size=1, max_size=3))
def test_any_samples_round_trip(batches: list[list[Sample]]) -> None:
    writer = FragmentWriter(first_sequence_number=41)
    written = write_init_segment(_tracks()) + b"".join(writer.write(batch) for batch in batches)
    init, fragments = read(written)
    assert init.tracks[0].codec == "avc1.64000C"
    assert [f.sequence_number for f in fragments] == list(range(41, 41 + len(batches)))
    for batch, fragment in zip(batches, fragments):
        order = list(dict.fromkeys(sample.track_id for sample in batch))  # tracks by first appearance
        assert list(fragment.samples) == sorted(batch, key=lambda sample: order.index(sample.track_id))
