"""The matcher's index and the cooldowns."""

from __future__ import annotations

from gateway.rules.matcher import Armed, Cooldowns, RuleIndex
from gateway.rules.model import parse_rule


def rule(rule_id: int, cameras=(), types=(), enabled=True) -> Armed:
    return Armed(
        rule_id,
        parse_rule(
            {
                "name": f"r{rule_id}",
                "enabled": enabled,
                "when": {"cameras": list(cameras), "types": list(types)},
                "actions": [{"snapshot": {}}],
            }
        ),
    )


def test_the_index_finds_exact_and_wildcard_rules_once():
    index = RuleIndex(
        [
            rule(1, ["a"], ["T"]),
            rule(2, ["a"]),
            rule(3, types=["T"]),
            rule(4),
            rule(5, ["b"], ["T"]),
            rule(6, ["a", "b"], ["T", "U"]),
            rule(7, ["a"], ["T"], enabled=False),
        ]
    )
    assert sorted(found.id for found in index.candidates("a", "T")) == [1, 2, 3, 4, 6]
    assert sorted(found.id for found in index.candidates("b", "U")) == [4, 6]
    assert sorted(found.id for found in index.candidates("c", "V")) == [4]


def test_rules_that_cannot_match_are_never_looked_at():
    index = RuleIndex([rule(n, [f"cam-{n}"], ["DEVICE_MOTION_START"]) for n in range(10_000)])
    assert [found.id for found in index.candidates("cam-7", "DEVICE_MOTION_START")] == [7]
    assert index.candidates("cam-7", "DEVICE_MOTION_STOP") == []


def test_cooldown_is_per_rule_and_camera():
    cooldowns = Cooldowns()
    assert cooldowns.take(1, "a", 60, now=100.0)
    assert not cooldowns.take(1, "a", 60, now=159.9)
    assert cooldowns.take(1, "b", 60, now=120.0)  # another camera
    assert cooldowns.take(2, "a", 60, now=120.0)  # another rule
    assert cooldowns.take(1, "a", 60, now=160.0)
    cooldowns.forget(1)
    assert cooldowns.take(1, "a", 60, now=161.0)  # a changed rule starts afresh
    assert cooldowns.take(3, "a", 0, now=1.0) and cooldowns.take(3, "a", 0, now=1.0)  # no cooldown
