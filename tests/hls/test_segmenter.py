import pytest

from gateway.hls.segmenter import Segmenter
from gateway.media.fmp4 import Fmp4Reader, FragmentWriter
from gateway.media.hub import Discontinuity

from .synthetic import FrameClock, video_init


def segmenter(window=7, part=0.2, minimum=1.0, **kwargs) -> Segmenter:
    seg = Segmenter(FragmentWriter().write, part_target=part, segment_min_duration=minimum,
                    window_segments=window, clock=lambda: 0.0, **kwargs)
    seg.push(video_init(), 1000.0)
    return seg


def feed(seg: Segmenter, frames) -> list:
    done = []
    for frame in frames:
        done += seg.push(frame, 1000.0 + frame.published_at)
    return done


def test_segments_cut_at_keyframes_after_min_duration_and_parts_of_part_target():
    seg = segmenter()
    clock = FrameClock(fps=15, gop=15)
    feed(seg, clock.frames(15 * 3 + 1))  # three GOPs and the keyframe that closes the third
    assert [s.msn for s in seg.segments] == [0, 1, 2]
    for s in seg.segments:
        assert s.duration == pytest.approx(1.0)
        assert [round(p.duration, 3) for p in s.parts] == [0.2] * 5  # 3 frames of 1/15 s each
        assert [p.independent for p in s.parts] == [True, False, False, False, False]
        assert [p.index for p in s.parts] == [0, 1, 2, 3, 4]
        assert s.data == b"".join(p.data for p in s.parts)
    assert seg.open is not None and seg.open.msn == 3 and seg.open.parts == []


def test_short_gop_segments_span_keyframes_until_min_duration():
    seg = segmenter()
    clock = FrameClock(fps=15, gop=10)  # keyframe every 0.667 s
    feed(seg, clock.frames(41))
    # 0.667 s < 1.0 s: the second keyframe (1.333 s) cuts; each segment two GOPs.
    assert [round(s.duration, 3) for s in seg.segments] == [1.333, 1.333]
    first = seg.segments[0]
    assert [p.independent for p in first.parts] == [True, False, False, False, False, False, False]
    # a part never crosses a segment boundary, and the keyframe mid-segment starts a part
    # only by chance of the grid: here part 3 (frames 9..11) holds keyframe 10 but starts at 9
    assert sum(len(p.data) > 0 for p in first.parts) == len(first.parts)
    assert all(p.duration <= 0.2 + 1e-9 for s in seg.segments for p in s.parts)


def test_parts_at_25_fps_hold_five_frames():
    seg = segmenter()
    feed(seg, FrameClock(fps=25, gop=25).frames(26))
    assert [round(p.duration, 3) for p in seg.segments[0].parts] == [0.2] * 5
    assert seg.part_target_duration == 0.2


def test_frames_before_the_first_keyframe_are_skipped():
    seg = segmenter()
    clock = FrameClock(fps=15, gop=15)
    clock.index = 5  # join mid-GOP
    feed(seg, clock.frames(10 + 15 + 1))
    assert len(seg.segments) == 1 and seg.segments[0].start_time == 15 * clock.duration


def test_window_slides_media_sequence_and_forgets_old_parts():
    seg = segmenter(window=3)
    feed(seg, FrameClock().frames(15 * 5 + 1))
    assert [s.msn for s in seg.segments] == [2, 3, 4]
    assert seg.media_sequence == 2
    assert seg.segment(1) is None and seg.segment(2) is not None
    # parts are kept for the two newest closed segments only (RFC 8216bis 6.2.2)
    kept = {p.id for p in seg.parts.values()}
    assert kept == {p.id for s in list(seg.segments)[-2:] for p in s.parts}
    assert seg.next_part_id == 25


def test_discontinuity_marks_next_segment_and_counts_when_it_slides_out():
    seg = segmenter(window=3)
    clock = FrameClock()
    feed(seg, clock.frames(15 + 7))  # one segment, half of the next
    done = seg.push(Discontinuity("drop"), 0.0)
    assert len(done) == 1  # the pending part is flushed, the half segment closes
    assert [s.discontinuity for s in seg.segments] == [False, False]
    assert seg.segments[1].duration == pytest.approx(7 / 15)
    feed(seg, clock.frames(1))  # not a keyframe: waits for one
    assert seg.open is None
    clock.index = 30
    feed(seg, clock.frames(15 * 2 + 1))
    assert [s.discontinuity for s in seg.segments] == [False, True, False]
    assert seg.discontinuity_sequence == 0
    feed(seg, clock.frames(15 * 2))
    assert [s.discontinuity for s in seg.segments] == [False, False, False]
    assert seg.discontinuity_sequence == 1


def test_new_init_versions_the_map_and_old_versions_go_with_their_segments():
    seg = segmenter(window=3)
    clock = FrameClock()
    feed(seg, clock.frames(15 + 1))
    seg.push(video_init(), 0.0)  # same bytes: nothing changes
    assert seg.init_version == 1
    seg.push(video_init(b"B"), 0.0)
    assert seg.init_version == 2 and seg.inits == {1: b"init-A", 2: b"init-B"}
    clock.index = 30
    feed(seg, clock.frames(15 + 1))
    assert seg.segments[-1].discontinuity and seg.segments[-1].init_version == 2
    feed(seg, clock.frames(15 * 3))
    assert [s.init_version for s in seg.segments] == [2, 2, 2]
    assert seg.inits == {2: b"init-B"}
    # the segment after the init change was a discontinuity; it slid out and was counted
    assert seg.discontinuity_sequence == 1


def test_blocking_reload_targets():
    seg = segmenter()
    clock = FrameClock()
    feed(seg, clock.frames(15 + 7))  # segment 0 closed (5 parts), open segment 1 with 2 parts
    assert seg.open_msn == 1 and len(seg.open.parts) == 2
    assert seg.has_part(0, None) and not seg.has_part(1, None)
    assert seg.has_part(1, 1) and not seg.has_part(1, 2)
    # past the last part of segment 0 means part 0 of segment 1 (RFC 8216bis 6.2.5.2)
    assert seg.has_part(0, 5) and seg.has_part(0, 4)
    # RFC 8216bis 6.2.5.2: too far ahead is more than msn+2 of the last segment, or past
    # the Advance Part Limit
    assert not seg.too_far_ahead(2, 0) and not seg.too_far_ahead(2, None)
    assert seg.too_far_ahead(3, None) and seg.too_far_ahead(3, 0)
    assert not seg.too_far_ahead(1, 4) and seg.too_far_ahead(1, 5)
    assert seg.too_far_ahead(2, 3)


def test_part_bytes_are_fmp4_fragments_with_continuous_decode_times():
    from gateway.media.fmp4 import InitSegment, TrackInfo, write_init_segment

    avcc = bytes.fromhex("0142c01effe1000a67 42c01e d9 01 40 16 e8 40 01000468ce3c80".replace(" ", ""))
    track = TrackInfo(1, "video", "avc1.42C01E", 90000, 320, 240, codec_config=avcc)
    init = InitSegment(write_init_segment((track,)), (track,))
    seg = Segmenter(FragmentWriter().write, part_target=0.2, segment_min_duration=1.0, window_segments=7,
                    clock=lambda: 0.0)
    seg.push(init, 0.0)
    feed(seg, FrameClock().frames(31))
    reader = Fmp4Reader()
    events = reader.feed(init.data + seg.segments[0].data + seg.segments[1].data)
    times = [s.decode_time for e in events if hasattr(e, "samples") for s in e.samples]
    assert times == [i * 6000 for i in range(30)]
