from dataclasses import replace

import pytest

from gateway.config import HlsConfig
from gateway.hls.muxer import HlsMuxer
from gateway.hls.playlist import render_media
from gateway.hls.segmenter import Segmenter
from gateway.media.fmp4 import Fmp4Reader, FragmentWriter, Sample
from gateway.media.hub import Discontinuity, Frame

from .rfc8216_validator import MediaHistory, assert_valid
from .synthetic import FrameClock, video_init


def segmenter(window=7, part=0.2, minimum=1.0, **kwargs) -> Segmenter:
    seg = Segmenter(
        FragmentWriter().write,
        part_target=part,
        segment_min_duration=minimum,
        window_segments=window,
        clock=lambda: 0.0,
        **kwargs,
    )
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
    assert seg.part_target_duration == 0.204  # the longest part plus PART_SLACK, to the ms above


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
    seg = Segmenter(
        FragmentWriter().write, part_target=0.2, segment_min_duration=1.0, window_segments=7, clock=lambda: 0.0
    )
    seg.push(init, 0.0)
    feed(seg, FrameClock().frames(31))
    reader = Fmp4Reader()
    events = reader.feed(init.data + seg.segments[0].data + seg.segments[1].data)
    times = [s.decode_time for e in events if hasattr(e, "samples") for s in e.samples]
    assert times == [i * 6000 for i in range(30)]


# -- targets fixed for the playlist's life (RFC 8216 4.3.3.1, 6.2.1) ----------------------------


def test_the_target_comes_from_the_measured_gop_and_never_changes():
    seg = segmenter(minimum=1.0)
    clock = FrameClock(fps=15, gop=30)  # a 2 s GOP: two-second segments
    feed(seg, clock.frames(31))
    assert seg.target_duration == 2 and seg.segments[0].duration == pytest.approx(2.0)
    clock.gop = 15  # the GOP shrinks: segments of 1 s, the target stays
    feed(seg, clock.frames(60))
    assert seg.target_duration == 2 and seg.segments_cut == 0


def test_a_gop_longer_than_the_target_is_cut_at_part_boundaries():
    seg = segmenter(minimum=1.0)
    clock = FrameClock(fps=15, gop=15)
    feed(seg, clock.frames(16))
    assert seg.target_duration == 1
    clock.gop = 60  # the camera now sends a keyframe every 4 s: frames 60, 120...
    feed(seg, clock.frames(45))  # frames 16..60
    # every segment at most the target: the GOP from frame 15 is cut at 30 and 45, on part
    # boundaries, and those segments start mid-GOP; the keyframe at 60 ends the last one
    assert seg.target_duration == 1 and all(s.duration <= 1.0 + 1e-9 for s in seg.segments)
    assert seg.segments_cut == 2
    assert [s.independent for s in seg.segments] == [True, True, False, False]
    cut = seg.segments[-1]
    assert [p.independent for p in cut.parts] == [False] * 5 and cut.start_time == seg.segments[-2].start_time + 90000
    assert seg.open is not None and seg.open.independent  # the keyframe at 4 s starts the next one


def test_part_target_is_whole_frames_at_12_fps():
    seg = segmenter()
    feed(seg, FrameClock(fps=12, gop=12).frames(13))
    # two frames of 1/12 s a part: the PART-TARGET that keeps them at >= 85 % of it
    assert {round(p.duration, 4) for p in seg.segments[0].parts} == {0.1667}
    assert seg.part_target_duration == 0.17  # 0.1667 x PART_SLACK, to the ms above


def test_jittering_frame_durations_keep_parts_within_the_part_target():
    seg = segmenter()
    clock = FrameClock(fps=15, gop=15)
    feed(seg, clock.frames(16))
    target = seg.part_target_duration
    sample_time = clock.index * clock.duration
    for n in range(45):  # durations 6000 +- 90 ticks (1.5 %)
        duration = 6000 + (90 if n % 2 else -90)
        sample = Sample(1, sample_time, duration, 0, n % 15 == 14, b"f")
        seg.push(Frame(sample, "video", 0.0), 0.0)
        sample_time += duration
    parts = [p for s in seg.segments for p in s.parts]
    assert all(p.duration <= target + 1e-9 for p in parts)


def test_program_date_time_is_the_cameras_capture_time_when_the_stream_tells_it():
    seg = segmenter()
    clock = FrameClock(fps=15, gop=15)
    camera_epoch = 1_767_225_600.0  # the camera's clock for decode time 0
    for frame in clock.frames(15 * 3 + 1):
        stamped = replace(frame.sample, captured_at=camera_epoch + frame.sample.decode_time / 90000)
        seg.push(replace(frame, sample=stamped), 5.0)  # arrival says something else entirely
    assert [s.program_date_time for s in seg.segments] == pytest.approx(
        [camera_epoch, camera_epoch + 1, camera_epoch + 2]
    )
    # without it: the first frame's arrival, then media time
    plain = segmenter()
    feed(plain, FrameClock().frames(15 * 2 + 1))
    assert [s.program_date_time for s in plain.segments] == pytest.approx([1000.0 + 1 / 15, 1000.0 + 1 + 1 / 15])


def test_the_muxers_playlists_stay_valid_while_the_gop_grows_and_the_upstream_reconnects():
    """Every playlist the muxer answers with, through a GOP change and a discontinuity,
    checked against the RFC validator as one reload history."""
    muxer = HlsMuxer("cam", "high", HlsConfig(window_segments=7))
    muxer.feed(video_init())
    history = MediaHistory("cam/high")
    clock = FrameClock(fps=15, gop=15)
    for step in range(200):
        if step == 60:
            clock.gop = 45  # 3 s GOPs under a 1 s target
        if step == 140:
            muxer.feed(Discontinuity("reconnect"))
            clock.index = (clock.index // clock.gop + 1) * clock.gop  # WEP resumes at a keyframe
        muxer.feed(clock.next())
        if muxer.segmenter.segments:  # rendered afresh: the muxer's cache is its hub task's
            history.add(render_media(muxer.describe("", delta=False)))
            history.add(render_media(muxer.describe("", delta=True)), {"_HLS_skip": "YES"})
    assert_valid(history.finish())
    assert history.answers == 2 * 200 - 2 * 15 and history.last is not None and history.last.skipped
    assert muxer.segmenter.segments_cut >= 2 and muxer.segmenter.target_duration == 1


def test_a_reconnect_that_replays_the_gop_is_skipped_to_the_first_new_keyframe():
    seg = segmenter()
    clock = FrameClock(fps=15, gop=15)
    epoch = 1_767_225_600.0

    def push(frames, decode_offset=0):
        for frame in frames:
            sample = replace(
                frame.sample,
                decode_time=frame.sample.decode_time + decode_offset,
                captured_at=epoch + frame.sample.decode_time / 90000,
            )
            seg.push(replace(frame, sample=sample), 0.0)

    push(clock.frames(15 + 8))  # one segment and 8 frames: the camera's time reached 23/15 s
    seg.push(Discontinuity("reconnect"), 0.0)
    clock.index = 15  # WEP starts the new connection at its latest keyframe: frames 15.. again
    push(clock.frames(15 + 16), decode_offset=8 * 6000)  # the source's timeline goes on
    assert seg.frames_replayed == 8  # frames 15..22 were segmented already
    resumed = next(s for s in seg.segments if s.discontinuity)
    # frames 23..29 are not a decodable start: the keyframe at 30 (2 s) starts the next segment
    assert resumed.program_date_time == pytest.approx(epoch + 2.0)
    dates = [s.program_date_time for s in seg.segments]
    assert dates == sorted(dates)
