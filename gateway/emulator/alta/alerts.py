"""Alerts of alarm zones: detections, merging, bookmarks with guest tokens, verify, end.

Guide, "Verify an ongoing alarm": "Similar detections within a short space of time are
merged into a single ongoing alert." Here: a detection in a zone within `merge_window` of
the zone's ongoing alert's last detection joins it (merged, one more detection, one more
bookmark); otherwise it starts a new alert. Sans-IO: times come from `clock`.
"""

from __future__ import annotations

import itertools
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.emulator.alta.errors import Conflict, NotFound
from gateway.emulator.alta.zones import Device, Zone

ACKNOWLEDGMENT_CODES = {101: "none", 201: "valid", 202: "false"}  # guide, "Verify an ongoing alarm"
PRE_ROLL_S, POST_ROLL_S = 10.0, 20.0  # a detection's bookmark: this much video before and after it


@dataclass(frozen=True)
class Bookmark:
    id: int
    alert_guid: str
    guest_token: str  # the shared link is <deployment>/cloud?t=<guest_token>
    device: Device
    detected_at: float
    start: float
    end: float


@dataclass
class Alert:
    guid: str
    zone: Zone
    origin: Device  # the device of the latest detection
    created_at: float
    updated_at: float  # the latest detection (or verification, or end)
    last_detection_at: float
    visible_at: float  # the API shows the alert from then on (alert_lag_s after the webhook)
    detections: int = 1
    merged: bool = False
    acknowledgment_code: int | None = None
    acknowledged_by: str | None = None
    acknowledged_at: float | None = None
    ended_at: float | None = None
    bookmarks: list[Bookmark] = field(default_factory=list)
    verifications: list[dict] = field(default_factory=list)  # every accepted verify body, oldest first

    @property
    def ongoing(self) -> bool:
        return self.ended_at is None


class AlertBook:
    def __init__(self, merge_window: float, lag: float, clock: Callable[[], float] = time.time):
        self.merge_window = merge_window
        self.lag = lag
        self.clock = clock
        self._alerts: dict[str, Alert] = {}
        self._by_token: dict[str, Bookmark] = {}
        self._bookmark_ids = itertools.count(1)

    def detect(self, zone: Zone, device: Device) -> tuple[Alert, bool]:
        """A detection by `device` in the armed `zone`: (the alert it made or joined, merged)."""
        now = self.clock()
        alert = self._mergeable(zone, now)
        merged = alert is not None
        if alert is None:
            alert = Alert(str(uuid.uuid4()), zone, device, now, now, now, visible_at=now + self.lag)
            self._alerts[alert.guid] = alert
        else:
            alert.merged = True
            alert.detections += 1
            alert.origin = device
            alert.updated_at = alert.last_detection_at = now
        bookmark = Bookmark(next(self._bookmark_ids), alert.guid, secrets.token_urlsafe(24), device, now,
                            now - PRE_ROLL_S, now + POST_ROLL_S)  # fmt: skip
        alert.bookmarks.append(bookmark)
        self._by_token[bookmark.guest_token] = bookmark
        return alert, merged

    def _mergeable(self, zone: Zone, now: float) -> Alert | None:
        for alert in reversed(self._alerts.values()):
            if alert.zone is zone and alert.ongoing and now - alert.last_detection_at <= self.merge_window:
                return alert
        return None

    def all(self, visible_only: bool = True) -> list[Alert]:
        """Newest first; without the ones still lagging unless `visible_only` is False."""
        now = self.clock()
        # Insertion order is creation order: reversed, newest first even when the clock ties.
        return [a for a in reversed(self._alerts.values()) if not visible_only or a.visible_at <= now]

    def ongoing(self) -> list[Alert]:
        return [a for a in self.all() if a.ongoing]

    def get(self, guid: str, visible_only: bool = True) -> Alert:
        alert = self._alerts.get(guid)
        if alert is None or (visible_only and alert.visible_at > self.clock()):
            raise NotFound(f"no alert {guid}")
        return alert

    def verify(self, guid: str, code: int, body: dict, user: str) -> Alert:
        """Store the acknowledgment code and log the post; Conflict once the alert has ended."""
        alert = self.get(guid)
        if not alert.ongoing:
            raise Conflict(f"alert {guid} has ended")
        now = self.clock()
        alert.acknowledgment_code, alert.acknowledged_by, alert.acknowledged_at = code, user, now
        alert.updated_at = now
        alert.verifications.append(dict(body))
        return alert

    def end(self, guid: str, again_ok: bool) -> Alert:
        """End the alert; an ended one is a Conflict, or answered as it is when `again_ok`."""
        alert = self.get(guid)
        if not alert.ongoing:
            if again_ok:
                return alert
            raise Conflict(f"alert {guid} has already ended")
        alert.ended_at = alert.updated_at = self.clock()
        return alert

    def by_token(self, token: str) -> Bookmark:
        bookmark = self._by_token.get(token)
        if bookmark is None or self._alerts[bookmark.alert_guid].visible_at > self.clock():
            raise NotFound("no such shared link")
        return bookmark
