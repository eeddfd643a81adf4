"""The emulated server's event log: every event it raised, bounded, searchable (guide,
"Event Query API"). Sans-IO: a clock is passed in, nothing here awaits.

Events have the guide's sample shape: "thisId" (an increasing integer as a string),
"timestamp" (ISO 8601, ms, Z), "type", "originatingEventId" (= thisId), the originating
server's id and name; device and alarm events add "linkedEventId" ("-1", or the event at
the other end of a START/STOP pair: the guide's START samples link their STOP and its
DEVICE_RECORDING_STOPPED sample links its START).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.emulator.cameras import SERVER_ID
from gateway.emulator.topics import matches

SERVER_NAME = "WEP-EMULATOR"
RESERVED_FIELDS = frozenset(
    ("thisId", "timestamp", "type", "linkedEventId", "originatingEventId", "originatingServerId",
     "originatingServerName")
)  # fmt: skip
# Suffixes that open and close an active event of one family (guide, ACTIVE: "events that are
# currently active"); an alarm is active from ALARM_TRIGGERED until it is acknowledged or purged.
PAIRS = (("_START", "_STOP"), ("_STARTED", "_STOPPED"), ("_ON", "_OFF"))
ALARM_OPENER = "ALARM_TRIGGERED"
ALARM_CLOSERS = ("ALARM_ACKNOWLEDGED", "ALARM_PURGED")
DEFAULT_LIMIT = 1000  # guide, TIME_RANGE: "up to 1000 events within the given time range are returned"


def iso_ms(ms: int) -> str:
    # From whole seconds plus integer ms: ms / 1000 as a float can print one ms early.
    when = datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=ms % 1000 * 1000)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso_ms(text: str) -> int:
    """An ISO 8601 time (Z, an offset, or none meaning UTC) as Unix milliseconds."""
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return round(when.timestamp() * 1000)


def _pair_key(event: dict) -> tuple[str, tuple] | None:
    """("open" | "close", key) for an event that starts or ends an active state, else None;
    the key is the family (DEVICE_MOTION) and camera, or the alarm."""
    kind = event["type"]
    if kind == ALARM_OPENER or kind in ALARM_CLOSERS:
        return ("open" if kind == ALARM_OPENER else "close"), ("ALARM", event.get("alarmId"))
    for opener, closer in PAIRS:
        for suffix, role in ((opener, "open"), (closer, "close")):
            if kind.endswith(suffix):
                return role, (kind[: -len(suffix)], event.get("cameraId"))
    return None


@dataclass(slots=True)
class LoggedEvent:
    seq: int
    ms: int
    event: dict  # replaced, never mutated: a delivered copy stays as it was sent


@dataclass(frozen=True, slots=True)
class EventQuery:
    """A TIME_RANGE query: from <= timestamp <= to, optional topics and device ids."""

    from_ms: int
    to_ms: int
    topics: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    limit: int = DEFAULT_LIMIT

    def admits(self, logged: LoggedEvent) -> bool:
        event = logged.event
        return (
            self.from_ms <= logged.ms <= self.to_ms
            and (not self.topics or matches(self.topics, event["type"]))
            and (not self.devices or event.get("cameraId") in self.devices)
        )


def encode_token(query: EventQuery, after_seq: int) -> str:
    """Guide, CONTINUE: "a Base-64 encoded string from a previous event query response".
    It carries the whole query, so the server keeps no cursor (URL-safe alphabet)."""
    state = {"f": query.from_ms, "t": query.to_ms, "e": query.topics, "d": query.devices, "l": query.limit,
             "a": after_seq}  # fmt: skip
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def decode_token(token: str) -> tuple[EventQuery, int]:
    """(query, last seq already returned); ValueError when the token is not one of ours."""
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
        query = EventQuery(int(state["f"]), int(state["t"]), tuple(map(str, state["e"])),
                           tuple(map(str, state["d"])), int(state["l"]))  # fmt: skip
        return query, int(state["a"])
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise ValueError("token is not a valid continuation token") from None


class EventLog:
    """The last `capacity` events, oldest first; timestamps never go backwards."""

    def __init__(self, capacity: int, clock: Callable[[], float] = time.time):
        self._entries: deque[LoggedEvent] = deque(maxlen=capacity)
        self._clock = clock
        self._seq = itertools.count(1)
        self._last_ms = 0
        self._open: dict[tuple, LoggedEvent] = {}  # pair key -> the event that opened it

    def append(self, kind: str, camera_id: str | None = None, **fields) -> dict:
        reserved = RESERVED_FIELDS.intersection(fields)
        if reserved:
            raise ValueError(f"event fields may not set {', '.join(sorted(reserved))}")
        seq = next(self._seq)
        self._last_ms = ms = max(self._last_ms, int(self._clock() * 1000))
        event = {"thisId": str(seq), "timestamp": iso_ms(ms), "type": kind}
        if camera_id is not None:
            event["cameraId"] = camera_id
        if camera_id is not None or "alarmId" in fields:
            event["linkedEventId"] = "-1"
        event.update(originatingEventId=str(seq), originatingServerId=SERVER_ID,
                     originatingServerName=SERVER_NAME, **fields)  # fmt: skip
        logged = LoggedEvent(seq, ms, event)
        self._pair(logged)
        self._entries.append(logged)
        return logged.event

    def _pair(self, logged: LoggedEvent) -> None:
        pair = _pair_key(logged.event)
        if pair is None:
            return
        role, key = pair
        if role == "open":
            self._open[key] = logged
            return
        opener = self._open.pop(key, None)
        if opener is not None:
            logged.event["linkedEventId"] = opener.event["thisId"]
            opener.event = {**opener.event, "linkedEventId": logged.event["thisId"]}

    def search(self, query: EventQuery, after_seq: int = 0, limit: int | None = None) -> tuple[list[dict], int | None]:
        """Up to `limit` matching events after `after_seq`, oldest first, and the seq to
        continue after when more remain (None on the last page)."""
        limit = query.limit if limit is None else limit
        found: list[dict] = []
        if not self._entries:
            return found, None
        start = max(0, after_seq - self._entries[0].seq + 1)
        for logged in itertools.islice(self._entries, start, None):
            if logged.ms > query.to_ms:
                break
            if not query.admits(logged):
                continue
            if len(found) == limit:
                return found, int(found[-1]["thisId"])
            found.append(logged.event)
        return found, None

    def active(self) -> list[dict]:
        first = self._entries[0].seq if self._entries else 0
        live = sorted((e for e in self._open.values() if e.seq >= first), key=lambda e: e.seq)
        return [e.event for e in live]

    def marks(self, camera_id: str, opener: str, closer: str) -> list[tuple[int, bool]]:
        """(ms, True for `opener`, False for `closer`) of one camera's events of those two
        types still in the log, oldest first: what GET /timeline pairs into motion spans."""
        return [
            (e.ms, e.event["type"] == opener) for e in self._entries
            if e.event["type"] in (opener, closer) and e.event.get("cameraId") == camera_id
        ]  # fmt: skip

    def events(self) -> list[dict]:
        return [e.event for e in self._entries]

    def __len__(self) -> int:
        return len(self._entries)
