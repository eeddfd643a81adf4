"""Alarms from every source in one list, and the actions operators take on them.

A source (WEP today; Alta later) lists its alarms and takes actions; the book caches each
source's list, refetches it when an alarm event arrives or after `ttl`, and writes every
action to the audit log and onto the event stream with who took it (the token's `sub`).
WEP's alarm object is documented only as "string": it is read tolerantly
(`alarm_from_wep`), unknown shapes become a clear log line, not a crash.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Protocol

from gateway.api.errors import ApiError, bad_request, not_found
from gateway.backends.base import Capability, UpstreamFailure
from gateway.cameras import CameraDirectory
from gateway.events.audit import AlarmAction, AlarmAudit
from gateway.events.intake import NO_LINKS, EventIntake
from gateway.events.model import Event, EventError, iso, iso_at, links, parse_time
from gateway.wep.events_api import WepEventsApi

log = logging.getLogger("gateway.events")

ALARM_TTL = 30.0
MAX_NOTE = 1000
# What each action is called once done: the event type says it (ALARM_ACKNOWLEDGED...).
DONE = {"acknowledge": "ACKNOWLEDGED", "claim": "CLAIMED", "dismiss": "DISMISSED", "verify": "VERIFIED", "end": "ENDED"}
_STATES = {
    "active": "active",
    "triggered": "active",
    "claimed": "claimed",
    "acknowledged": "acknowledged",
    "purged": "dismissed",
    "dismissed": "dismissed",
}


@dataclass(frozen=True)
class Alarm:
    id: str  # "<source>:<upstream id>"
    source: str
    name: str
    state: str  # "active" | "claimed" | "acknowledged" | "dismissed", or the upstream's word lower-cased
    cameras: tuple[str, ...]
    time: str | None  # when it was (last) triggered
    links: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)  # what else the source said (priority, assignee, note)
    actions: tuple[str, ...] = ()  # what operators may do to it (its source's actions)

    @property
    def upstream_id(self) -> str:
        return self.id.partition(":")[2]

    def public(self) -> dict:
        return {
            "id": self.id,
            "source": self.source,
            "name": self.name,
            "state": self.state,
            "cameras": list(self.cameras),
            "time": self.time,
            "links": self.links,
            "data": self.data,
            "actions": list(self.actions),
        }


class AlarmSource(Protocol):
    # Read-only members: the sources declare them as class constants.
    @property
    def name(self) -> str: ...
    @property
    def actions(self) -> tuple[str, ...]: ...
    @property
    def options(self) -> dict[str, tuple[str, ...]]: ...  # action -> the values its `result` may take (verify)

    async def alarms(self) -> list[Alarm]: ...

    async def act(self, upstream_id: str, action: str, note: str | None, option: str | None = None) -> None: ...


class WepAlarms:
    """WEP's `GET /alarms` and `PUT /alarm` (guide: "Claim, acknowledge, trigger, or dismiss")."""

    name = "wep"
    actions = ("acknowledge", "claim", "dismiss")
    options: ClassVar[dict[str, tuple[str, ...]]] = {}
    _WEP_ACTIONS: ClassVar[dict[str, str]] = {"acknowledge": "ACKNOWLEDGE", "claim": "CLAIM", "dismiss": "DISMISS"}

    def __init__(self, api: WepEventsApi):
        self._api = api

    async def alarms(self) -> list[Alarm]:
        found = []
        for raw in await self._api.alarms():
            try:
                found.append(alarm_from_wep(raw))
            except EventError as exc:
                log.warning("WEP alarm unreadable, left out: %s", exc)
        return found

    async def act(self, upstream_id: str, action: str, note: str | None, option: str | None = None) -> None:
        await self._api.update_alarm(upstream_id, self._WEP_ACTIONS[action], note)


def alarm_from_wep(raw: dict[str, Any]) -> Alarm:
    alarm_id = _first(raw, ("id", "alarmId"))
    if isinstance(alarm_id, bool) or not isinstance(alarm_id, (str, int)) or not str(alarm_id):
        raise EventError("alarm has no id")
    state = str(_first(raw, ("state", "status")) or "active").lower()
    cameras = _first(raw, ("cameraIds", "linkedCameras", "cameras", "sourceIds", "linkedCameraIds")) or []
    camera_ids = (
        tuple(str(c.get("id")) if isinstance(c, dict) else str(c) for c in cameras if isinstance(c, (str, dict)))
        if isinstance(cameras, list)
        else ()
    )
    when = _first(raw, ("triggerTime", "timeOfLastTrigger", "lastTriggerTime", "timestamp", "time"))
    try:
        time_text = iso(parse_time(when)) if when is not None else None
    except EventError:
        time_text = None
    lifted = {"id", "alarmId", "name", "state", "status"}
    return Alarm(
        f"wep:{alarm_id}",
        "wep",
        str(raw.get("name") or alarm_id),
        _STATES.get(state, state),
        camera_ids,
        time_text,
        data={k: v for k, v in raw.items() if k not in lifted},
    )


def _first(raw: dict, keys: tuple[str, ...]) -> Any:
    return next((raw[key] for key in keys if raw.get(key) is not None), None)


@dataclass
class _Listing:
    alarms: list[Alarm]
    fetched_at: float
    stale: bool = False


