"""The JSON the Alta API answers: alerts, bookmarks and zones under the guide's field names,
ids as numbers or strings and lists wrapped or bare, as the settings choose (the guide
fixes neither, alta-notes.md)."""

from __future__ import annotations

import datetime

from gateway.emulator.alta.alerts import Alert, Bookmark
from gateway.emulator.alta.zones import Device, Zone


def iso(seconds: float | None) -> str | None:
    """Unix seconds as ISO 8601 UTC with milliseconds: "2025-06-09T12:00:00.123Z"."""
    if seconds is None:
        return None
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Wire:
    def __init__(self, ids: str, envelope: str):
        self.ids = ids
        self.envelope = envelope

    def id(self, number: int) -> int | str:
        return str(number) if self.ids == "str" else number

    def listing(self, key: str, items: list[dict]) -> list[dict] | dict:
        """A list answer: {"alerts": [...]} when wrapped, the bare array otherwise."""
        return {key: items} if self.envelope == "wrapped" else items

    def device(self, device: Device) -> dict:
        return {"id": self.id(device.id), "name": device.name}

    def zone(self, zone: Zone) -> dict:
        return {"id": self.id(zone.id), "name": zone.name, "armed": zone.armed,
                "devices": [self.device(d) for d in zone.devices]}  # fmt: skip

    def alert(self, alert: Alert) -> dict:
        return {
            "guid": alert.guid,
            "alarm_zone_id": self.id(alert.zone.id),
            "alarm_zone_name": alert.zone.name,
            "merged": alert.merged,
            "origin_name": alert.origin.name,
            "origin_id": self.id(alert.origin.id),
            "created_at": iso(alert.created_at),
            "updated_at": iso(alert.updated_at),
            "detections": alert.detections,
            "acknowledgment_code": alert.acknowledgment_code,
            "acknowledged_by": alert.acknowledged_by,
            "acknowledged_at": iso(alert.acknowledged_at),
            "state": "ongoing" if alert.ongoing else "ended",
            "ended_at": iso(alert.ended_at),
            "device_ids": sorted({self.id(b.device.id) for b in alert.bookmarks}, key=str),
        }

    def bookmark(self, bookmark: Bookmark) -> dict:
        return {
            "id": self.id(bookmark.id),
            "alert_guid": bookmark.alert_guid,
            "guest_token": bookmark.guest_token,
            "device_id": self.id(bookmark.device.id),
            "device_name": bookmark.device.name,
            "detected_at": iso(bookmark.detected_at),
            "start": iso(bookmark.start),
            "end": iso(bookmark.end),
        }
