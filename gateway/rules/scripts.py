"""The VMS scripts API (reference/vms-scripts-api.txt) as rules: its event types, request
bodies and answer shapes. Sans-IO: dicts in, dicts and `RuleSpec`s out.

A script is "this event type, in this weekly schedule, runs this reaction and notifies
these users"; here it is a rule over every camera whose type is the event's WEP topic,
whose actions are the reaction's saved list and whose `notify` are the users' token
subjects (scripts_routes.py stores it through the engine, so it fires like any rule).

The seed's answers are single objects with no `data` wrapper (a Laravel resource with
wrapping off, which leaves collections bare too), its times `YYYY-MM-DD HH:MM:SS`, read as
UTC here. Its validation errors are 422s naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from gateway.backends.amcrest.events import event_type as amcrest_type
from gateway.rules.model import (
    MAX_LIST,
    MAX_NAME,
    SECRET_MASK,
    Action,
    RuleError,
    RuleSpec,
    Schedule,
    parse_actions,
    parse_schedule,
)
from gateway.rules.store import Reaction, StoredRule, User

SCRIPT_FIELDS = ("event_id", "reaction_id", "users", "schedule")
REACTION_FIELDS = ("name", "actions")
MAX_ID = 2**62
NAME_PREFIX = "script: "
# What the seed says of every user; the gateway's users are token subjects, which have none of it.
USER_DEFAULTS = {"expired_at": None, "is_licence_limit_reached": False, "ptz_priority": 10, "access_token_id": None}


# -- the event types -----------------------------------------------------------------------


@dataclass(frozen=True)
class EventType:
    id: int  # stable: a script stores it, an integration may have it in its own config
    type: str  # the WEP topic (or the Amcrest-mapped type) a script on it matches
    name: str
    description: str
    color: str
    analytic_type: str

    def seed(self) -> dict:
        """As a script's `event` shows it (the seed's five keys)."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "color": self.color,
            "analytic_type": self.analytic_type,
        }

    def public(self) -> dict:
        return {**self.seed(), "type": self.type}


MOTION, ANALYTICS, INPUT, RECORDING, ALARM = "#F5A623", "#FF7CF2", "#4A90E2", "#7ED321", "#D0021B"
APPEARANCE, PLATE, TAMPER, AUDIO, STORAGE, DOORBELL = "#50E3C2", "#9013FE", "#8B572A", "#417505", "#9B9B9B", "#F8E71C"

