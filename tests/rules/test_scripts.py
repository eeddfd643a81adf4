"""The scripts API's sans-IO part: the event table, body checks, the seed's answer shapes."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from gateway.backends.amcrest.events import event_type as amcrest_type
from gateway.rules.model import SECRET_MASK, parse_actions, parse_rule
from gateway.rules.scripts import (
    EVENT_TYPES,
    EVENTS_BY_ID,
    ScriptError,
    ScriptRequest,
    parse_reaction,
    parse_script,
    reaction_view,
    script_spec,
    script_view,
    seed_time,
    user_view,
)
from gateway.rules.store import Reaction, StoredRule, User

# The ids are a contract with integrations that stored them: never renumbered, never reused.
PINNED = {
    1: "DEVICE_MOTION_START",
    2: "DEVICE_MOTION_STOP",
    3: "DEVICE_ANALYTICS_START",
    4: "DEVICE_ANALYTICS_STOP",
    5: "DEVICE_DIGITAL_INPUT_ON",
    6: "DEVICE_DIGITAL_INPUT_OFF",
    7: "DEVICE_RECORDING_STARTED",
    8: "DEVICE_RECORDING_STOPPED",
    9: "ALARM_TRIGGERED",
    10: "ALARM_CLAIMED",
    11: "ALARM_UNCLAIMED",
    12: "ALARM_ACKNOWLEDGED",
    13: "ALARM_PURGED",
    14: "DEVICE_FACET_START",
    15: "DEVICE_FACET_STOP",
    16: "DEVICE_LPR_PLATE_FOUND",
    17: "DEVICE_LPR_PLATE_UPDATE",
    18: "DEVICE_LPR_PLATE_LOST",
    19: "DEVICE_LPR_MATCH",
    20: "AMCREST_ALARMLOCAL",
    21: "AMCREST_AUDIOMUTATION",
    22: "AMCREST_AUDIOANOMALY",
    23: "AMCREST_VIDEOBLIND",
    24: "AMCREST_VIDEOABNORMALDETECTION",
    25: "AMCREST_VIDEOLOSS",
    26: "AMCREST_VIDEOUNFOCUS",
    27: "AMCREST_MOVEDETECTION",
    28: "AMCREST_WANDERDETECTION",
    29: "AMCREST_RIOTERDETECTION",
    30: "AMCREST_PARKINGDETECTION",
    31: "AMCREST_HEATIMAGINGTEMPER",
    32: "AMCREST_ALARMOUTPUT",
    33: "AMCREST_STORAGENOTEXIST",
    34: "AMCREST_STORAGEFAILURE",
    35: "AMCREST_STORAGELOWSPACE",
    36: "AMCREST__DOTALKACTION_",
}
SEED_KEYS = ["id", "event", "reaction", "users", "schedule", "created_at", "updated_at"]
SEED_USER_KEYS = [
    "id",
    "name",
    "login",
    "created_at",
    "updated_at",
    "expired_at",
    "is_licence_limit_reached",
    "ptz_priority",
    "access_token_id",
]
SEED_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
# The seed's curl example, as printed (its schedule an object with an empty key, and a
# stray "schedule." key).
SEED_BROKEN = {"event_id": 0, "reaction_id": 0, "users": [], "schedule": {"": "date"}, "schedule.": "void"}
WEEK = [{"day": day, "ranges": [{"from": "00:00", "to": "23:59:59"}]} for day in range(7)]


def test_event_ids_are_pinned():
    assert {event.id: event.type for event in EVENT_TYPES} == PINNED


def test_event_table_is_well_formed():
    assert len({event.name for event in EVENT_TYPES}) == len(EVENT_TYPES)
    for event in EVENT_TYPES:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", event.name), event
        assert re.fullmatch(r"[a-z][a-z0-9_]*", event.analytic_type), event
        assert re.fullmatch(r"#[0-9A-F]{6}", event.color), event
        assert event.description
        # A rule can name the type (model.py's pattern): the script's rule is a valid rule.
        parse_rule({"name": "x", "when": {"types": [event.type]}, "actions": [{"snapshot": {}}]})
        assert list(event.seed()) == ["id", "name", "description", "color", "analytic_type"]
        assert event.public()["type"] == event.type


def test_amcrest_entries_match_what_the_backend_publishes():
    for code, number in (("AlarmLocal", 20), ("VideoBlind", 23), ("StorageLowSpace", 35), ("_DoTalkAction_", 36)):
        assert amcrest_type(code, "start") == amcrest_type(code, "stop") == EVENTS_BY_ID[number].type
    types = {event.type for event in EVENT_TYPES}
    assert amcrest_type("VideoMotion", "start") in types and amcrest_type("CrossLineDetection", "stop") in types


def test_the_seeds_broken_example_names_schedule_first():
    with pytest.raises(ScriptError) as caught:
        parse_script(SEED_BROKEN)
    assert caught.value.fields == ["schedule", "schedule."]
    assert str(caught.value).startswith("schedule: expected a list of days")
    assert "schedule.: unknown field (expected event_id, reaction_id, users, schedule)" in str(caught.value)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"reaction_id": 1}, ["event_id"]),
        ({"event_id": 1}, ["reaction_id"]),
        ({"event_id": "1", "reaction_id": 1}, ["event_id"]),
        ({"event_id": True, "reaction_id": 1}, ["event_id"]),
        ({"event_id": -1, "reaction_id": None}, ["event_id", "reaction_id"]),
        ({"event_id": 1, "reaction_id": 1, "users": [3, "4"]}, ["users[1]"]),
        ({"event_id": 1, "reaction_id": 1, "users": 3}, ["users"]),
        ({"event_id": 1, "reaction_id": 1, "schedule": [{"day": 7, "ranges": []}]}, ["schedule[0].day"]),
        (
            {"event_id": 1, "reaction_id": 1, "schedule": [{"day": 0, "ranges": [{"from": "25:00", "to": "x"}]}]},
            ["schedule[0].ranges[0].from"],
        ),
        ({"event_id": 1, "reaction_id": 1, "title": "x", "": 1}, ["title", '""']),
        ([], ["body"]),
    ],
)
def test_every_bad_field_is_named(body, fields):
    with pytest.raises(ScriptError) as caught:
        parse_script(body)
    assert caught.value.fields == fields


def test_a_good_body_is_normalised():
    script = parse_script({"event_id": 1, "reaction_id": 2, "users": [3, 3, 4], "schedule": WEEK})
    assert script.users == (3, 4)
    assert script.schedule.public()[0] == {"day": 0, "ranges": [{"from": "00:00:00", "to": "23:59:59"}]}
    assert script.stored() == {"event_id": 1, "reaction_id": 2, "users": [3, 4]}
    assert parse_script({"event_id": 1, "reaction_id": 2}).schedule.always


def test_reaction_bodies():
    name, actions = parse_reaction({"name": "archive", "actions": [{"snapshot": {}}]})
    assert name == "archive" and actions[0].kind == "snapshot"
    with pytest.raises(ScriptError) as caught:
        parse_reaction({"name": "", "actions": [{"snapshot": {"x": 1}}], "extra": 1})
    assert caught.value.fields == ["name", "actions[0].snapshot.x", "extra"]
    with pytest.raises(ScriptError) as caught:
        parse_reaction({})
    assert caught.value.fields == ["name", "actions"]


def test_a_script_is_a_rule_over_every_camera():
    script = ScriptRequest(1, 2, (3,), parse_script({"event_id": 1, "reaction_id": 2, "schedule": WEEK}).schedule)
    actions = parse_actions([{"snapshot": {}}], "actions")
    spec = script_spec(script, actions, ("guard-1",), "Europe/Berlin")
    assert (spec.name, spec.cameras, spec.types, spec.notify, spec.timezone, spec.enabled, spec.cooldown_s) == (
        "script: motion_start",
        (),
        ("DEVICE_MOTION_START",),
        ("guard-1",),
        "Europe/Berlin",
        True,
        0.0,
    )
    # A rule narrowed through /api/v1/rules stays narrowed when the script is replaced.
    narrowed = replace(spec, cameras=("porch",), cooldown_s=60.0, enabled=False, timezone="UTC")
    again = script_spec(replace(script, event_id=2), actions, (), "Europe/Berlin", narrowed)
    assert (again.types, again.cameras, again.cooldown_s, again.enabled, again.timezone) == (
        ("DEVICE_MOTION_STOP",),
        ("porch",),
        60.0,
        False,
        "UTC",
    )


def test_views_have_the_seeds_shape():
    at = 1645207314.0  # 2022-02-18 18:01:54 UTC, the seed's own created_at
    assert seed_time(at) == "2022-02-18 18:01:54"
    user = User(3, "guard-1", at, at + 58)
    assert list(user_view(user)) == SEED_USER_KEYS
    assert user_view(user)["name"] == user_view(user)["login"] == "guard-1"
    assert user_view(user)["updated_at"] == "2022-02-18 18:02:52"
    reaction = Reaction(2, "hook", [{"webhook": {"url": "https://x.test/h", "secret": "s3cret"}}], at, at)
    assert reaction_view(reaction)["actions"] == [{"webhook": {"url": "https://x.test/h", "secret": SECRET_MASK}}]
    script = ScriptRequest(1, 2, (3,), parse_script({"event_id": 1, "reaction_id": 2, "schedule": WEEK}).schedule)
    spec = script_spec(script, parse_actions(reaction.actions, "actions"), ("guard-1",), "UTC")
    stored = StoredRule(902, spec.stored(), script.stored(), at, at + 58)
    view = script_view(stored, spec, {2: reaction}, {3: user})
    assert list(view) == SEED_KEYS
    assert view["event"] == {
        "id": 1,
        "name": "motion_start",
        "description": "Motion started in the camera's view",
        "color": "#F5A623",
        "analytic_type": "motion",
    }
    assert view["reaction"]["id"] == 2 and view["users"] == [user_view(user)]
    assert len(view["schedule"]) == 7 and view["schedule"][6]["ranges"] == [{"from": "00:00:00", "to": "23:59:59"}]
    assert SEED_TIME.fullmatch(view["created_at"]) and view["updated_at"] == "2022-02-18 18:02:52"
    # A reaction gone from the store shows as the seed's null.
    assert script_view(stored, spec, {}, {3: user})["reaction"] is None
