"""The site's alarms and their history (guide, /alarm, /alarms, /alarm-history). Sans-IO.

PUT /alarm: "Claim, acknowledge, trigger, or dismiss an alarm"; UNCLAIM is the guide's
history action UNCLAIMED. The alarm object is the emulator's (the guide documents the
answers as "string"); every action is allowed from every state.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.emulator.event_log import iso_ms

# PUT /alarm action -> (the alarm's new state, the history action, also its event's topic suffix)
ACTIONS = {
    "CLAIM": ("CLAIMED", "CLAIMED"),
    "UNCLAIM": ("ACTIVE", "UNCLAIMED"),
    "ACKNOWLEDGE": ("ACKNOWLEDGED", "ACKNOWLEDGED"),
    "TRIGGER": ("ACTIVE", "TRIGGERED"),
    "DISMISS": ("PURGED", "PURGED"),
}
HISTORY_ACTIONS = ("CLAIMED", "UNCLAIMED", "ACKNOWLEDGED", "PURGED", "TRIGGERED")
HISTORY_SIZE = 10_000  # kept for the whole site, oldest dropped


class UnknownAlarm(KeyError):
    """No alarm has this id."""


@dataclass
class Alarm:
    id: str
    name: str
    priority: int
    camera_ids: list[str]
    trigger_ms: int
    last_action_ms: int
    state: str = "ACTIVE"
    assigned_user: str | None = None
    note: str | None = None  # the last action's note

    def to_json(self) -> dict:
        body = {
            "id": self.id,
            "name": self.name,
            "priority": self.priority,
            "state": self.state,
            "cameraIds": list(self.camera_ids),
            "triggerTime": iso_ms(self.trigger_ms),
            "lastActionTime": iso_ms(self.last_action_ms),
        }
        if self.assigned_user is not None:
            body["assignedUser"] = self.assigned_user
        if self.note is not None:
            body["note"] = self.note
        return body


@dataclass(frozen=True, slots=True)
class AlarmChange:
    """One /alarm-history entry."""

    alarm_id: str
    action: str  # one of HISTORY_ACTIONS
    ms: int
    user_name: str
    note: str | None

    def to_json(self) -> dict:
        return {"alarmId": self.alarm_id, "action": self.action, "time": iso_ms(self.ms),
                "userName": self.user_name, "note": self.note}  # fmt: skip


@dataclass
class AlarmBook:
    clock: Callable[[], float] = time.time
    _alarms: dict[str, Alarm] = field(default_factory=dict)
    _history: deque[AlarmChange] = field(default_factory=lambda: deque(maxlen=HISTORY_SIZE))

    def trigger(self, name: str, camera_ids: list[str], user: str, priority: int = 1) -> tuple[Alarm, AlarmChange]:
        """Raise the alarm called `name`: a new one, or the existing one triggered again."""
        alarm = next((a for a in self._alarms.values() if a.name == name), None)
        if alarm is None:
            ms = self._now()
            alarm = Alarm(secrets.token_urlsafe(9), name, priority, list(camera_ids), ms, ms)
            self._alarms[alarm.id] = alarm
        elif camera_ids:
            alarm.camera_ids = list(camera_ids)
        return alarm, self.act(alarm.id, "TRIGGER", user, None)

    def act(self, alarm_id: str, action: str, user: str, note: str | None) -> AlarmChange:
        """Apply a PUT /alarm action; ValueError for an unknown action, UnknownAlarm for an id."""
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
        alarm = self.get(alarm_id)
        state, done = ACTIONS[action]
        ms = self._now()
        alarm.state, alarm.note, alarm.last_action_ms = state, note, ms
        if action == "CLAIM":
            alarm.assigned_user = user
        elif action in ("UNCLAIM", "TRIGGER"):
            alarm.assigned_user = None
        if action == "TRIGGER":
            alarm.trigger_ms = ms
        change = AlarmChange(alarm.id, done, ms, user, note)
        self._history.append(change)
        return change

    def get(self, alarm_id: str) -> Alarm:
        alarm = self._alarms.get(alarm_id)
        if alarm is None:
            raise UnknownAlarm(alarm_id)
        return alarm

    def all(self) -> list[Alarm]:
        return list(self._alarms.values())

    def history(self, alarm_id: str, lo_ms: int, hi_ms: int, action: str | None = None, limit: int = 1000,
                newest_first: bool = True) -> list[AlarmChange]:  # fmt: skip
        self.get(alarm_id)
        found = [c for c in self._history
                 if c.alarm_id == alarm_id and lo_ms <= c.ms <= hi_ms and (action is None or c.action == action)]  # fmt: skip
        if newest_first:
            found.reverse()
        return found[:limit]

    def _now(self) -> int:
        return int(self.clock() * 1000)
