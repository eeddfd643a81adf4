"""Alta's answers and the alarm action's webhook payload, read tolerantly. Sans-IO.

The Alta guide (reference/alta-alarms.txt) names fields but shows no whole bodies, so
what it leaves open is never assumed (reference/alta-notes.md): a list may come bare or
wrapped under any key (`{"data": [...]}`, `{"alerts": [...]}`), ids may be numbers or
strings (compared as text), and the webhook payload is whatever the user typed into the
alarm action: JSON or form fields, the ids under the keys `[alta] zone_key` and
`device_key`. What cannot be read raises `AltaShapeError`, whose message says in one line
what was missing, never echoing a whole body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote

# Where a wrapped list may sit, most likely first; failing those, a dict's only list.
LIST_KEYS = (
    "data",
    "items",
    "results",
    "alerts",
    "ongoingAlerts",
    "ongoing_alerts",
    "bookmarks",
    "alarmZones",
    "alarm_zones",
    "zones",
)
MAX_ID = 128
_SHOWN = 60


class AltaShapeError(ValueError):
    """An answer or payload without what the flow needs."""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def items(payload: Any, what: str) -> list[dict]:
    """The list of objects in `payload`: bare, or wrapped under a usual key or as a dict's
    only list. Entries that are not objects are left out."""
    if isinstance(payload, dict):
        found = next((payload[key] for key in LIST_KEYS if isinstance(payload.get(key), list)), None)
        if found is None:
            lists = [value for value in payload.values() if isinstance(value, list)]
            found = lists[0] if len(lists) == 1 else None
        payload = found
    if not isinstance(payload, list):
        raise AltaShapeError(f"{what}: expected a list (bare or wrapped), got {type(payload).__name__}")
    return [entry for entry in payload if isinstance(entry, dict)]


def text_id(value: Any) -> str | None:
    """An id as text (numbers and strings alike); None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int) or (isinstance(value, str) and 0 < len(value.strip()) <= MAX_ID):
        return str(value).strip()
    return None


def _pick(raw: dict, *keys: str) -> Any:
    return next((raw[key] for key in keys if raw.get(key) is not None), None)


@dataclass(frozen=True)
class AltaAlert:
    guid: str
    zone_id: str
    zone_name: str | None
    merged: bool
    origin_name: str | None  # the device that detected, as Alta names it
    time: str | None  # as Alta gave it
    acknowledgment_code: int | None
    raw_merged: Any = field(default=None, repr=False)  # posted back as Alta sent it


def read_alert(raw: dict) -> AltaAlert:
    guid = text_id(_pick(raw, "guid", "alert_guid", "id"))
    zone = text_id(_pick(raw, "alarm_zone_id", "alarmZoneId", "zone_id"))
    if guid is None or zone is None:
        raise AltaShapeError(f"an ongoing alert without guid or alarm_zone_id (keys: {_shown(sorted(raw)[:12])})")
    merged = raw.get("merged")
    code = raw.get("acknowledgment_code")
    return AltaAlert(
        guid,
        zone,
        _optional_text(_pick(raw, "alarm_zone_name", "alarmZoneName", "zone_name")),
        merged is True,
        _optional_text(_pick(raw, "origin_name", "originName", "device_name")),
        _optional_text(_pick(raw, "updated_at", "created_at", "timestamp", "time")),
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        merged,
    )


def read_alerts(payload: Any) -> tuple[list[AltaAlert], int]:
    """The alerts that could be read, and how many could not."""
    alerts, unreadable = [], 0
    for raw in items(payload, "ongoingAlerts"):
        try:
            alerts.append(read_alert(raw))
        except AltaShapeError:
            unreadable += 1
    return alerts, unreadable


@dataclass(frozen=True)
class Bookmark:
    guest_token: str
    device: str | None
    start: str | None


def read_bookmarks(payload: Any) -> list[Bookmark]:
    found = []
    for raw in items(payload, "bookmarks"):
        token = raw.get("guest_token")
        if isinstance(token, str) and token and len(token) <= 512:
            found.append(
                Bookmark(
                    token,
                    _optional_text(_pick(raw, "device_name", "device_id", "origin_name")),
                    _optional_text(_pick(raw, "start", "start_time", "created_at")),
                )
            )
    return found


def shared_link(base_url: str, guest_token: str) -> str:
    """Alta's shareable video link: <deployment>/cloud?t=<guest_token>."""
    return f"{base_url.rstrip('/')}/cloud?t={quote(guest_token, safe='')}"


@dataclass(frozen=True)
class Zone:
    id: str
    name: str
    armed: bool | None

    def public(self) -> dict:
        return {"id": self.id, "name": self.name, "armed": self.armed}


def read_zones(payload: Any) -> list[Zone]:
    zones = []
    for raw in items(payload, "alarmZones"):
        zone_id = text_id(_pick(raw, "id", "alarm_zone_id", "guid"))
        if zone_id is None:
            continue
        armed = _pick(raw, "armed", "is_armed", "isArmed")
        zones.append(
            Zone(zone_id, _optional_text(raw.get("name")) or zone_id, armed if isinstance(armed, bool) else None)
        )
    return zones


def _optional_text(value: Any) -> str | None:
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
        return str(value)[:256]
    return None


def webhook_ids(body: bytes, zone_key: str, device_key: str) -> tuple[str, str | None]:
    """(zone id, device id or None) from the alarm action's payload: a JSON object (the keys
    at its top, or one level down) or URL-encoded form fields, whatever the content type
    says (the action's author may not have set it)."""
    fields: dict[str, Any]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise AltaShapeError("the payload is not UTF-8 text") from None
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        fields = parsed
        nested = [value for value in parsed.values() if isinstance(value, dict)]
        for inner in nested:
            for key in (zone_key, device_key):
                if key not in fields and key in inner:
                    fields = {**fields, key: inner[key]}
    elif "=" in text:
        fields = dict(parse_qsl(text, keep_blank_values=True))
    else:
        raise AltaShapeError("the payload is neither a JSON object nor form fields")
    return ids_from_fields(fields, zone_key, device_key)


def ids_from_fields(fields: dict[str, Any], zone_key: str, device_key: str) -> tuple[str, str | None]:
    zone = text_id(fields.get(zone_key))
    if zone is None:
        raise AltaShapeError(f"the payload has no {zone_key!r} (its keys: {_shown(sorted(map(str, fields))[:12])})")
    return zone, text_id(fields.get(device_key))
