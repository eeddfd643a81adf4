"""The passthrough track: hub frames out as the RTP payloads of their access units, cut once."""

import asyncio
import dataclasses
import io
import itertools
from fractions import Fraction

import av
import pytest
from aiortc.codecs.h264 import H264PayloadDescriptor
from aiortc.mediastreams import MediaStreamError

from gateway.media.h264 import NAL_IDR, NAL_PPS, NAL_SPS, split_annexb
from gateway.media.hub import Hub
from gateway.media.rtp_h264 import MAX_PAYLOAD
from gateway.webrtc.stats import WebrtcCounters
from gateway.webrtc.track import RTP_VIDEO_CLOCK, AccessUnits, HubVideoTrack, NotH264Error, RtpClock, RtpUnit

from .conftest import FPS


def publish_clip(hub: Hub, clip, count: int | None = None) -> None:
    hub.publish_init(clip.init)
    for sample in clip.samples[:count]:
        hub.publish(sample, "video")


def decode_annexb(units: list[bytes]) -> int:
    """Frames FFmpeg's H.264 decoder gets out of the concatenated units (the test is the peer)."""
    container = av.open(io.BytesIO(b"".join(units)), format="h264")
    try:
        return sum(1 for _ in container.decode(video=0))
    finally:
        container.close()


def depacketize(unit: RtpUnit) -> bytes:
    """The Annex-B access unit aiortc's depayloader (the test's peer) makes of the payloads."""
    return b"".join(H264PayloadDescriptor.parse(payload)[1] for payload in unit.packetized.payloads)


async def receive(track: HubVideoTrack, count: int) -> list[RtpUnit]:
    return [await asyncio.wait_for(track.next_unit(), 2) for _ in range(count)]


