"""The muxer between a real hub and waiting requests, without a network."""

import asyncio

import pytest

from gateway.config import HlsConfig
from gateway.hls.muxer import HlsMuxer, MuxerClosed
from gateway.media.hub import Hub

from .synthetic import FrameClock, video_init

pytestmark = pytest.mark.timeout(30)


async def started_muxer(hub: Hub) -> HlsMuxer:
    muxer = HlsMuxer("cam", "high", HlsConfig())
    muxer.start(hub.subscribe(queue_frames=1024))
    return muxer


async def publish(hub: Hub, clock: FrameClock, count: int) -> None:
    for frame in clock.frames(count):
        hub.publish(frame.sample, frame.kind)
    await asyncio.sleep(0)  # let the muxer task drain its reader


async def test_a_blocked_request_is_answered_when_its_part_completes():
    hub = Hub("cam/high")
    hub.publish_init(video_init())
    muxer = await started_muxer(hub)
    clock = FrameClock()
    await publish(hub, clock, 16)
    segmenter = muxer.segmenter
    assert len(segmenter.segments) == 1
    msn = segmenter.open_msn
    waiter = asyncio.ensure_future(muxer.wait_until(lambda: segmenter.has_part(msn, 1), 5.0, measure=True))
    await publish(hub, clock, 2)  # part 0 of the open segment is still one frame short
    assert not waiter.done()
    await publish(hub, clock, 4)
    assert await asyncio.wait_for(waiter, 1.0) is True
    assert muxer.counters.part_delivery_delay.total == 1
    # the rendered playlist is shared until the next part
    assert muxer.media_playlist("", False) is muxer.media_playlist("", False)
    muxer.close()


async def test_a_wait_gives_up_at_its_timeout_and_leaves_others_waiting():
    hub = Hub("cam/high")
    hub.publish_init(video_init())
    muxer = await started_muxer(hub)
    patient = asyncio.ensure_future(muxer.wait_until(lambda: len(muxer.segmenter.segments) > 0, 5.0))
    assert await muxer.wait_until(lambda: False, 0.05) is False
    await publish(hub, FrameClock(), 16)
    assert await asyncio.wait_for(patient, 1.0) is True
    muxer.close()


async def test_waiters_learn_when_the_source_goes_away():
    hub = Hub("cam/high")
    hub.publish_init(video_init())
    muxer = await started_muxer(hub)
    waiter = asyncio.ensure_future(muxer.wait_until(lambda: False, 5.0))
    await asyncio.sleep(0)
    hub.close()
    with pytest.raises(MuxerClosed):
        await asyncio.wait_for(waiter, 1.0)
    assert hub.reader_count == 0
