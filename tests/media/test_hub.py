"""The hub's contract: the publisher never waits; slow readers lose whole GOPs and
resume on a keyframe; late joiners start at the current GOP; memory is bounded."""

import asyncio
import itertools

import pytest

from gateway.media.fmp4.model import InitSegment, Sample
from gateway.media.hub import Discontinuity, Frame, Hub, HubClosed

GOP = 15
INIT = InitSegment(b"init", ())


def sample(index: int, size: int = 100) -> Sample:
    return Sample(1, index * 6000, 6000, 0, index % GOP == 0, index.to_bytes(4, "big") * (size // 4))


def publish_frames(hub: Hub, start: int, count: int) -> None:
    for index in range(start, start + count):
        hub.publish(sample(index), "video")


def drain(reader) -> list:
    items = []
    while (item := reader.get_nowait()) is not None:
        items.append(item)
    return items


def frame_indexes(items) -> list[int]:
    return [item.sample.decode_time // 6000 for item in items if isinstance(item, Frame)]


def assert_clean_chain(indexes: list[int]) -> None:
    """Starts on a keyframe; every gap in the sequence ends on a keyframe."""
    assert indexes and indexes[0] % GOP == 0
    for before, after in itertools.pairwise(indexes):
        assert after > before
        if after != before + 1:
            assert after % GOP == 0, f"resumed at {after}, not a keyframe"


def test_new_reader_gets_init_and_current_gop_first():
    hub = Hub("cam/high")
    hub.publish_init(INIT)
    publish_frames(hub, 0, 20)  # GOP 0..14 done, GOP 15.. current
    reader = hub.subscribe()
    items = drain(reader)
    assert items[0] is INIT
    assert frame_indexes(items) == list(range(15, 20))


def test_reader_joining_before_any_keyframe_waits_for_one():
    hub = Hub("cam/high")
    hub.publish_init(INIT)
    publish_frames(hub, 3, 5)  # stream joined mid-GOP: no keyframe yet
    reader = hub.subscribe()
    publish_frames(hub, 8, 10)  # 8..17, keyframe at 15
    assert frame_indexes(drain(reader)) == [15, 16, 17]


def test_slow_reader_loses_whole_gops_and_resumes_on_keyframe_while_others_get_everything():
    hub = Hub("cam/high", queue_frames=20)
    hub.publish_init(INIT)
    fast, stalled, slow = hub.subscribe(), hub.subscribe(), hub.subscribe()
    fast_items, slow_items = [], []
    for index in range(310):
        hub.publish(sample(index), "video")  # synchronous: the publisher never awaits a reader
        fast_items += drain(fast)
        if index % 3 == 0:  # reads one item per three published
            item = slow.get_nowait()
            if item is not None:
                slow_items.append(item)
    assert frame_indexes(fast_items) == list(range(310))
    assert fast.frames_dropped == 0
    # The stalled reader holds at most its bound, however long the stream runs.
    assert stalled.queued <= 20 + 1
    assert stalled.gops_dropped > 0 and stalled.frames_dropped > 250
    slow_items += drain(slow)
    assert slow.gops_dropped > 0
    assert_clean_chain(frame_indexes(slow_items))
    assert_clean_chain(frame_indexes(drain(stalled)))
    counters = hub.counters
    assert counters.frames_dropped == fast.frames_dropped + stalled.frames_dropped + slow.frames_dropped
    assert counters.gops_dropped == stalled.gops_dropped + slow.gops_dropped


def test_gop_memory_is_bounded_and_never_half_kept():
    hub = Hub("cam/high", max_gop_bytes=1000)
    hub.publish_init(INIT)
    publish_frames(hub, 0, 14)  # 14 x 100 bytes > 1000: the GOP is too big to keep
    late = hub.subscribe()
    assert frame_indexes(drain(late)) == []
    publish_frames(hub, 14, 3)
    assert frame_indexes(drain(late)) == [15, 16]


def test_discontinuity_and_new_init_reach_readers_even_when_they_overflow():
    hub = Hub("cam/high", queue_frames=5)
    hub.publish_init(INIT)
    reader = hub.subscribe()
    publish_frames(hub, 0, 3)
    hub.publish_discontinuity("stall")
    new_init = InitSegment(b"init2", ())
    hub.publish_init(new_init)
    publish_frames(hub, 15, 18)  # overflows at 17, resumes at the keyframe 30
    items = drain(reader)
    assert any(isinstance(item, Discontinuity) and item.reason == "stall" for item in items)
    assert new_init in items
    assert frame_indexes(items) == [30, 31, 32]  # 0..2, 15, 16 went with the overflow


async def test_get_waits_for_frames_and_close_wakes_readers():
    hub = Hub("cam/high")
    hub.publish_init(INIT)
    reader = hub.subscribe()
    assert await reader.get() is INIT
    waiting = asyncio.create_task(reader.get())
    await asyncio.sleep(0)
    hub.publish(sample(0), "video")
    item = await asyncio.wait_for(waiting, 1)
    assert isinstance(item, Frame) and item.is_keyframe
    waiting = asyncio.create_task(reader.get())
    await asyncio.sleep(0)
    hub.close()
    with pytest.raises(HubClosed):
        await asyncio.wait_for(waiting, 1)


def test_reader_count_listeners_see_subscribe_and_close():
    hub = Hub("cam/high")
    counts = []
    hub.add_reader_listener(counts.append)
    with hub.subscribe(), hub.subscribe():
        pass
    assert counts == [1, 2, 1, 0]


def test_audio_only_hub_resumes_on_any_frame_and_keeps_nothing_for_late_joiners():
    hub = Hub("cam/opus", queue_frames=5, audio_only=True)
    packets = [Sample(2, index * 960, 960, 0, True, bytes([index])) for index in range(20)]
    for packet in packets[:3]:
        hub.publish(packet, "audio")
    late = hub.subscribe()
    assert drain(late) == []  # nothing stale
    for packet in packets[3:12]:
        hub.publish(packet, "audio")  # 9 into a queue of 5: overflow once, resume at once
    received = [item.sample.data[0] for item in drain(late)]
    assert received == [8, 9, 10, 11] and late.gops_dropped == 1


def test_a_consumer_too_far_behind_skips_to_the_newest_queued_keyframe_or_the_next_one():
    hub = Hub("cam/high")
    hub.publish_init(INIT)
    reader = hub.subscribe()
    publish_frames(hub, 0, 20)  # keyframes at 0 and 15
    assert reader.get_nowait() is INIT
    reader.get_nowait()  # frame 0, which the consumer found too late to send
    reader.skip_to_keyframe(taken=1)
    assert frame_indexes(drain(reader)) == [15, 16, 17, 18, 19]
    assert (reader.frames_dropped, reader.gops_dropped) == (15, 1)  # 0 (taken) .. 14

    hub.publish_discontinuity("stall")
    publish_frames(hub, 20, 5)  # no keyframe queued: wait for the next one published
    reader.get_nowait()  # the discontinuity
    reader.get_nowait()  # frame 20
    reader.skip_to_keyframe(taken=1)
    publish_frames(hub, 25, 7)  # 25..31, keyframe at 30
    assert frame_indexes(drain(reader)) == [30, 31]
    assert (reader.frames_dropped, reader.gops_dropped) == (15 + 10, 2)  # 20..29
    assert (hub.counters.frames_dropped, hub.counters.gops_dropped) == (25, 2)
