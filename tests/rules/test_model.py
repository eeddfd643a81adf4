"""Rule bodies: the issue's example is taken as written; every bad field is named."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from gateway.rules.model import SECRET_MASK, RuleError, parse_rule

EXAMPLE = {
    "name": "gate after hours",
    "enabled": True,
    "when": {
        "cameras": ["porch"],
        "types": ["DEVICE_MOTION_START"],
        "schedule": [{"day": 0, "ranges": [{"from": "18:00:00", "to": "23:59:59"}]}],
        "timezone": "Europe/Berlin",
    },
    "cooldown_s": 60,
    "actions": [
        {"talkdown": {"clip": "warning-1"}},
        {"ptz_preset": {"preset": 2}},
        {"snapshot": {}},
        {"record": {"seconds": 300}},
        {"push": {"url": "rtmp://example.net/live/key", "seconds": 300}},
        {"webhook": {"url": "https://example.net/hook", "secret": "s3cret"}},
        {"share_link": {"ttl": 3600}},
    ],
    "notify": ["guard-1"],
}


def with_change(path: list, value, body=EXAMPLE) -> dict:
    changed = copy.deepcopy(body)
    target = changed
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


def test_the_issue_example_is_a_rule():
    spec = parse_rule(EXAMPLE)
    assert spec.name == "gate after hours" and spec.cameras == ("porch",) and spec.cooldown_s == 60
    assert [action.kind for action in spec.actions] == [
        "talkdown",
        "ptz_preset",
        "snapshot",
        "record",
        "push",
        "webhook",
        "share_link",
    ]
    public = spec.public()
    assert public["when"]["schedule"] == EXAMPLE["when"]["schedule"]
    # The secret never leaves through the API; the stored form keeps it.
    assert public["actions"][5] == {"webhook": {"url": "https://example.net/hook", "secret": SECRET_MASK}}
    assert spec.stored()["actions"][5]["webhook"]["secret"] == "s3cret"
    assert parse_rule(spec.stored()) == spec  # what the store keeps reads back the same


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["name"], "", "name"),
        (["name"], KeyError, "name"),
        (["enabled"], "yes", "enabled"),
        (["when"], [], "when"),
        (["when", "cameras"], "porch", "when.cameras"),
        (["when", "cameras"], ["a b"], "when.cameras[0]"),
        (["when", "types"], ["motion"], "when.types[0]"),
        (["when", "schedule"], {"": "date"}, "when.schedule"),
        (["when", "schedule"], [{"day": 7, "ranges": [{"from": "00:00", "to": "01:00"}]}], "when.schedule[0].day"),
        (["when", "schedule"], [{"day": 1, "ranges": []}], "when.schedule[0].ranges"),
        (
            ["when", "schedule"],
            [{"day": 1, "ranges": [{"from": "25:00:00", "to": "26:00:00"}]}],
            "when.schedule[0].ranges[0].from",
        ),
        (
            ["when", "schedule"],
            [{"day": 1, "ranges": [{"from": "10:00:00", "to": "09:00:00"}]}],
            "when.schedule[0].ranges[0].to",
        ),
        (["when", "schedule"], [{"day": 1, "ranges": [{"from": "10:00:00"}]}], "when.schedule[0].ranges[0].to"),
        (["when", "timezone"], "Mars/Olympus", "when.timezone"),
        (["when", "extra"], 1, "when.extra"),
        (["cooldown_s"], -1, "cooldown_s"),
        (["cooldown_s"], float("nan"), "cooldown_s"),
        (["actions"], [], "actions"),
        (["actions"], [{"dance": {}}], "actions[0].dance"),
        (["actions"], [{"snapshot": {}, "record": {"seconds": 1}}], "actions[0]"),
        (["actions", 0, "talkdown"], {}, "actions[0].talkdown.clip"),
        (["actions", 1, "ptz_preset", "preset"], "2", "actions[1].ptz_preset.preset"),
        (["actions", 2, "snapshot"], {"size": 1}, "actions[2].snapshot.size"),
        (["actions", 3, "record", "seconds"], 0, "actions[3].record.seconds"),
        (["actions", 4, "push", "url"], "http://example.net/x", "actions[4].push.url"),
        (["actions", 4, "push", "seconds"], True, "actions[4].push.seconds"),
        (["actions", 4, "push", "quality"], "4k", "actions[4].push.quality"),
        (["actions", 5, "webhook", "url"], "ftp://example.net", "actions[5].webhook.url"),
        (["actions", 5, "webhook", "secret"], "", "actions[5].webhook.secret"),
        (["actions", 6, "share_link", "live"], "no", "actions[6].share_link.live"),
        (["notify"], ["ok", 3], "notify[1]"),
        (["color"], "red", "color"),
    ],
)
def test_every_bad_field_is_named(path, value, field):
    with pytest.raises(RuleError) as raised:
        parse_rule(with_change(path, value))
    assert raised.value.field == field, str(raised.value)
    assert str(raised.value).startswith(field)


def test_the_schedule_is_read_in_the_rules_zone():
    spec = parse_rule(EXAMPLE)  # Mondays 18:00:00-23:59:59 in Berlin
    # 2026-11-30 is a Monday; Berlin is UTC+1 in winter.
    assert spec.active_at(datetime(2026, 11, 30, 17, 0, 0, tzinfo=UTC).timestamp())  # 18:00 Berlin
    assert spec.active_at(datetime(2026, 11, 30, 22, 59, 59, tzinfo=UTC).timestamp())  # 23:59:59 Berlin
    assert not spec.active_at(datetime(2026, 11, 30, 16, 59, 59, tzinfo=UTC).timestamp())
    assert not spec.active_at(datetime(2026, 11, 30, 23, 0, 0, tzinfo=UTC).timestamp())  # Tuesday in Berlin
    # Summer time moves the window with the zone: 18:00 Berlin is 16:00 UTC.
    assert spec.active_at(datetime(2026, 6, 29, 16, 0, 0, tzinfo=UTC).timestamp())
    always = parse_rule(with_change(["when", "schedule"], []))
    assert always.active_at(0) and always.active_at(datetime(2026, 11, 30, 3, tzinfo=UTC).timestamp())


def test_a_masked_secret_sent_back_keeps_the_stored_one():
    stored = parse_rule(EXAMPLE)
    sent_back = parse_rule(stored.public())
    assert sent_back.keeping_secrets_of(stored).actions[5].params["secret"] == "s3cret"
    moved = with_change(["actions", 5, "webhook", "url"], "https://elsewhere.example/hook", stored.public())
    with pytest.raises(RuleError) as raised:
        parse_rule(moved).keeping_secrets_of(stored)
    assert raised.value.field == "actions[5].webhook.secret"
