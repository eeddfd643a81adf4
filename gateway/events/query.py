"""`GET /api/v1/events?camera=&type=&from=&to=&limit=`: the query, parsed and checked, and
which events it selects. Sans-IO."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gateway.api.query import ascii_int
from gateway.events.model import Event, EventError, parse_time

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
_TYPE = re.compile(r"[A-Z][A-Z0-9_]{0,127}")


@dataclass(frozen=True)
class EventQuery:
    camera: str | None = None
    types: frozenset[str] = frozenset()  # empty: every type
    start: float | None = None  # Unix seconds
    end: float | None = None
    limit: int = DEFAULT_LIMIT

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> EventQuery:
        """ValueError naming the parameter on anything unusable."""
        unknown = sorted(set(query) - {"camera", "type", "from", "to", "limit", "token"})
        if unknown:
            raise ValueError(f"unknown parameter(s): {', '.join(unknown)}")
        types = frozenset(t.strip() for t in query.get("type", "").split(",") if t.strip())
        bad = sorted(t for t in types if not _TYPE.fullmatch(t))
        if bad:
            raise ValueError(f"type must be event type names like DEVICE_MOTION_START, got {bad[0][:60]!r}")
        start, end = _time(query, "from"), _time(query, "to")
        if start is not None and end is not None and start > end:
            raise ValueError("from must not be after to")
        limit = ascii_int(query.get("limit", str(DEFAULT_LIMIT)), "limit", 1, MAX_LIMIT)
        return cls(query.get("camera") or None, types, start, end, limit)

    def matches(self, event: Event) -> bool:
        return (
            (self.camera is None or event.camera == self.camera)
            and (not self.types or event.type in self.types)
            and (self.start is None or event.at >= self.start)
            and (self.end is None or event.at <= self.end)
        )


def newest(events: Iterable[Event], limit: int) -> list[Event]:
    """Newest first, each id once, at most `limit`."""
    unique = {event.id: event for event in events}
    return sorted(unique.values(), key=lambda event: event.at, reverse=True)[:limit]


def _time(query: Mapping[str, str], name: str) -> float | None:
    value = query.get(name)
    if value is None:
        return None
    try:
        return parse_time(value.replace(" ", "+")).timestamp()  # a form-encoded "+02:00" arrives as " 02:00"
    except EventError:
        raise ValueError(f"{name} must be an ISO 8601 time such as 2024-05-01T12:00:00Z, got {value[:60]!r}") from None