class AlarmBook:
    def __init__(
        self,
        sources: list[AlarmSource],
        intake: EventIntake,
        audit: AlarmAudit,
        directory: CameraDirectory,
        clip_pre_s: float,
        ttl: float = ALARM_TTL,
    ):
        self.sources = {source.name: source for source in sources}
        self._intake = intake
        self._audit = audit
        self._directory = directory
        self._clip_pre_s = clip_pre_s
        self._ttl = ttl
        self._listings: dict[str, _Listing] = {}
        self._failing: dict[str, str] = {}  # source -> why its last listing failed

    def on_event(self, event: Event) -> None:
        """A bus listener: an alarm event means the lists changed."""
        if event.family == "alarm":
            for listing in self._listings.values():
                listing.stale = True

    async def alarms(self) -> tuple[list[Alarm], list[dict]]:
        """Every source's alarms, and the sources that could not be asked (with why)."""
        found, failed = [], []
        if self.sources:
            try:
                await self._directory.all()  # the camera list the links are made from
            except UpstreamFailure:
                pass  # alarms without links rather than no alarms
        for name, source in self.sources.items():
            listing = self._listings.get(name)
            if listing is None or listing.stale or time.monotonic() - listing.fetched_at > self._ttl:
                try:
                    listing = self._listings[name] = _Listing(
                        [replace(self._linked(a), actions=source.actions) for a in await source.alarms()],
                        time.monotonic(),
                    )
                    if self._failing.pop(name, None) is not None:
                        log.info("alarms of %s are listed again", name)
                except UpstreamFailure as exc:
                    if self._failing.get(name) != str(exc):  # once per cause, not once per request
                        log.warning("alarms of %s not listed: %s", name, exc)
                    self._failing[name] = str(exc)
                    failed.append({"source": name, "reason": str(exc)})
                    if listing is None:
                        continue
            found.extend(listing.alarms)
        return found, failed

    async def get(self, alarm_id: str) -> Alarm:
        alarms, failed = await self.alarms()
        alarm = next((alarm for alarm in alarms if alarm.id == alarm_id), None)
        if alarm is None:
            source = alarm_id.partition(":")[0]
            reason = next((f["reason"] for f in failed if f["source"] == source), None)
            if reason is not None:
                raise ApiError(502, "upstream_error", f"alarms of {source} cannot be read: {reason}")
            raise not_found(f"no alarm {alarm_id!r}")
        return alarm

    async def act(
        self, alarm: Alarm, action: str, note: str | None, sub: str | None, option: str | None = None
    ) -> Alarm:
        """Take `action` on `alarm` upstream (with `option`, e.g. verify's result); audited and
        announced either way it ends."""
        source = self.sources[alarm.source]
        if action not in source.actions:
            raise bad_request(f"{alarm.source} alarms take {', '.join(source.actions)}, not {action!r}")
        allowed = source.options.get(action, ())
        if (option is None) != (not allowed) or (option is not None and option not in allowed):
            raise bad_request(f"result must be one of {', '.join(allowed)}" if allowed else f"{action} takes no result")
        if note is not None and len(note) > MAX_NOTE:
            raise bad_request(f"note must be at most {MAX_NOTE} characters")
        at = time.time()
        done = action if option is None else f"{action} {option}"
        try:
            await source.act(alarm.upstream_id, action, note, option)
        except UpstreamFailure as exc:
            await self._audit.record(AlarmAction(alarm.id, done, sub, note, at, f"failed: {exc}"))
            status = exc.status if exc.status in (409, 504) else 502
            raise ApiError(status, "upstream_error", f"{alarm.source} refused to {action} the alarm: {exc}") from None
        await self._audit.record(AlarmAction(alarm.id, done, sub, note, at, "ok"))
        self._listings.pop(alarm.source, None)
        await self._announce(alarm, action, note, sub, at, option)
        try:
            return await self.get(alarm.id)
        except ApiError:
            return alarm  # dismissed alarms may leave the list

    def close(self) -> None:
        self._audit.close()

    async def history(self, alarm_id: str) -> list[dict]:
        return [action.public() for action in await self._audit.history(alarm_id)]

    async def _announce(
        self, alarm: Alarm, action: str, note: str | None, sub: str | None, at: float, option: str | None
    ) -> None:
        camera = alarm.cameras[0] if alarm.cameras else None
        data = {
            "alarm": alarm.id,
            "alarm_source": alarm.source,
            "name": alarm.name,
            "action": action,
            "by": sub,
            "note": note,
            **({"result": option} if option is not None else {}),
        }
        event = Event(
            f"gateway:{uuid.uuid4().hex}",
            camera,
            f"ALARM_{DONE.get(action, action.upper())}",
            "pulse",
            iso_at(at),
            "gateway",
            data,
            at=at,
        )
        await self._intake.accept(event)

    def _linked(self, alarm: Alarm) -> Alarm:
        camera = self._directory.known(alarm.cameras[0]) if alarm.cameras else None
        if camera is None or alarm.time is None:  # the source's own links (Alta's shared video), or none
            return alarm if alarm.links else replace(alarm, links=NO_LINKS)
        at = parse_time(alarm.time).timestamp()
        return replace(
            alarm,
            links=links(
                camera.id,
                at,
                self._clip_pre_s,
                snapshot=camera.can(Capability.SNAPSHOT_AT),
                recording=camera.can(Capability.RECORDED),
            ),
        )
