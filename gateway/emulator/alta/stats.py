"""Counters the Alta emulator keeps so tests and benches can see what clients did."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class AltaStats:
    requests: Counter = field(default_factory=Counter)  # "GET /api/v1/alerts/{guid}" -> calls
    logins: int = 0  # successful dologin calls
    login_failures: int = 0  # wrong credentials
    unauthorized: int = 0  # 401s for a missing, unknown or expired cookie
    verifications: int = 0  # accepted verify posts
    refused: int = 0  # 400s, 404s and 409s of /api/v1 (bad bodies, unknown ids, ended alerts)
    alerts_created: int = 0
    detections_merged: int = 0
    detections_ignored: int = 0  # in disarmed zones
    cloud_views: int = 0  # shared links opened
    webhooks_sent: int = 0  # answered 2xx
    webhook_failures: int = 0  # non-2xx, timeout or connection error
