"""A rule as the API takes it (DESIGN.md "Rules, clips and links"), checked strictly. Sans-IO.

    {"name", "enabled", "when": {"cameras", "types", "schedule", "timezone"},
     "cooldown_s", "actions": [{"<kind>": {...}}, ...], "notify": [subjects]}

`parse_rule` turns a JSON body into a `RuleSpec` or raises `RuleError` naming the first bad
field by its path (`when.schedule[0].ranges[1].from`), so a 400 says exactly what to fix.
`RuleSpec.public()` is the API's view: webhook secrets never leave, they are shown as
`SECRET_MASK`, and a PUT that sends the mask back keeps the stored secret.

The schedule has the VMS scripts API's shape: `[{"day": 0-6, "ranges": [{"from": "HH:MM:SS",
"to": "HH:MM:SS"}]}]`, day 0 being Monday (ISO 8601 weekday 1), `to` inclusive, read in
the rule's `timezone`. An empty schedule means always.
"""

from __future__ import annotations

import math
import re
import zoneinfo
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from typing import Any
from urllib.parse import urlsplit

from gateway.rtmp.push import MEDIA, QUALITIES
from gateway.rtmp.url import PushUrlError, validate_push_url
from gateway.wep.recording_api import MAX_RECORD_SECONDS

MAX_NAME = 128
MAX_LIST = 256  # cameras, types, notify entries
MAX_ACTIONS = 16
MAX_COOLDOWN = 7 * 86400
MAX_PUSH_SECONDS = 86400
MAX_URL = 2048
MAX_SECRET = 512
SECRET_MASK = "********"
_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?", re.ASCII)
_TYPE = re.compile(r"[A-Z][A-Z0-9_]{0,127}")
_CAMERA = re.compile(r"[^\s/]{1,128}")


