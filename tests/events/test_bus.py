"""gateway/events/bus.py: the ring, the batches and each subscriber's bounded queue, on a real
loop with no network."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from gateway.events import bus as bus_module
from gateway.events import sse
from gateway.events.bus import EventBus
from gateway.events.model import Event

BASE = 1_714_564_800.0  # 2024-05-01T12:00:00Z
MISSED = sse.comment("some events were missed: GET /api/v1/events has the history")


def event(n: int, camera: str | None = "a", event_type: str = "DEVICE_MOTION_START", at: float | None = None) -> Event:
    return Event(
        f"wep:{n}",
        camera,
        event_type,
        "start",
        f"2024-05-01T12:00:{n % 60:02d}.000Z",
        "wep",
        {"n": n},
        at=BASE + n if at is None else at,
    )


def frame(bus: EventBus, seq: int, published: Event) -> bytes:
    return sse.frame(published.family, sse.EventId(bus.boot, seq), published.json())


def frames(bus: EventBus, numbered: list[tuple[int, Event]]) -> bytes:
    return b"".join(frame(bus, seq, published) for seq, published in numbered)


async def next_turn() -> None:
    # With flush_interval=0 a batch is flushed by call_soon, which runs before this task resumes.
    await asyncio.sleep(0)


# -- publish and flush ---------------------------------------------------------------------------


async def test_subscriber_gets_the_frame_after_the_flush():
    bus = EventBus(100, 100)
    subscriber = bus.subscribe(None)
    published = event(1)
    assert bus.publish(published) is True
    assert subscriber.pending == []  # not before the batch goes out
    await asyncio.wait_for(subscriber.wait(), 1)
    assert subscriber.take() == (
        b"event: motion\nid: " + f"{bus.boot}-1".encode() + b"\ndata: " + published.json().encode() + b"\n\n"
    )
    assert subscriber.take() == b""
    assert (bus.stats.published, bus.stats.batches, bus.stats.duplicates) == (1, 1, 0)


async def test_family_names_the_sse_event():
    bus = EventBus(100, 100, flush_interval=0)
    subscriber = bus.subscribe(None)
    bus.publish(event(1, camera=None, event_type="USER_LOGIN"))
    bus.publish(event(2, event_type="ALARM_TRIGGERED"))
    await next_turn()
    assert [line for line in subscriber.take().split(b"\n") if line.startswith(b"event:")] == [
        b"event: user",
        b"event: alarm",
    ]


async def test_boot_is_the_clock_in_base36_milliseconds():
    assert EventBus(10, 10, clock=lambda: 1000.0).boot == "lfls"  # 1 000 000 ms
    assert EventBus(10, 10, clock=lambda: 0.0).boot == "0"


async def test_duplicate_is_published_once_and_counted():
    bus = EventBus(100, 100, flush_interval=0)
    subscriber = bus.subscribe(None)
    first = event(1)
    assert bus.publish(first) is True
    assert bus.publish(event(1, at=BASE + 99)) is False
    assert bus.publish(first) is False
    assert bus.seen("wep:1") and not bus.seen("wep:2")
    await next_turn()
    assert subscriber.take() == frame(bus, 1, first)
    assert (bus.stats.published, bus.stats.duplicates) == (1, 2)
    assert list(bus.events()) == [first]


async def test_dedupe_memory_is_bounded_to_twice_the_ring():
    bus = EventBus(2, 100, flush_interval=0)
    bus.publish(event(1))
    for n in range(2, 6):  # 4 more ids: "wep:1" is the fifth most recent, past 2 x ring_size
        bus.publish(event(n))
    assert bus.publish(event(1)) is True
    assert bus.stats.duplicates == 0


# -- cameras ---------------------------------------------------------------------------------------


async def test_camera_filter():
    bus = EventBus(100, 100, flush_interval=0)
    only_a = bus.subscribe(frozenset({"a"}))
    everything = bus.subscribe(None)
    a, b, site = event(1, camera="a"), event(2, camera="b"), event(3, camera=None, event_type="USER_LOGIN")
    for published in (a, b, site):
        bus.publish(published)
    await next_turn()
    assert only_a.take() == frame(bus, 1, a)
    assert everything.take() == frames(bus, [(1, a), (2, b), (3, site)])


async def test_subscriber_sees_nothing_of_other_cameras():
    bus = EventBus(100, 100, flush_interval=0)
    only_a = bus.subscribe(frozenset({"a"}))
    bus.publish(event(1, camera="b"))
    bus.publish(event(2, camera=None, event_type="USER_LOGIN"))
    await next_turn()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(only_a.wait(), 0.01)
    assert only_a.pending == [] and only_a.pending_events == 0
    assert only_a.take() == b""


async def test_a_batch_is_built_once_per_camera_filter():
    bus = EventBus(100, 100, flush_interval=0)
    first, second = bus.subscribe(frozenset({"a", "b"})), bus.subscribe(frozenset({"b", "a"}))
    other = bus.subscribe(frozenset({"a"}))
    bus.publish(event(1, camera="a"))
    bus.publish(event(2, camera="b"))
    await next_turn()
    assert first.pending[0] is second.pending[0]
    assert other.pending[0] is not first.pending[0]
    assert other.take() == frame(bus, 1, event(1, camera="a"))


# -- batching --------------------------------------------------------------------------------------


async def test_fifty_events_in_one_turn_are_one_chunk_in_order():
    bus = EventBus(100, 100)
    subscriber = bus.subscribe(None)
    published = [event(n, camera="a" if n % 2 else "b") for n in range(1, 51)]
    for one in published:
        bus.publish(one)
    await asyncio.wait_for(subscriber.wait(), 1)
    assert len(subscriber.pending) == 1
    assert subscriber.pending_events == 50
    assert subscriber.take() == frames(bus, list(enumerate(published, 1)))
    assert bus.stats.batches == 1


async def test_events_within_the_flush_interval_wait_for_one_batch():
    loop = asyncio.get_running_loop()
    bus = EventBus(100, 100, flush_interval=0.05)
    subscriber = bus.subscribe(None)
    bus.publish(event(1))
    await next_turn()  # the first event after a quiet spell goes out on the next turn
    assert subscriber.take() == frame(bus, 1, event(1))
    started = loop.time()
    for n in range(2, 6):
        bus.publish(event(n))
        await next_turn()
    if loop.time() - started > 0.04:
        pytest.skip("the loop stalled past the flush interval")
    assert subscriber.pending == []
    await asyncio.wait_for(subscriber.wait(), 1)
    assert subscriber.take() == frames(bus, [(n, event(n)) for n in range(2, 6)])
    assert bus.stats.batches == 2


# -- Last-Event-ID ---------------------------------------------------------------------------------


async def test_replay_after_last_event_id():
    bus = EventBus(100, 100, flush_interval=0)
    published = [event(n) for n in range(1, 11)]
    for one in published:
        bus.publish(one)
    await next_turn()
    subscriber = bus.subscribe(None, sse.EventId(bus.boot, 3))
    assert subscriber.pending_events == 7
    assert subscriber.take() == frames(bus, [(n, published[n - 1]) for n in range(4, 11)])


async def test_replay_with_the_newest_id_is_nothing():
    bus = EventBus(100, 100, flush_interval=0)
    for n in range(1, 4):
        bus.publish(event(n))
    await next_turn()
    subscriber = bus.subscribe(None, sse.EventId(bus.boot, 3))
    assert subscriber.pending == []


async def test_replay_sends_unflushed_events_once_with_the_next_batch():
    bus = EventBus(100, 100, flush_interval=0)
    published = [event(n) for n in range(1, 11)]
    for one in published[:7]:
        bus.publish(one)
    await next_turn()
    for one in published[7:]:
        bus.publish(one)  # 8..10 not flushed yet
    resumed = bus.subscribe(None, sse.EventId(bus.boot, 3))
    live = bus.subscribe(None)
    assert resumed.take() == frames(bus, [(n, published[n - 1]) for n in range(4, 8)])
    await next_turn()
    assert resumed.take() == frames(bus, [(n, published[n - 1]) for n in range(8, 11)])
    assert live.take() == frames(bus, [(n, published[n - 1]) for n in range(8, 11)])
    bus.publish(event(11))
    await next_turn()
    assert resumed.take() == frame(bus, 11, event(11))  # nothing of 4..10 again


async def test_replay_of_an_id_from_another_boot_is_the_whole_ring():
    bus = EventBus(5, 100, flush_interval=0)
    published = [event(n) for n in range(1, 9)]
    for one in published:
        bus.publish(one)
    await next_turn()
    subscriber = bus.subscribe(None, sse.EventId("otherboot", 7))
    assert subscriber.take() == frames(bus, [(n, published[n - 1]) for n in range(4, 9)])


async def test_replay_older_than_the_ring_says_so_first():
    bus = EventBus(3, 100, flush_interval=0)
    published = [event(n) for n in range(1, 11)]
    for one in published:
        bus.publish(one)
    await next_turn()
    subscriber = bus.subscribe(None, sse.EventId(bus.boot, 2))
    assert subscriber.pending_events == 3
    assert subscriber.take() == MISSED + frames(bus, [(n, published[n - 1]) for n in range(8, 11)])
    assert MISSED == b": some events were missed: GET /api/v1/events has the history\n\n"


async def test_replay_right_before_the_ring_misses_nothing():
    bus = EventBus(3, 100, flush_interval=0)
    published = [event(n) for n in range(1, 11)]
    for one in published:
        bus.publish(one)
    await next_turn()
    assert bus.subscribe(None, sse.EventId(bus.boot, 7)).take() == frames(
        bus, [(n, published[n - 1]) for n in range(8, 11)]
    )
    assert bus.subscribe(None, sse.EventId(bus.boot, 6)).take().startswith(MISSED)


async def test_replay_longer_than_the_subscriber_limit_keeps_the_newest():
    bus = EventBus(100, 3, flush_interval=0)
    published = [event(n) for n in range(1, 11)]
    for one in published:
        bus.publish(one)
    await next_turn()
    subscriber = bus.subscribe(None, sse.EventId(bus.boot, 1))
    assert not subscriber.overflowed
    assert subscriber.take() == MISSED + frames(bus, [(n, published[n - 1]) for n in range(8, 11)])


async def test_replay_follows_the_camera_filter():
    bus = EventBus(100, 100, flush_interval=0)
    published = [event(n, camera="a" if n % 2 else "b") for n in range(1, 7)]
    for one in published:
        bus.publish(one)
    await next_turn()
    subscriber = bus.subscribe(frozenset({"b"}), sse.EventId(bus.boot, 1))
    assert subscriber.take() == frames(bus, [(n, published[n - 1]) for n in (2, 4, 6)])


async def test_replay_says_events_were_missed_when_the_ring_wrapped_inside_one_batch():
    bus = EventBus(3, 100, flush_interval=0)
    bus.publish(event(1))
    bus.publish(event(2))
    await next_turn()
    for n in range(3, 8):
        bus.publish(event(n))  # one batch larger than the ring: 2 is evicted before it is replayed
    subscriber = bus.subscribe(None, sse.EventId(bus.boot, 1))  # the client saw 1, not 2
    await next_turn()
    assert subscriber.take().startswith(MISSED)


# -- overflow --------------------------------------------------------------------------------------


async def test_overflow_clears_pending_and_is_counted_when_dropped():
    bus = EventBus(100, 5, flush_interval=0)
    slow = bus.subscribe(None)
    other = bus.subscribe(None)
    for n in range(1, 11):
        bus.publish(event(n))
    await next_turn()
    assert slow.overflowed and slow.pending == []
    await asyncio.wait_for(slow.wait(), 0.1)  # returns at once: the writer must notice
    bus.unsubscribe(slow)
    assert bus.stats.subscribers_dropped == 1
    assert bus.subscriber_count == 1
    assert other.overflowed  # the same batch of 10 overflows every subscriber with a limit of 5
    assert bus.stats.subscribers_total == 2


async def test_overflow_across_batches():
    bus = EventBus(100, 5, flush_interval=0)
    subscriber = bus.subscribe(None)
    for n in range(1, 6):
        bus.publish(event(n))
        await next_turn()
    assert not subscriber.overflowed and subscriber.pending_events == 5 and len(subscriber.pending) == 5
    bus.publish(event(6))
    await next_turn()
    assert subscriber.overflowed and subscriber.pending == []
    bus.publish(event(7))
    await next_turn()
    assert subscriber.pending == []  # an overflowed subscriber takes nothing more


async def test_taking_keeps_a_subscriber_under_its_limit():
    bus = EventBus(100, 5, flush_interval=0)
    subscriber = bus.subscribe(None)
    for n in range(1, 21):
        bus.publish(event(n))
        await next_turn()
        assert subscriber.take() == frame(bus, n, event(n))
    assert not subscriber.overflowed
    bus.unsubscribe(subscriber)
    assert bus.stats.subscribers_dropped == 0


# -- close -----------------------------------------------------------------------------------------


async def test_close_wakes_waiting_subscribers():
    bus = EventBus(100, 100)
    subscribers = [bus.subscribe(None), bus.subscribe(frozenset({"a"}))]
    waiting = [asyncio.create_task(subscriber.wait()) for subscriber in subscribers]
    await next_turn()
    assert not any(task.done() for task in waiting)
    bus.close()
    await asyncio.wait_for(asyncio.gather(*waiting), 0.1)
    assert all(subscriber.closed for subscriber in subscribers)
    await asyncio.wait_for(subscribers[0].wait(), 0.1)  # and stays awake


async def test_close_cancels_the_pending_flush():
    bus = EventBus(100, 100, flush_interval=0)
    subscriber = bus.subscribe(None)
    bus.publish(event(1))
    bus.close()
    await next_turn()
    assert subscriber.pending == [] and bus.stats.batches == 0


# -- listeners -------------------------------------------------------------------------------------


async def test_listener_is_called_once_per_new_event():
    bus = EventBus(100, 100, flush_interval=0)
    heard: list[Event] = []
    bus.add_listener(heard.append)
    bus.publish(event(1))
    bus.publish(event(1))
    bus.publish(event(2))
    assert heard == [event(1), event(2)]  # at once, not with the batch


async def test_raising_listener_does_not_stop_publishing(caplog):
    bus = EventBus(100, 100, flush_interval=0)
    heard: list[str] = []

    def broken(published: Event) -> None:
        raise RuntimeError("listener bug")

    bus.add_listener(broken)
    bus.add_listener(lambda published: heard.append(published.id))
    subscriber = bus.subscribe(None)
    with caplog.at_level(logging.ERROR, logger="gateway.events"):
        assert bus.publish(event(1)) is True
        assert bus.publish(event(2)) is True
    assert heard == ["wep:1", "wep:2"]
    failures = [record for record in caplog.records if record.name == "gateway.events"]
    assert len(failures) == 2
    assert failures[0].getMessage() == f"event listener {broken!r} failed on DEVICE_MOTION_START"
    assert failures[0].exc_info[0] is RuntimeError
    await next_turn()
    assert subscriber.take() == frames(bus, [(1, event(1)), (2, event(2))])


# -- the ring --------------------------------------------------------------------------------------


async def test_covered_since_moves_forward_when_the_ring_wraps():
    bus = EventBus(3, 100, flush_interval=0, clock=lambda: 1000.0)
    assert bus.covered_since == 1000.0
    for n in range(1, 4):
        bus.publish(event(n))
    assert bus.covered_since == 1000.0  # full, nothing evicted yet
    bus.publish(event(4))
    assert bus.covered_since == BASE + 1  # event 1 left the ring
    bus.publish(event(5))
    assert bus.covered_since == BASE + 2


async def test_covered_since_never_moves_back():
    bus = EventBus(2, 100, flush_interval=0, clock=lambda: 1000.0)
    bus.publish(event(1, at=BASE + 50))
    bus.publish(event(2, at=BASE + 10))
    bus.publish(event(3, at=BASE + 60))
    assert bus.covered_since == BASE + 50
    bus.publish(event(4, at=BASE + 70))  # evicts the late-arriving older event 2
    assert bus.covered_since == BASE + 50


async def test_recent_is_newest_first_and_bounded():
    bus = EventBus(3, 100, flush_interval=0)
    for n in range(1, 6):
        bus.publish(event(n))
    assert [e.id for e in bus.recent()] == ["wep:5", "wep:4", "wep:3"]
    assert [e.id for e in bus.events()] == ["wep:3", "wep:4", "wep:5"]


async def test_the_bus_tick_sends_keep_alives_and_drops_a_stuck_writer(monkeypatch):
    """One timer for all subscribers: keep-alive comments to idle ones, and a write waiting
    longer than SEND_TIMEOUT ends its connection."""
    monkeypatch.setattr(bus_module, "TEND_INTERVAL", 0.01)
    monkeypatch.setattr(bus_module, "KEEP_ALIVE_S", 0.02)
    monkeypatch.setattr(bus_module, "SEND_TIMEOUT", 0.05)
    bus = EventBus(10, 10)
    idle, stuck = bus.subscribe(None), bus.subscribe(None)
    aborted = []
    stuck.abort = lambda: aborted.append(True)
    stuck.writing_since = asyncio.get_running_loop().time()
    await asyncio.wait_for(idle.wait(), 1)
    assert idle.take() == b": keep-alive\n\n"
    deadline = asyncio.get_running_loop().time() + 1
    while not aborted:
        assert asyncio.get_running_loop().time() < deadline, "the stuck writer was not aborted"
        await asyncio.sleep(0.01)
    assert stuck.stuck and stuck.dropped and stuck.pending == []  # no keep-alive queued behind a stuck write
    bus.unsubscribe(stuck)
    assert bus.stats.subscribers_dropped == 1
    bus.close()
