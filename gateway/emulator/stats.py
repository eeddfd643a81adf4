"""Counters the emulator keeps so tests and benches can see what clients did."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


def counters_json(counters: DataclassInstance) -> dict:
    """A dataclass of counters as JSON-able data (the emulators' GET /_emulator/stats): each
    field by name, a Counter as a plain dict sorted by key."""
    values = {}
    for f in fields(counters):
        value = getattr(counters, f.name)
        values[f.name] = dict(sorted(value.items())) if isinstance(value, Counter) else value
    return values


@dataclass
class Stats:
    logins: int = 0
    login_failures: int = 0
    requests: int = 0
    failures_injected: int = 0
    open_streams: int = 0
    # "camera_id/format/quality" (quality "-" when it does not apply) -> connections opened
    media_connections: Counter = field(default_factory=Counter)
    jpeg_renders: Counter = field(default_factory=Counter)  # camera_id -> renders
    talk_bytes: Counter = field(default_factory=Counter)  # camera_id -> bytes received
    talk_rejected: Counter = field(default_factory=Counter)  # camera_id -> 413s
    pushes_started: int = 0
    streams_dropped: int = 0

    def media_opened(self, camera_id: str, fmt: str, quality: str | None) -> None:
        self.media_connections[f"{camera_id}/{fmt}/{quality or '-'}"] += 1

    def snapshot(self, pushes_active: int, sessions: int) -> dict:
        return {**counters_json(self), "sessions": sessions, "pushes_active": pushes_active}
