"""Plain counters of the event layer, read by gateway/metrics.py at scrape time."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class IntakeStats:
    accepted: Counter[str] = field(default_factory=Counter)  # by source
    unknown_camera: int = 0
    malformed: int = 0


@dataclass
class WebhookStats:
    posts: Counter[str] = field(default_factory=Counter)  # verified posts by message type
    rejected: Counter[str] = field(default_factory=Counter)  # 401s by cause
    bad_requests: int = 0  # verified but unreadable, or too large
    overflow: int = 0  # verified posts dropped because the queue was full
    backfills: int = 0
    backfilled: int = 0  # events found by /events/search that had not arrived by webhook
    registrations: int = 0
    degraded_spells: int = 0