async def test_units_are_rtp_payloads_with_parameter_sets_before_each_idr(clip):
    hub, counters = Hub("cam/high"), WebrtcCounters()
    hub.publish_init(clip.init)
    track = HubVideoTrack(hub.subscribe(), clip.init, AccessUnits(), counters)
    sent = []
    for sample in clip.samples:  # live: one frame published, one sent
        hub.publish(sample, "video")
        sent += await receive(track, 1)
    units = [depacketize(unit) for unit in sent]
    for unit, sample in zip(units, clip.samples):
        types = [nal[0] & 0x1F for nal in split_annexb(unit)]
        if sample.is_keyframe:
            assert types.index(NAL_SPS) < types.index(NAL_PPS) < types.index(NAL_IDR)
        else:
            assert NAL_IDR not in types
    # 90 kHz timestamps, one frame apart, and every frame decodes.
    assert [unit.pts for unit in sent] == [i * RTP_VIDEO_CLOCK // FPS for i in range(len(sent))]
    assert decode_annexb(units) == len(clip.samples)
    assert counters.frames_sent == len(clip.samples)
    assert counters.bytes_sent == sum(unit.packetized.size for unit in sent)
    assert all(len(p) <= MAX_PAYLOAD for unit in sent for p in unit.packetized.payloads)
    track.stop()


async def test_aiortc_path_is_refused_loudly(clip):
    """aiortc's own RTP loop must never run this track (it would packetize per viewer)."""
    track = HubVideoTrack(Hub("cam/high").subscribe(), clip.init, AccessUnits(), WebrtcCounters())
    with pytest.raises(RuntimeError, match="VideoRtpSender"):
        await track.recv()
    track.stop()


async def test_late_joiner_starts_at_the_current_gop_keyframe(clip):
    hub = Hub("cam/high")
    publish_clip(hub, clip, count=FPS + 4)  # a GOP and 4 frames of the next one
    track = HubVideoTrack(hub.subscribe(), clip.init, AccessUnits(), WebrtcCounters())
    first = await asyncio.wait_for(track.next_unit(), 2)
    assert first.pts == FPS * RTP_VIDEO_CLOCK // FPS  # the second GOP's IDR
    rest = await receive(track, 3)
    assert decode_annexb([depacketize(unit) for unit in [first, *rest]]) == 4
    track.stop()


async def test_backlog_at_first_recv_is_cut_to_the_newest_keyframe(clip):
    hub, counters = Hub("cam/high"), WebrtcCounters()
    hub.publish_init(clip.init)
    track = HubVideoTrack(hub.subscribe(), clip.init, AccessUnits(), counters)
    for sample in clip.samples[: 2 * FPS + 2]:  # queued while ICE/DTLS was connecting
        hub.publish(sample, "video")
    first = await asyncio.wait_for(track.next_unit(), 2)
    assert first.pts == 2 * RTP_VIDEO_CLOCK
    assert counters.frames_skipped == 2 * FPS
    track.stop()


async def test_discontinuity_resumes_on_a_keyframe_with_a_wall_clock_gap(clip):
    hub = Hub("cam/high")
    hub.publish_init(clip.init)
    track = HubVideoTrack(hub.subscribe(), clip.init, AccessUnits(), WebrtcCounters())
    for sample in clip.samples[:3]:
        hub.publish(sample, "video")
    before = await receive(track, 3)
    hub.publish_discontinuity("stall")
    # The upstream comes back mid-GOP first (the source's timeline continues after the last frame).
    last = clip.samples[2]
    resumed = [
        dataclasses.replace(s, decode_time=last.decode_time + (i + 1) * last.duration)
        for i, s in enumerate(clip.samples[FPS - 2 : FPS + 2])
    ]
    await asyncio.sleep(0.3)
    for sample in resumed:
        hub.publish(sample, "video")
    after = await receive(track, 2)
    assert [unit.packetized for unit in after] == [AccessUnits().get(f, track._config) for f in hub._gop[:2]]
    gap = after[0].pts - before[-1].pts
    assert gap >= 0.3 * RTP_VIDEO_CLOCK, "the RTP clock shows the pause"
    track.stop()


async def test_shared_access_units_are_converted_once_per_frame(clip):
    hub, units = Hub("cam/high"), AccessUnits()
    hub.publish_init(clip.init)
    tracks = [HubVideoTrack(hub.subscribe(), clip.init, units, WebrtcCounters()) for _ in range(5)]
    for sample in clip.samples[:FPS]:
        hub.publish(sample, "video")
    for track in tracks:
        await receive(track, FPS)
        track.stop()
    assert units.conversions == FPS


async def test_hub_close_ends_the_track(clip):
    hub = Hub("cam/high")
    hub.publish_init(clip.init)
    track = HubVideoTrack(hub.subscribe(), clip.init, AccessUnits(), WebrtcCounters())
    hub.close()
    with pytest.raises(MediaStreamError):
        await asyncio.wait_for(track.next_unit(), 2)
    assert track.readyState == "ended"


async def test_stop_unsubscribes_the_reader(clip):
    hub = Hub("cam/high")
    hub.publish_init(clip.init)
    track = HubVideoTrack(hub.subscribe(), clip.init, AccessUnits(), WebrtcCounters())
    assert hub.reader_count == 1
    track.stop()
    assert hub.reader_count == 0


def test_non_h264_stream_is_refused(clip):
    video = dataclasses.replace(clip.init.track("video"), codec="hvc1.1.6.L93.B0")
    init = dataclasses.replace(clip.init, tracks=(video,))
    with pytest.raises(NotH264Error, match=r"hvc1\.1\.6\.L93\.B0, not H\.264"):
        HubVideoTrack(Hub("x").subscribe(), init, AccessUnits(), WebrtcCounters())


def test_rtp_clock_rescales_and_stays_monotonic(clip):
    clock = RtpClock(timescale=15360)
    frames = [type("F", (), {"sample": s, "published_at": i / FPS})() for i, s in enumerate(clip.samples[:5])]
    first = [clock.pts(f) for f in frames]
    assert all(b - a == RTP_VIDEO_CLOCK // FPS for a, b in itertools.pairwise(first))


def test_codec_spy_sees_aiortc_decoders_and_encoders(codec_spy, clip):
    """The spy used by the no-decode checks does see aiortc's codec work when it happens."""
    from aiortc.codecs.h264 import H264Decoder, H264Encoder
    from aiortc.jitterbuffer import JitterFrame

    from gateway.media.h264 import START_CODE, access_unit_nals, parse_avcc

    config = parse_avcc(clip.init.track("video").codec_config)
    decoder = H264Decoder()
    unit = START_CODE + START_CODE.join(access_unit_nals(clip.samples[0].data, config, True))
    assert decoder.decode(JitterFrame(unit, 0))
    frame = av.VideoFrame(width=64, height=64, format="yuv420p")
    frame.pts, frame.time_base = 0, Fraction(1, 90000)
    H264Encoder().encode(frame)
    assert (codec_spy.h264_decoders, codec_spy.h264_encodes) == (1, 1)
    assert [name for name, _ in codec_spy.codec_contexts] == ["h264", "libx264"]
