"""Counters the WEP client bumps on its hot path; a metrics collector reads them at scrape
time. Plain ints and floats, keyed by route ("cameras", "media.mpd", "media.stream", ...)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field


@dataclass
class WepStats:
    requests: Counter[str] = field(default_factory=Counter)  # by route, attempts included
    errors: Counter[str] = field(default_factory=Counter)  # by route, failed attempts
    latency_seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))  # sum by route
    logins: int = 0  # login attempts, the first one included
    login_failures: int = 0
    relogins: int = 0  # logins forced by an expired session
    stream_bytes: int = 0  # media bytes read from GET /media streams
    audio_bytes: int = 0  # bytes sent in POST /media audio bodies

    def record(self, route: str, seconds: float, failed: bool) -> None:
        self.requests[route] += 1
        self.latency_seconds[route] += seconds
        if failed:
            self.errors[route] += 1
