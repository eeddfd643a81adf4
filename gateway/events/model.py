"""The gateway's one event shape (DESIGN.md "Events and alarms"), and how WEP notifications
and camera events become it. Sans-IO: dicts in, `Event`s out.

WEP's topic names are the vocabulary: a WEP event keeps its `type` as sent; other backends
map onto those names where one exists (gateway/backends/amcrest/events.py). The raw fields
stay in `data`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from gateway.backends.base import CameraEvent

# SSE `event:` names, one per type family: the first prefix that matches wins.
FAMILIES = (
    ("DEVICE_MOTION", "motion"),
    ("DEVICE_ANALYTICS", "analytics"),
    ("ALARM", "alarm"),
    ("DEVICE", "device"),
    ("AMCREST", "device"),
    ("USER", "user"),
    ("RULE", "rule"),
)
# The SSE `event:` name of an event highlighted for its reader (a rule's `notify`).
NOTIFY_FAMILY = "notify"
OTHER_FAMILY = "system"
# How a type says it begins or ends something (DEVICE_MOTION_START, DEVICE_RECORDING_STOPPED,
# DEVICE_DIGITAL_INPUT_ON); anything else is a moment ("pulse").
_START_SUFFIXES = ("_START", "_STARTED", "_ON")
_STOP_SUFFIXES = ("_STOP", "_STOPPED", "_END", "_OFF")
# WEP fields the event shape lifts out of `data`.
_LIFTED = ("thisId", "type", "timestamp", "cameraId")
MAX_TYPE = 128


class EventError(ValueError):
    """A notification entry that is not an event the gateway can deliver."""


@dataclass(frozen=True, slots=True)
class Event:
    id: str  # "<source>:<upstream id>": stable, so the ring and WEP's search dedupe by it
    camera: str | None  # None: a site or server event (USER_LOGIN...)
    type: str
    state: str  # "start" | "stop" | "pulse"
    time: str  # ISO 8601 UTC with milliseconds and Z
    source: str  # "wep" | "amcrest" | "gateway" | ...
    data: dict = field(default_factory=dict)
    links: dict = field(default_factory=dict)  # {"snapshot": url|None, "recording": url|None}
    at: float = 0.0  # `time` as Unix seconds, for ordering and ranges
    # Token subjects whose streams get this event highlighted (a rule firing's `notify`).
    notify: frozenset[str] = frozenset()

    @property
    def family(self) -> str:
        return family_of(self.type)

    def public(self) -> dict:
        return {
            "id": self.id,
            "camera": self.camera,
            "type": self.type,
            "state": self.state,
            "time": self.time,
            "source": self.source,
            "data": self.data,
            "links": self.links,
        }

    def json(self, *, highlighted: bool = False) -> str:
        # One line, no spaces: it becomes an SSE `data:` line as is (JSON escapes newlines).
        shown = {**self.public(), "notify": True} if highlighted else self.public()
        return json.dumps(shown, separators=(",", ":"), ensure_ascii=False)


def family_of(event_type: str) -> str:
    for prefix, family in FAMILIES:
        if event_type.startswith(prefix):
            return family
    return OTHER_FAMILY


def state_of(event_type: str) -> str:
    if event_type.endswith(_START_SUFFIXES):
        return "start"
    if event_type.endswith(_STOP_SUFFIXES):
        return "stop"
    return "pulse"


def parse_time(value: Any) -> datetime:
    """An ISO 8601 time with a zone ("Z" or an offset) as an aware UTC datetime."""
    if not isinstance(value, str) or "T" not in value:
        raise EventError(f"time {_shown(value)} is not an ISO 8601 time")
    try:
        at = datetime.fromisoformat(value)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)  # WEP's own times are UTC ("Z"); a bare one is read alike
        return at.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: an offset past year 1 or 9999
        raise EventError(f"time {_shown(value)} is not an ISO 8601 time") from None


def iso(at: datetime) -> str:
    """2020-01-27T19:00:20.674Z: the form WEP sends and accepts."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_at(unix: float) -> str:
    """`iso` of a Unix time."""
    return iso(datetime.fromtimestamp(unix, UTC))


def from_wep(raw: Any) -> Event:
    """One entry of a NOTIFICATION's `notification` array, or of /events/search's `events`."""
    if not isinstance(raw, dict):
        raise EventError("event is not a JSON object")
    this_id, event_type = raw.get("thisId"), raw.get("type")
    if isinstance(this_id, bool) or not isinstance(this_id, (str, int)) or not str(this_id):
        raise EventError("event has no thisId")
    if not isinstance(event_type, str) or not 0 < len(event_type) <= MAX_TYPE:
        raise EventError("event has no type")
    at = parse_time(raw.get("timestamp"))
    camera = raw.get("cameraId")
    camera = camera if isinstance(camera, str) and camera else None
    data = {key: value for key, value in raw.items() if key not in _LIFTED}
    return Event(f"wep:{this_id}", camera, event_type, state_of(event_type), iso(at), "wep", data, at=at.timestamp())


def from_camera_event(event: CameraEvent) -> Event:
    at = parse_time(event.time)
    return Event(
        f"{event.source}:{event.id}",
        event.camera or None,
        event.type,
        event.state,
        iso(at),
        event.source,
        dict(event.data),
        at=at.timestamp(),
    )


def links(camera_id: str, at: float, pre_s: float, *, snapshot: bool, recording: bool) -> dict:
    """Where the event's picture and the recording around it are (relative URLs)."""
    when = datetime.fromtimestamp(at, UTC)
    camera = quote(camera_id, safe="")
    return {
        "snapshot": f"/api/v1/cameras/{camera}/snapshot.jpg?t={quote(iso(when))}" if snapshot else None,
        "recording": (
            f"/hls/{camera}/high/playlist.m3u8?t={quote(iso(when - timedelta(seconds=pre_s)))}" if recording else None
        ),
    }


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class TopicFilter:
    """WEP's eventTopics (guide, "Filtering Event Notifications"): a whitelist or a blacklist
    of topics (DEVICE_MOTION_START) or groups (DEVICE, the topic's first word); "ALL" is
    every topic."""

    whitelist: tuple[str, ...] = ("ALL",)
    blacklist: tuple[str, ...] = ()

    def wep(self) -> dict:
        """The `eventTopics` object of a webhook registration."""
        return {"blacklist": list(self.blacklist)} if self.blacklist else {"whitelist": list(self.whitelist)}

    def search_topics(self) -> tuple[str, ...]:
        """`eventTopics` for /events/search, which takes only a list to include."""
        return () if self.blacklist or "ALL" in self.whitelist else self.whitelist

    def allows(self, event_type: str) -> bool:
        group = event_type.partition("_")[0]
        if self.blacklist:
            return event_type not in self.blacklist and group not in self.blacklist
        return "ALL" in self.whitelist or event_type in self.whitelist or group in self.whitelist
