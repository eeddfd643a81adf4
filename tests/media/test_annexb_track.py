"""Annex-B access units (as FFmpeg's RTP depacketizer hands them out) to init + AVCC samples."""

from __future__ import annotations

from fractions import Fraction

import av
import pytest

from gateway.media.annexb_track import TIMESCALE, AnnexBTrack
from gateway.media.fmp4.model import Fragment, InitSegment
from gateway.media.h264 import NAL_AUD, NAL_PPS, NAL_SPS, START_CODE, parse_avcc, split_annexb, split_avcc


def encode(width: int, height: int, frames: int) -> list[tuple[bytes, int, bool]]:
    """libx264 Annex-B access units (parameter sets in band, an AUD first) with 90 kHz dts."""
    context = av.CodecContext.create("libx264", "w")
    context.width, context.height, context.pix_fmt = width, height, "yuv420p"
    context.time_base = Fraction(1, 15)
    context.options = {"bframes": "0", "x264-params": "aud=1:keyint=5", "preset": "ultrafast"}
    units = []
    for index in range(frames):
        frame = av.VideoFrame(width, height, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes([index * 7 % 256]) * plane.buffer_size)
        frame.pts = index
        units += [(bytes(p), p.dts * TIMESCALE // 15, p.is_keyframe) for p in context.encode(frame)]
    units += [(bytes(p), p.dts * TIMESCALE // 15, p.is_keyframe) for p in context.encode(None)]
    return units


def feed_all(track: AnnexBTrack, units) -> list:
    return [event for data, dts, key in units for event in track.feed(data, dts, dts, key)]


def test_init_from_the_parameter_sets_then_samples_with_durations_from_the_next_frame():
    units = encode(320, 180, 10)
    events = feed_all(AnnexBTrack(), units)
    init, *fragments = events
    assert isinstance(init, InitSegment) and all(isinstance(event, Fragment) for event in fragments)
    video = init.track("video")
    assert (video.width, video.height, video.timescale) == (320, 180, TIMESCALE)
    assert video.codec == parse_avcc(video.codec_config).codec_string
    samples = [fragment.samples[0] for fragment in fragments]
    assert len(samples) == 9  # the last waits for a next frame that never comes
    assert all(sample.duration == TIMESCALE // 15 for sample in samples)
    assert [sample.decode_time for sample in samples] == [dts for _, dts, _ in units[:9]]
    assert [sample.is_keyframe for sample in samples] == [key for _, _, key in units[:9]]
    for sample, (data, _, _) in zip(samples, units):
        nals = split_avcc(sample.data)
        # The same slices; parameter sets live in the avcC and delimiters are dropped.
        assert nals == [nal for nal in split_annexb(data) if nal[0] & 0x1F not in (NAL_SPS, NAL_PPS, NAL_AUD)]


def test_nothing_before_the_parameter_sets_unless_the_sdp_gave_them():
    units = encode(320, 180, 6)
    without_parameter_sets = [
        (
            START_CODE + START_CODE.join(nal for nal in split_annexb(data) if nal[0] & 0x1F not in (NAL_SPS, NAL_PPS)),
            dts,
            key,
        )
        for data, dts, key in units
    ]
    assert feed_all(AnnexBTrack(), without_parameter_sets) == []
    sprop = START_CODE + START_CODE.join(
        nal for data, _, _ in units[:1] for nal in split_annexb(data) if nal[0] & 0x1F in (NAL_SPS, NAL_PPS)
    )
    events = feed_all(AnnexBTrack(parameter_sets=sprop), without_parameter_sets)
    assert isinstance(events[0], InitSegment) and len(events) == 1 + 5


def test_new_parameter_sets_give_a_new_init_after_the_old_pictures():
    small = encode(320, 180, 3)
    large = encode(640, 360, 3)
    step = small[-1][1] + TIMESCALE // 15
    events = feed_all(AnnexBTrack(), small + [(data, dts + step, key) for data, dts, key in large])
    kinds = [type(event).__name__ for event in events]
    assert kinds == ["InitSegment", "Fragment", "Fragment", "Fragment", "InitSegment", "Fragment", "Fragment"]
    assert (events[4].track("video").width, events[4].track("video").height) == (640, 360)


@pytest.mark.parametrize("cut", [b"", b"\x00\x00\x01"])
def test_an_empty_access_unit_only_lets_the_previous_one_out(cut):
    units = encode(320, 180, 1)
    track = AnnexBTrack()
    assert [type(event).__name__ for event in track.feed(units[0][0], 0, 0, True)] == ["InitSegment"]
    # The first picture goes out when the next access unit comes, even an empty one.
    assert [fragment.samples[0].decode_time for fragment in track.feed(cut, 6000, 6000, False)] == [0]
    assert track.feed(cut, 12000, 12000, False) == []
