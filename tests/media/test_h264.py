"""H.264 helpers against libx264 output and FFmpeg's h264_mp4toannexb filter."""

from __future__ import annotations

import io
from fractions import Fraction
from typing import TYPE_CHECKING

import av
import numpy as np
import pytest
from av.bitstream import BitStreamFilterContext

from gateway.media import h264
from gateway.media.fmp4 import Fmp4Reader, Fragment, InitSegment

if TYPE_CHECKING:
    from conftest import Fmp4Fixture


def read(data: bytes) -> tuple[InitSegment, list]:
    events = Fmp4Reader().feed(data)
    return events[0], [s for e in events if isinstance(e, Fragment) for s in e.samples if s.track_id == 1]


def encode_annexb(width: int, height: int, pix_fmt: str, options: dict[str, str] | None = None) -> list[bytes]:
    """The NAL units of one frame straight from libx264 (Annex-B, SPS/PPS in band)."""
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, pix_fmt
    codec.time_base = Fraction(1, 15)
    codec.options = {"preset": "ultrafast", **(options or {})}
    frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), 90, np.uint8), format="rgb24").reformat(
        format=pix_fmt
    )
    frame.pts = 0
    packets = [*codec.encode(frame), *codec.encode(None)]
    return h264.split_annexb(bytes(packets[0]))


@pytest.mark.parametrize(
    ("width", "height", "pix_fmt", "options", "profile"),
    [
        (320, 240, "yuv420p", {}, 66),  # ultrafast: Constrained Baseline, no cropping
        (322, 182, "yuv420p", {}, 66),  # cropping in 4:2:0 units
        (176, 144, "yuv422p", {}, 122),  # High 4:2:2: chroma_format_idc in the SPS
        (202, 118, "yuv444p", {}, 244),  # High 4:4:4: crop units of 1 sample
        (320, 180, "yuv420p", {"x264-params": "interlaced=1"}, 66),  # field coding: frame_mbs_only 0
    ],
)
def test_sps_dimensions_match_encoded_size(width: int, height: int, pix_fmt: str, options: dict, profile: int) -> None:
    nals = encode_annexb(width, height, pix_fmt, options)
    sps = next(nal for nal in nals if h264.nal_type(nal) == h264.NAL_SPS)
    info = h264.parse_sps(sps)
    if "interlaced" not in str(options):
        assert info.profile_idc == profile
    else:
        assert info.profile_idc >= 77  # x264 needs Main or above for interlaced coding
    assert h264.sps_dimensions(sps) == (width, height)
    assert h264.nal_type(nals[-1]) == h264.NAL_IDR


def test_parse_avcc_of_ffmpeg_record(per_frame_fixture: Fmp4Fixture) -> None:
    init, _ = read(per_frame_fixture.data)
    video = init.track("video")
    config = h264.parse_avcc(video.codec_config)
    assert (config.profile, config.nal_length_size, len(config.sps), len(config.pps)) == (100, 4, 1, 1)
    assert config.codec_string == video.codec == f"avc1.64{config.compatibility:02X}{config.level:02X}"
    assert config.profile_level_id == config.codec_string[5:].lower()
    # build_avcc writes the same record FFmpeg did, High-profile extension fields included.
    assert h264.build_avcc(config.sps[0], config.pps[0]) == video.codec_config


def test_codec_strings_main_profile() -> None:
    sps = bytes((0x67, 0x4D, 0x40, 0x1F)) + b"\xda\x02\x80\xbf\xe5\x80"
    config = h264.parse_avcc(h264.build_avcc(sps, b"\x68\xce\x3c\x80"))
    assert config.codec_string == "avc1.4D401F"  # as the WEP MPD writes it
    assert config.profile_level_id == "4d401f"  # RFC 6184 profile-level-id


def test_annexb_round_trip_and_ffmpeg_filter_agree(per_frame_fixture: Fmp4Fixture) -> None:
    init, samples = read(per_frame_fixture.data)
    config = h264.parse_avcc(init.track("video").codec_config)
    stream = av.open(io.BytesIO(per_frame_fixture.data)).streams.video[0]
    annexb_filter = BitStreamFilterContext("h264_mp4toannexb", stream)
    for sample in samples:
        nals = h264.split_avcc(sample.data)
        assert h264.split_annexb(h264.avcc_to_annexb(sample.data)) == nals
        ours = h264.access_unit_nals(sample.data, config, sample.is_keyframe)
        packet = av.Packet(sample.data)
        (theirs,) = annexb_filter.filter(packet)
        assert ours == h264.split_annexb(bytes(theirs))
        if sample.is_keyframe:
            types = [h264.nal_type(nal) for nal in ours]
            assert types.index(h264.NAL_SPS) < types.index(h264.NAL_PPS) < types.index(h264.NAL_IDR)


def test_access_unit_parameter_sets_placement() -> None:
    sps, pps = b"\x67\x42\xc0\x1e\xda", b"\x68\xce\x3c\x80"
    config = h264.parse_avcc(h264.build_avcc(sps, pps))
    aud, sei, idr, slice_ = b"\x09\xf0", b"\x06\x05\x01\x80", b"\x65\x88\x80", b"\x41\x9a\x02"

    def avcc(*nals: bytes) -> bytes:
        return b"".join(len(nal).to_bytes(4, "big") + nal for nal in nals)

    key = h264.access_unit_nals(avcc(aud, sei, idr), config, keyframe=True)
    assert key == [aud, sei, sps, pps, idr]  # after AUD/SEI, before the first slice
    already = h264.access_unit_nals(avcc(sps, pps, idr), config, keyframe=True)
    assert already == [sps, pps, idr]
    delta = h264.access_unit_nals(avcc(slice_), config, keyframe=False)
    assert delta == [slice_]
    assert h264.avcc_to_annexb(b"\x00\x03" + idr, nal_length_size=2) == b"\x00\x00\x00\x01" + idr


def test_split_annexb_three_and_four_byte_start_codes() -> None:
    data = b"\x00\x00\x00\x01\x67\x42\x00\x00\x01\x68\xce\x00\x00\x00\x00\x01\x65\x88"
    assert h264.split_annexb(data) == [b"\x67\x42", b"\x68\xce", b"\x65\x88"]
    assert h264.split_annexb(b"") == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: h264.parse_avcc(b"\x01\x64"), "shorter than its 7-byte header"),
        (lambda: h264.parse_avcc(b"\x02\x64\x00\x1f\xff\xe1\x00"), "configurationVersion is 2"),
        (lambda: h264.parse_avcc(b"\x01\x64\x00\x1f\xff\xe1\x00\x10\x67"), "SPS of 16 bytes does not fit"),
        (lambda: h264.avcc_to_annexb(b"\x00\x00\x00\x09\x65"), "does not fit the 5-byte sample"),
        (lambda: h264.avcc_to_annexb(b"\x00\x00"), "truncated in a NAL length"),
        (lambda: h264.nal_type(b""), "empty NAL unit"),
        (lambda: h264.sps_dimensions(b"\x68\xce\x3c\x80"), "not an SPS"),
        (lambda: h264.sps_dimensions(b"\x67\x42\xc0\x1e"), "SPS truncated"),
        (lambda: h264.build_avcc(b"\x68\x00\x00\x00", b"\x68"), "needs an SPS"),
    ],
)
def test_errors_are_h264_errors(call, message: str) -> None:
    with pytest.raises(h264.H264Error, match=message) as raised:
        call()
    assert isinstance(raised.value, ValueError)
