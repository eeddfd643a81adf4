"""Counters the emulator keeps so tests and benches can see what clients did."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


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
        return {
            "logins": self.logins,
            "login_failures": self.login_failures,
            "requests": self.requests,
            "failures_injected": self.failures_injected,
            "sessions": sessions,
            "open_streams": self.open_streams,
            "media_connections": dict(self.media_connections),
            "jpeg_renders": dict(self.jpeg_renders),
            "talk_bytes": dict(self.talk_bytes),
            "talk_rejected": dict(self.talk_rejected),
            "pushes_started": self.pushes_started,
            "pushes_active": pushes_active,
            "streams_dropped": self.streams_dropped,
        }
