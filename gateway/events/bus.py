"""The event bus: every event, once, into a bounded ring and out to every subscriber allowed
to see it.

The ring is the subscribers' queue. Published events are sent in batches: the first event
after a quiet spell goes out on the next loop turn, and under load at most one batch per
`flush_interval`, so 1000 SSE clients cost 1000 small writes per batch rather than per
event. A batch's bytes are built once per distinct camera filter and shared by every
subscriber with that filter. A subscriber that has more than `subscriber_limit` events
waiting is marked overflowed and dropped by its writer: memory stays bounded whatever a
client does.

Timers are the bus's, not each subscriber's: one tick every `TEND_INTERVAL` sends the
keep-alive comments and drops clients whose write has waited `SEND_TIMEOUT` (measured: a
timeout around every wait and write was about a third of the fan-out's CPU at 1000
clients, bench/bench_events.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from gateway.events import sse
from gateway.events.model import NOTIFY_FAMILY, Event

log = logging.getLogger("gateway.events")

FLUSH_INTERVAL = 0.02
TEND_INTERVAL = 2.5
KEEP_ALIVE_S = 15.0  # a comment this often keeps proxies from closing a quiet stream
SEND_TIMEOUT = 10.0  # a client that takes no bytes for this long is dropped


@dataclass(frozen=True, slots=True)
class Entry:
    id: sse.EventId
    event: Event
    frame: bytes  # the event's SSE bytes, built once
    notify_frame: bytes | None = None  # the same, highlighted, for the subjects in event.notify

    def frame_for(self, subject: str | None) -> bytes:
        if self.notify_frame is not None and subject in self.event.notify:
            return self.notify_frame
        return self.frame


@dataclass
class BusStats:
    published: int = 0
    duplicates: int = 0
    batches: int = 0
    direct_writes: int = 0  # batches written to an idle client's socket without waking its writer
    subscribers_total: int = 0
    subscribers_dropped: int = 0


class Subscriber:
    """One client's share of the bus: which cameras it sees (None: every event, also those
    without a camera) and the bytes waiting for its writer."""

    __slots__ = (
        "_wake",
        "abort",
        "cameras",
        "closed",
        "direct",
        "limit",
        "overflowed",
        "pending",
        "pending_events",
        "stuck",
        "subject",
        "writing_since",
    )

    def __init__(self, cameras: frozenset[str] | None, limit: int, subject: str | None = None):
        self.cameras = cameras
        self.subject = subject  # the token's `sub`: events naming it in `notify` come highlighted
        self.limit = limit
        self.pending: list[bytes] = []
        self.pending_events = 0
        self.overflowed = False  # more than `limit` events waiting: dropped
        self.stuck = False  # a write waited SEND_TIMEOUT: dropped
        self.closed = False
        # Loop time when the writer began a write it is still waiting on; None between writes.
        self.writing_since: float | None = None
        self.abort: Callable[[], None] | None = None  # ends the connection (a stuck write)
        # Writes a batch to an idle client's socket at once, or declines (direct_write.py).
        self.direct: Callable[[bytes], bool] | None = None
        self._wake = asyncio.Event()

    def sees(self, event: Event) -> bool:
        return self.cameras is None or event.camera in self.cameras

    def push(self, chunk: bytes, events: int) -> bool:
        """Queue `chunk` for the writer; True when it went straight to the socket instead."""
        if self.closed or self.overflowed:
            return False
        if not self.pending and self.writing_since is None and self.direct is not None and self.direct(chunk):
            return True
        self.pending.append(chunk)
        self.pending_events += events
        if self.pending_events > self.limit:
            self.overflowed = True
            self.pending.clear()
            if self.abort is not None:
                self.abort()  # its writer may sit in a write the client never reads: end it now
        self._wake.set()
        return False

    def take(self) -> bytes:
        chunk = b"".join(self.pending)
        self.pending.clear()
        self.pending_events = 0
        self._wake.clear()
        return chunk

    @property
    def dropped(self) -> bool:
        return self.overflowed or self.stuck

    async def wait(self) -> None:
        """Until something is waiting (events or a keep-alive), or it is closed or dropped."""
        if self.pending or self.closed or self.overflowed:
            return
        await self._wake.wait()

    def close(self) -> None:
        self.closed = True
        self._wake.set()


class EventBus:
    def __init__(
        self,
        ring_size: int,
        subscriber_limit: int,
        *,
        flush_interval: float = FLUSH_INTERVAL,
        clock: Callable[[], float] = time.time,
    ):
        self.boot = _base36(int(clock() * 1000))
        self.stats = BusStats()
        self._ring: deque[Entry] = deque(maxlen=ring_size)
        self._seen: dict[str, None] = {}  # event ids, insertion-ordered, for dedupe
        self._seen_limit = 2 * ring_size
        self._seq = 0
        self._flushed_seq = 0
        self._unsent: list[Entry] = []
        self._subscribers: set[Subscriber] = set()
        self._subscriber_limit = subscriber_limit
        self._flush_interval = flush_interval
        self._flush_handle: asyncio.Handle | None = None
        self._last_flush = 0.0
        self._tend_handle: asyncio.TimerHandle | None = None
        self._tends = 0
        self._listeners: list[Callable[[Event], None]] = []
        # Every event the gateway saw since this time is in the ring (it moves on as it wraps).
        self.covered_since = clock()

    # -- in ----------------------------------------------------------------------------------------

    def publish(self, event: Event) -> bool:
        """Deliver `event` unless one with its id was already delivered; False for a duplicate."""
        if event.id in self._seen:
            self.stats.duplicates += 1
            return False
        self._remember(event.id)
        self._seq += 1
        event_id = sse.EventId(self.boot, self._seq)
        notify_frame = sse.frame(NOTIFY_FAMILY, event_id, event.json(highlighted=True)) if event.notify else None
        entry = Entry(event_id, event, sse.frame(event.family, event_id, event.json()), notify_frame)
        if len(self._ring) == self._ring.maxlen:
            self.covered_since = max(self.covered_since, self._ring[0].event.at)
        self._ring.append(entry)
        self._unsent.append(entry)
        self.stats.published += 1
        self._schedule_flush()
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                log.exception("event listener %r failed on %s", listener, event.type)
        return True

    def seen(self, event_id: str) -> bool:
        return event_id in self._seen

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        """Called with every new event, on the loop, right after it entered the ring."""
        self._listeners.append(listener)

    def _remember(self, event_id: str) -> None:
        self._seen[event_id] = None
        if len(self._seen) > self._seen_limit:
            del self._seen[next(iter(self._seen))]

    # -- out ---------------------------------------------------------------------------------------

    def subscribe(
        self, cameras: frozenset[str] | None, last: sse.EventId | None = None, subject: str | None = None
    ) -> Subscriber:
        """A new subscriber; with `last` (a Last-Event-ID), what it missed since is queued first."""
        subscriber = Subscriber(cameras, self._subscriber_limit, subject)
        self._subscribers.add(subscriber)
        self.stats.subscribers_total += 1
        if self._tend_handle is None:
            self._tend_handle = asyncio.get_running_loop().call_later(TEND_INTERVAL, self._tend)
        if last is not None:
            self._replay(subscriber, last)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)
        if subscriber.dropped:
            self.stats.subscribers_dropped += 1

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def close(self) -> None:
        for subscriber in list(self._subscribers):
            subscriber.close()
        for handle in (self._flush_handle, self._tend_handle):
            if handle is not None:
                handle.cancel()
        self._flush_handle = self._tend_handle = None

    def _tend(self) -> None:
        """Every TEND_INTERVAL while anyone listens: keep-alives, and stuck writers dropped."""
        self._tends += 1
        keep_alive = self._tends % round(KEEP_ALIVE_S / TEND_INTERVAL) == 0
        now = asyncio.get_running_loop().time()
        for subscriber in list(self._subscribers):
            since = subscriber.writing_since
            if since is not None and now - since > SEND_TIMEOUT and not subscriber.stuck:
                subscriber.stuck = True
                log.info("event stream client dropped: took nothing for %.0f s", SEND_TIMEOUT)
                if subscriber.abort is not None:
                    subscriber.abort()  # the write waiting on the socket ends with an error
            elif keep_alive and since is None:
                subscriber.push(sse.KEEP_ALIVE, 0)
        self._tend_handle = (
            asyncio.get_running_loop().call_later(TEND_INTERVAL, self._tend) if self._subscribers else None
        )

    def _replay(self, subscriber: Subscriber, last: sse.EventId) -> None:
        # Entries not flushed yet reach the new subscriber with the next batch, like everyone's.
        flushed = [entry for entry in self._ring if entry.id.seq <= self._flushed_seq]
        if last.boot == self.boot:
            missed = [entry for entry in flushed if entry.id.seq > last.seq]
            # The ring's oldest entry, flushed or not, says whether the wanted ones are gone.
            lost = bool(self._ring) and self._ring[0].id.seq > last.seq + 1
        else:
            missed, lost = flushed, False  # a restart: all this process saw came after the client's last
        missed = [entry for entry in missed if subscriber.sees(entry.event)]
        if len(missed) > self._subscriber_limit:
            missed, lost = missed[-self._subscriber_limit :], True
        if lost:
            subscriber.push(sse.comment("some events were missed: GET /api/v1/events has the history"), 0)
        if missed:
            subscriber.push(b"".join(entry.frame_for(subscriber.subject) for entry in missed), len(missed))

    def _schedule_flush(self) -> None:
        if self._flush_handle is not None:
            return
        loop = asyncio.get_running_loop()
        delay = self._last_flush + self._flush_interval - loop.time()
        self._flush_handle = loop.call_later(delay, self._flush) if delay > 0 else loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        self._last_flush = asyncio.get_running_loop().time()
        entries, self._unsent = self._unsent, []
        if not entries:
            return
        self._flushed_seq = entries[-1].id.seq
        self.stats.batches += 1
        # Subjects some event of the batch is highlighted for: their readers get a batch of
        # their own; everyone else shares one per camera filter.
        highlighted = frozenset().union(*(entry.event.notify for entry in entries if entry.event.notify))
        batches: dict[tuple[frozenset[str] | None, str | None], tuple[bytes, int]] = {}
        for subscriber in self._subscribers:
            key = (subscriber.cameras, subscriber.subject if subscriber.subject in highlighted else None)
            batch = batches.get(key)
            if batch is None:
                shown = [entry.frame_for(key[1]) for entry in entries if subscriber.sees(entry.event)]
                batch = batches[key] = (b"".join(shown), len(shown))
            if batch[1] and subscriber.push(*batch):
                self.stats.direct_writes += 1

    # -- queries -----------------------------------------------------------------------------------

    def recent(self) -> Iterator[Event]:
        """The ring's events, newest first."""
        return (entry.event for entry in reversed(self._ring))

    def events(self) -> Iterable[Event]:
        return (entry.event for entry in self._ring)


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while number:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
    return text or "0"
