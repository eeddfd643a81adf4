"""Fault injection state: answer 503 to the next N requests, stall live streams.

Dropping streams and expiring sessions act at once on the emulator's registries
(server.py); what has to be remembered between requests lives here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class Faults:
    fail_remaining: int = 0
    fail_status: int = 503
    stall_until: float = 0.0  # monotonic; live streams send nothing before it
    failures_served: int = 0
    recovered_at: float = 0.0  # monotonic: the last injected failure was served, healthy from here

    def fail_next(self, count: int, status: int = 503) -> None:
        self.fail_remaining = count
        self.fail_status = status

    def take_failure(self) -> int | None:
        """The status to fail this request with, or None to serve it."""
        if self.fail_remaining <= 0:
            return None
        self.fail_remaining -= 1
        self.failures_served += 1
        if self.fail_remaining == 0:
            self.recovered_at = time.monotonic()
        return self.fail_status

    def stall(self, seconds: float) -> None:
        self.stall_until = time.monotonic() + seconds

    def stall_left(self) -> float:
        return max(0.0, self.stall_until - time.monotonic())