class RuleError(ValueError):
    """A rule field that cannot be used; `field` is its path in the body."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.field = path


# -- actions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    kind: str
    params: dict  # validated, with defaults filled in

    def public(self) -> dict:
        shown = dict(self.params)
        if "secret" in shown:
            shown["secret"] = SECRET_MASK
        return {self.kind: shown}


def _fields(value: Any, path: str, allowed: dict[str, bool]) -> dict:
    """`value` as a JSON object whose keys are among `allowed` (name -> required)."""
    if not isinstance(value, dict):
        raise RuleError(path or "body", "expected a JSON object")
    for key in value:
        if key not in allowed:
            raise RuleError(_join(path, key), f"unknown field (expected {', '.join(allowed) or 'none'})")
    for key, required in allowed.items():
        if required and key not in value:
            raise RuleError(_join(path, key), "is required")
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _int(value: Any, path: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RuleError(path, f"expected a whole number from {low} to {high}")
    return value


def _number(value: Any, path: str, low: float, high: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise RuleError(path, f"expected a number from {low:g} to {high:g}")
    return float(value)


def _text(value: Any, path: str, limit: int) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= limit or not value.isprintable():
        raise RuleError(path, f"expected a printable string of 1 to {limit} characters")
    return value


def _http_url(value: Any, path: str) -> str:
    text = _text(value, path, MAX_URL)
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise RuleError(path, "is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RuleError(path, "expected an http:// or https:// URL with a host")
    return text


def _talkdown(params: dict, path: str) -> dict:
    _fields(params, path, {"clip": True})
    return {"clip": _text(params["clip"], f"{path}.clip", MAX_NAME)}


def _ptz_preset(params: dict, path: str) -> dict:
    _fields(params, path, {"preset": True})
    return {"preset": _int(params["preset"], f"{path}.preset", 0, 9999)}


def _snapshot(params: dict, path: str) -> dict:
    _fields(params, path, {})
    return {}


def _record(params: dict, path: str) -> dict:
    _fields(params, path, {"seconds": True})
    return {"seconds": _int(params["seconds"], f"{path}.seconds", 1, MAX_RECORD_SECONDS)}


def _push(params: dict, path: str) -> dict:
    _fields(params, path, {"url": True, "seconds": True, "quality": False, "media": False})
    try:
        url = validate_push_url(params["url"])
    except PushUrlError as exc:
        raise RuleError(f"{path}.url", str(exc)) from None
    quality = params.get("quality", "high")
    if quality not in QUALITIES:
        raise RuleError(f"{path}.quality", f"expected one of {', '.join(QUALITIES)}")
    media = params.get("media", "video")
    if media not in MEDIA:
        raise RuleError(f"{path}.media", f"expected one of {', '.join(MEDIA)}")
    return {
        "url": url,
        "seconds": _int(params["seconds"], f"{path}.seconds", 1, MAX_PUSH_SECONDS),
        "quality": quality,
        "media": media,
    }


def _webhook(params: dict, path: str) -> dict:
    _fields(params, path, {"url": True, "secret": True})
    return {
        "url": _http_url(params["url"], f"{path}.url"),
        "secret": _text(params["secret"], f"{path}.secret", MAX_SECRET),
    }


def _share_link(params: dict, path: str) -> dict:
    _fields(params, path, {"ttl": False, "live": False})
    live = params.get("live", False)
    if not isinstance(live, bool):
        raise RuleError(f"{path}.live", "expected true or false")
    ttl = params.get("ttl")
    return {"ttl": None if ttl is None else _int(ttl, f"{path}.ttl", 1, 10 * 365 * 86400), "live": live}


ACTION_KINDS = {
    "talkdown": _talkdown,
    "ptz_preset": _ptz_preset,
    "snapshot": _snapshot,
    "record": _record,
    "push": _push,
    "webhook": _webhook,
    "share_link": _share_link,
}


def parse_action(value: Any, path: str) -> Action:
    if not isinstance(value, dict) or len(value) != 1:
        raise RuleError(path, f"expected an object with one action: {', '.join(ACTION_KINDS)}")
    ((kind, params),) = value.items()
    check = ACTION_KINDS.get(kind)
    if check is None:
        raise RuleError(f"{path}.{kind}", f"unknown action (expected one of {', '.join(ACTION_KINDS)})")
    return Action(kind, check(params, f"{path}.{kind}"))


def parse_actions(value: Any, path: str) -> tuple[Action, ...]:
    if not isinstance(value, list) or not 0 < len(value) <= MAX_ACTIONS:
        raise RuleError(path, f"expected a list of 1 to {MAX_ACTIONS} actions")
    return tuple(parse_action(item, f"{path}[{index}]") for index, item in enumerate(value))


# -- schedule --------------------------------------------------------------------------------


def _clock(value: Any, path: str) -> int:
    """Seconds since midnight of "HH:MM:SS" (or "HH:MM")."""
    match = _TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise RuleError(path, 'expected a time of day "HH:MM:SS"')
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds or 0)


def _hms(seconds: int) -> str:
    return time(seconds // 3600, seconds // 60 % 60, seconds % 60).isoformat()


@dataclass(frozen=True)
class Schedule:
    """Weekly windows: day (0 = Monday) -> ((from, to) seconds of the day, `to` inclusive)."""

    days: dict[int, tuple[tuple[int, int], ...]] = field(default_factory=dict)

    @property
    def always(self) -> bool:
        return not self.days

    def covers(self, at: datetime) -> bool:
        """Whether the local time `at` (aware, in the rule's zone) is inside a window."""
        if not self.days:
            return True
        ranges = self.days.get(at.weekday())
        if not ranges:
            return False
        second = at.hour * 3600 + at.minute * 60 + at.second
        return any(start <= second <= end for start, end in ranges)

    def public(self) -> list[dict]:
        return [
            {"day": day, "ranges": [{"from": _hms(start), "to": _hms(end)} for start, end in ranges]}
            for day, ranges in sorted(self.days.items())
        ]


def parse_schedule(value: Any, path: str) -> Schedule:
    if not isinstance(value, list):
        raise RuleError(path, 'expected a list of days: [{"day": 0-6, "ranges": [{"from", "to"}]}]')
    days: dict[int, list[tuple[int, int]]] = {}
    for index, entry in enumerate(value):
        where = f"{path}[{index}]"
        _fields(entry, where, {"day": True, "ranges": True})
        day = _int(entry["day"], f"{where}.day", 0, 6)
        ranges = entry["ranges"]
        if not isinstance(ranges, list) or not 0 < len(ranges) <= 48:
            raise RuleError(f"{where}.ranges", 'expected a list of 1 to 48 {"from", "to"} ranges')
        for number, item in enumerate(ranges):
            at = f"{where}.ranges[{number}]"
            _fields(item, at, {"from": True, "to": True})
            start, end = _clock(item["from"], f"{at}.from"), _clock(item["to"], f"{at}.to")
            if end < start:
                raise RuleError(f"{at}.to", "is before from (a window past midnight is two ranges, one per day)")
            days.setdefault(day, []).append((start, end))
    return Schedule({day: tuple(sorted(ranges)) for day, ranges in days.items()})


def parse_timezone(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise RuleError(path, 'expected an IANA time zone name like "Europe/Berlin"')
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise RuleError(path, f"unknown time zone {value[:64]!r} (IANA names, like Europe/Berlin)") from None
    return value


# -- the rule --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSpec:
    name: str
    enabled: bool
    cameras: tuple[str, ...]  # empty: every camera
    types: tuple[str, ...]  # empty: every event type
    schedule: Schedule
    timezone: str
    cooldown_s: float
    actions: tuple[Action, ...]
    notify: tuple[str, ...]

    def active_at(self, unix: float) -> bool:
        if self.schedule.always:
            return True
        return self.schedule.covers(datetime.fromtimestamp(unix, zoneinfo.ZoneInfo(self.timezone)))

    def public(self) -> dict:
        return {
            "name": self.name,
            "enabled": self.enabled,
            "when": {
                "cameras": list(self.cameras),
                "types": list(self.types),
                "schedule": self.schedule.public(),
                "timezone": self.timezone,
            },
            "cooldown_s": self.cooldown_s,
            "actions": [action.public() for action in self.actions],
            "notify": list(self.notify),
        }

    def stored(self) -> dict:
        """What the store keeps: the public form with the secrets."""
        body = self.public()
        body["actions"] = [{action.kind: dict(action.params)} for action in self.actions]
        return body

    def keeping_secrets_of(self, previous: RuleSpec) -> RuleSpec:
        """This rule with each masked webhook secret taken from `previous` (same action slot
        and url): a client can PUT back what it GOT without knowing the secrets."""
        actions = []
        for index, action in enumerate(self.actions):
            if action.kind == "webhook" and action.params["secret"] == SECRET_MASK:
                old = previous.actions[index] if index < len(previous.actions) else None
                if old is None or old.kind != "webhook" or old.params["url"] != action.params["url"]:
                    raise RuleError(
                        f"actions[{index}].webhook.secret",
                        "is the mask but no stored secret belongs to this webhook: send the secret",
                    )
                action = replace(action, params={**action.params, "secret": old.params["secret"]})
            actions.append(action)
        return replace(self, actions=tuple(actions))


def _names(value: Any, path: str, pattern: re.Pattern, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise RuleError(path, f"expected a list of at most {MAX_LIST} {what}")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not pattern.fullmatch(item):
            raise RuleError(f"{path}[{index}]", f"expected {what[:-1]}")
    return tuple(dict.fromkeys(value))


def parse_rule(body: Any, default_timezone: str = "UTC") -> RuleSpec:
    """A rule from its JSON body; RuleError names the first bad field."""
    _fields(
        body, "", {"name": True, "enabled": False, "when": True, "cooldown_s": False, "actions": True, "notify": False}
    )
    name = _text(body["name"], "name", MAX_NAME)
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RuleError("enabled", "expected true or false")
    when = _fields(body["when"], "when", {"cameras": False, "types": False, "schedule": False, "timezone": False})
    cameras = _names(when.get("cameras", []), "when.cameras", _CAMERA, "camera ids")
    types = _names(when.get("types", []), "when.types", _TYPE, "event types like DEVICE_MOTION_START")
    schedule = parse_schedule(when.get("schedule", []), "when.schedule")
    timezone = parse_timezone(when.get("timezone", default_timezone), "when.timezone")
    cooldown = _number(body.get("cooldown_s", 0), "cooldown_s", 0, MAX_COOLDOWN)
    actions = parse_actions(body["actions"], "actions")
    notify = _names(body.get("notify", []), "notify", re.compile(r"[^\x00-\x1f\x7f]{1,128}"), "token subjects")
    return RuleSpec(name, enabled, cameras, types, schedule, timezone, cooldown, actions, notify)