# Ids are never renumbered nor reused: a new type takes the next free id
# (tests/rules/test_scripts.py pins them). USER_LOGIN and the other site events are left
# out: they name no camera, and rules fire on camera events only.
_WEP = (
    (1, "DEVICE_MOTION_START", "motion_start", "Motion started in the camera's view", MOTION, "motion"),
    (2, "DEVICE_MOTION_STOP", "motion_stop", "Motion in the camera's view ended", MOTION, "motion"),
    (
        3,
        "DEVICE_ANALYTICS_START",
        "analytics_start",
        "A video analytic started detecting (a person, a vehicle, a line crossed...)",
        ANALYTICS,
        "analytics",
    ),
    (4, "DEVICE_ANALYTICS_STOP", "analytics_stop", "A video analytic stopped detecting", ANALYTICS, "analytics"),
    (5, "DEVICE_DIGITAL_INPUT_ON", "digital_input_on", "A digital input of the camera went on", INPUT, "digital_input"),
    (
        6,
        "DEVICE_DIGITAL_INPUT_OFF",
        "digital_input_off",
        "A digital input of the camera went off",
        INPUT,
        "digital_input",
    ),
    (7, "DEVICE_RECORDING_STARTED", "recording_started", "The camera started recording", RECORDING, "recording"),
    (8, "DEVICE_RECORDING_STOPPED", "recording_stopped", "The camera stopped recording", RECORDING, "recording"),
    (9, "ALARM_TRIGGERED", "alarm_triggered", "An alarm was triggered", ALARM, "alarm"),
    (10, "ALARM_CLAIMED", "alarm_claimed", "An operator claimed an alarm", ALARM, "alarm"),
    (11, "ALARM_UNCLAIMED", "alarm_unclaimed", "An alarm was released by its operator", ALARM, "alarm"),
    (12, "ALARM_ACKNOWLEDGED", "alarm_acknowledged", "An alarm was acknowledged", ALARM, "alarm"),
    (13, "ALARM_PURGED", "alarm_purged", "An alarm was purged", ALARM, "alarm"),
    (
        14,
        "DEVICE_FACET_START",
        "appearance_start",
        "An appearance (face, clothing) analytic started detecting",
        APPEARANCE,
        "appearance",
    ),
    (15, "DEVICE_FACET_STOP", "appearance_stop", "An appearance analytic stopped detecting", APPEARANCE, "appearance"),
    (16, "DEVICE_LPR_PLATE_FOUND", "plate_found", "A licence plate was detected", PLATE, "license_plate"),
    (17, "DEVICE_LPR_PLATE_UPDATE", "plate_updated", "A detected licence plate was read again", PLATE, "license_plate"),
    (18, "DEVICE_LPR_PLATE_LOST", "plate_lost", "A licence plate left the region of interest", PLATE, "license_plate"),
    (19, "DEVICE_LPR_MATCH", "plate_matched", "A licence plate on a watch list was detected", PLATE, "license_plate"),
)
# Amcrest event codes with no WEP topic (VideoMotion and the IVS codes become DEVICE_MOTION_*
# and DEVICE_ANALYTICS_*, above). Their type is the same at the start and the stop: a
# script on one fires on both, the event's `state` tells them apart.
_AMCREST = (
    (20, "AlarmLocal", "alarm_input", "An alarm input (contact closure) changed (Amcrest)", INPUT, "alarm_input"),
    (21, "AudioMutation", "sound_detected", "Sound above the camera's threshold (Amcrest)", AUDIO, "audio"),
    (22, "AudioAnomaly", "audio_anomaly", "An audio anomaly was detected (Amcrest)", AUDIO, "audio"),
    (23, "VideoBlind", "video_blind", "The view was covered or blinded (Amcrest)", TAMPER, "tamper"),
    (24, "VideoAbnormalDetection", "video_abnormal", "The picture looks tampered with (Amcrest)", TAMPER, "tamper"),
    (25, "VideoLoss", "video_loss", "The camera lost its video signal (Amcrest)", TAMPER, "tamper"),
    (26, "VideoUnFocus", "video_unfocus", "The picture went out of focus (Amcrest)", TAMPER, "tamper"),
    (27, "MoveDetection", "object_moved", "A watched object was moved (Amcrest)", ANALYTICS, "object_moved"),
    (28, "WanderDetection", "loitering", "Someone lingered in a watched area (Amcrest)", ANALYTICS, "loitering"),
    (29, "RioterDetection", "crowd", "A crowd gathered in a watched area (Amcrest)", ANALYTICS, "crowd"),
    (30, "ParkingDetection", "parking", "A vehicle parked in a watched area (Amcrest)", ANALYTICS, "parking"),
    (31, "HeatImagingTemper", "temperature", "A temperature alarm of a thermal camera (Amcrest)", ALARM, "temperature"),
    (32, "AlarmOutput", "alarm_output", "The camera switched its alarm output (Amcrest)", INPUT, "alarm_output"),
    (33, "StorageNotExist", "storage_missing", "The camera has no storage card (Amcrest)", STORAGE, "storage"),
    (34, "StorageFailure", "storage_failure", "The camera's storage card failed (Amcrest)", STORAGE, "storage"),
    (
        35,
        "StorageLowSpace",
        "storage_low_space",
        "The camera's storage card is nearly full (Amcrest)",
        STORAGE,
        "storage",
    ),
    (
        36,
        "_DoTalkAction_",
        "doorbell_call",
        "The doorbell button was pressed or the call ended (Amcrest)",
        DOORBELL,
        "doorbell",
    ),
)
EVENT_TYPES = (
    *(EventType(*row) for row in _WEP),
    *(EventType(number, amcrest_type(code, "start"), *rest) for number, code, *rest in _AMCREST),
)
EVENTS_BY_ID = {event.id: event for event in EVENT_TYPES}


# -- request bodies ----------------------------------------------------------------------------


class ScriptError(ValueError):
    """Every bad field of a body, each a RuleError naming it: a 422 lists them all."""

    def __init__(self, problems: list[RuleError]):
        super().__init__("; ".join(str(problem) for problem in problems))
        self.fields = [problem.field for problem in problems]


@dataclass(frozen=True)
class ScriptRequest:
    event_id: int
    reaction_id: int
    users: tuple[int, ...]
    schedule: Schedule

    def stored(self) -> dict:
        """The rule store's `script` column: what a rule alone cannot say."""
        return {"event_id": self.event_id, "reaction_id": self.reaction_id, "users": list(self.users)}


