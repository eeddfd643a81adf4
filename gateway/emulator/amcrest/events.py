"""The attached event streams and what is published to them.

A publisher never waits: each stream has a bounded queue; when a stream does not keep up,
its oldest pending part is dropped (and counted) to make room. A part's bytes are
rendered once and shared by every stream it goes to.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass, field

from gateway.emulator.amcrest.event_wire import event_body, event_part

QUEUE_SIZE = 256
FAULT_KINDS = ("garbage", "cut")
GARBAGE = b"\x00\xffnot a multipart part\r\n\xfe\x01garbage\r\n\r\n"


class Delivery(enum.Enum):
    PART = "part"  # write it and go on
    CUT = "cut"  # write it, then close the connection
    END = "end"  # the emulator is stopping: end the response


@dataclass(eq=False)
class EventStream:
    codes: frozenset[str] | None  # None: [All]
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    dropped: int = 0

    def wants(self, code: str) -> bool:
        return self.codes is None or code in self.codes

    def push(self, kind: Delivery, data: bytes = b"") -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait((kind, data))


class EventHub:
    def __init__(self) -> None:
        self._streams: set[EventStream] = set()

    def attach(self, codes: frozenset[str] | None) -> EventStream:
        stream = EventStream(codes)
        self._streams.add(stream)
        return stream

    def detach(self, stream: EventStream) -> None:
        self._streams.discard(stream)

    def publish(self, channel: int, code: str, action: str, data: dict | None = None) -> int:
        """Send an event to every stream whose codes match; returns how many got it."""
        part = event_part(event_body(code, action, channel - 1, data))
        streams = [s for s in self._streams if s.wants(code)]
        for stream in streams:
            stream.push(Delivery.PART, part)
        return len(streams)

    def fault(self, kind: str | None) -> int:
        """Kind "garbage": bytes that are no multipart part; kind "cut": the head of a part
        (shorter than its Content-Length says), then the connection closes."""
        if kind == "garbage":
            delivery, data = Delivery.PART, GARBAGE
        elif kind == "cut":
            part = event_part(event_body("VideoMotion", "Start", 0))
            delivery, data = Delivery.CUT, part[: len(part) - 12]
        else:
            raise ValueError(f"event fault kind must be one of {FAULT_KINDS}, not {kind!r}")
        for stream in self._streams:
            stream.push(delivery, data)
        return len(self._streams)

    def end_all(self) -> None:
        for stream in self._streams:
            stream.push(Delivery.END)
