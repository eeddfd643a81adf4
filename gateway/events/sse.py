"""Server-Sent Events framing (WHATWG HTML, "Server-sent events", 9.2). Sans-IO.

An event is `event:`, `id:` and one `data:` line, ended by a blank line; a line starting
with a colon is a comment (our keep-alive). Ids are `<boot>-<seq>`: `boot` names this
process, so a client resuming with an id from before a restart is told apart from one
that is merely behind.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.api.query import is_ascii_digits

# Tells EventSource how long to wait before reconnecting (ms).
RETRY_MS = 2000
KEEP_ALIVE = b": keep-alive\n\n"


@dataclass(frozen=True, slots=True)
class EventId:
    boot: str
    seq: int

    def __str__(self) -> str:
        return f"{self.boot}-{self.seq}"


def frame(name: str, event_id: EventId, data: str) -> bytes:
    """One event; `data` must be one line (compact JSON is)."""
    if "\n" in data or "\r" in data:
        raise ValueError("SSE data must be one line")
    return f"event: {name}\nid: {event_id}\ndata: {data}\n\n".encode()


def preamble() -> bytes:
    return f"retry: {RETRY_MS}\n\n".encode()


def comment(text: str) -> bytes:
    return f": {text.replace(chr(10), ' ').replace(chr(13), ' ')}\n\n".encode()


def parse_event_id(value: str | None) -> EventId | None:
    """A Last-Event-ID as sent back by a client; None for anything that is not ours."""
    if not value:
        return None
    boot, dash, seq = value.strip().rpartition("-")
    if not dash or not boot or not is_ascii_digits(seq) or len(seq) > 18:
        return None
    return EventId(boot, int(seq))