def _id(value: Any, path: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise RuleError(path, f"expected the integer id of {what}")
    return value


def _ids(value: Any, path: str) -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise RuleError(path, f"expected a list of at most {MAX_LIST} user ids (GET /api/admin/v1/users)")
    return tuple(dict.fromkeys(_id(item, f"{path}[{index}]", "a user") for index, item in enumerate(value)))


def _unknown(body: dict, allowed: tuple[str, ...]) -> list[RuleError]:
    return [
        RuleError(key[:64] or '""', f"unknown field (expected {', '.join(allowed)})")
        for key in body
        if key not in allowed
    ]


def parse_script(body: Any) -> ScriptRequest:
    """A script body's shape (ids exist or not is the caller's check); ScriptError names
    every bad field, in the seed's order, then the unknown ones."""
    if not isinstance(body, dict):
        raise ScriptError([RuleError("body", "expected a JSON object")])
    checks = {
        "event_id": lambda value: _id(value, "event_id", "an event (GET /api/admin/v1/events)"),
        "reaction_id": lambda value: _id(value, "reaction_id", "a reaction (GET /api/admin/v1/reactions)"),
        "users": lambda value: _ids(value, "users"),
        "schedule": lambda value: parse_schedule(value, "schedule"),
    }
    values: dict[str, Any] = {"users": (), "schedule": Schedule()}  # none: nobody notified, always
    problems: list[RuleError] = []
    for name, check in checks.items():
        if name not in body:
            if name in ("event_id", "reaction_id"):
                problems.append(RuleError(name, "is required"))
            continue
        try:
            values[name] = check(body[name])
        except RuleError as exc:
            problems.append(exc)
    problems += _unknown(body, SCRIPT_FIELDS)
    if problems:
        raise ScriptError(problems)
    return ScriptRequest(values["event_id"], values["reaction_id"], values["users"], values["schedule"])


def parse_reaction(body: Any) -> tuple[str, tuple[Action, ...]]:
    """A reaction body: `{"name", "actions": [rule actions]}`."""
    if not isinstance(body, dict):
        raise ScriptError([RuleError("body", "expected a JSON object")])
    problems = [RuleError(name, "is required") for name in REACTION_FIELDS if name not in body]
    name = body.get("name")
    actions: tuple[Action, ...] = ()
    if "name" in body and (not isinstance(name, str) or not 0 < len(name) <= MAX_NAME or not name.isprintable()):
        problems.append(RuleError("name", f"expected a printable string of 1 to {MAX_NAME} characters"))
    if "actions" in body:
        try:
            actions = parse_actions(body["actions"], "actions")
        except RuleError as exc:
            problems.append(exc)
    problems += _unknown(body, REACTION_FIELDS)
    if problems:
        raise ScriptError(problems)
    assert isinstance(name, str)  # else a problem above
    return name, actions


# -- scripts as rules --------------------------------------------------------------------------


def script_spec(
    request: ScriptRequest,
    actions: tuple[Action, ...],
    subjects: tuple[str, ...],
    timezone: str,
    previous: RuleSpec | None = None,
) -> RuleSpec:
    """The rule of a script. Replacing one keeps what the scripts API cannot say (enabled,
    cooldown, cameras, zone), so a rule narrowed through /api/v1/rules stays narrowed."""
    event = EVENTS_BY_ID[request.event_id]
    spec = RuleSpec(
        name=f"{NAME_PREFIX}{event.name}",
        enabled=True,
        cameras=(),
        types=(event.type,),
        schedule=request.schedule,
        timezone=timezone,
        cooldown_s=0.0,
        actions=actions,
        notify=subjects,
    )
    if previous is not None:
        spec = replace(
            spec,
            enabled=previous.enabled,
            cameras=previous.cameras,
            timezone=previous.timezone,
            cooldown_s=previous.cooldown_s,
        )
    return spec


# -- answers -----------------------------------------------------------------------------------


def seed_time(unix: float) -> str:
    """The seed's `2022-02-18 18:01:54` (UTC)."""
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M:%S")


def user_view(user: User) -> dict:
    return {
        "id": user.id,
        "name": user.subject,
        "login": user.subject,
        "created_at": seed_time(user.created_at),
        "updated_at": seed_time(user.updated_at),
        **USER_DEFAULTS,
    }


def masked(actions: list) -> list:
    """Stored actions as the API shows them: webhook secrets never leave (model.SECRET_MASK)."""
    shown = []
    for action in actions:
        entry = {}
        for kind, params in action.items():
            hidden = isinstance(params, dict) and "secret" in params
            entry[kind] = {**params, "secret": SECRET_MASK} if hidden else params
        shown.append(entry)
    return shown


def reaction_view(reaction: Reaction) -> dict:
    return {
        "id": reaction.id,
        "name": reaction.name,
        "actions": masked(reaction.actions),
        "created_at": seed_time(reaction.created_at),
        "updated_at": seed_time(reaction.updated_at),
    }


def _event_view(event_id: int) -> dict:
    event = EVENTS_BY_ID.get(event_id)
    if event is None:  # a database written by hand: shown, not hidden
        return {"id": event_id, "name": None, "description": None, "color": None, "analytic_type": None}
    return event.seed()


def script_view(stored: StoredRule, spec: RuleSpec, reactions: dict[int, Reaction], users: dict[int, User]) -> dict:
    """The seed's shape, key for key."""
    script = stored.script or {}
    reaction = reactions.get(script.get("reaction_id"))  # type: ignore[arg-type]
    return {
        "id": stored.id,
        "event": _event_view(script.get("event_id", -1)),
        "reaction": reaction_view(reaction) if reaction is not None else None,
        "users": [user_view(users[number]) for number in script.get("users", []) if number in users],
        "schedule": spec.schedule.public(),
        "created_at": seed_time(stored.created_at),
        "updated_at": seed_time(stored.updated_at),
    }
