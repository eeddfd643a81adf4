"""Which rules an event fires (sans-IO): an index by (camera, type), then schedule and cooldown.

The index keeps each enabled rule under every (camera, type) pair it names, with `None`
for "any camera" or "any type". An event looks up four keys, so the cost of an event
depends on the rules that could match it, never on the rules that cannot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gateway.rules.model import RuleSpec

ANY = None
# Cooldown entries are swept once there are this many (each sweep drops the lapsed ones).
SWEEP_AT = 4096


@dataclass(frozen=True, slots=True)
class Armed:
    """An enabled rule as the matcher holds it."""

    id: int
    spec: RuleSpec


class RuleIndex:
    def __init__(self, rules: Iterable[Armed] = ()):
        self._by_key: dict[tuple[str | None, str | None], list[Armed]] = {}
        for rule in rules:
            if not rule.spec.enabled:
                continue
            for camera in rule.spec.cameras or (ANY,):
                for event_type in rule.spec.types or (ANY,):
                    self._by_key.setdefault((camera, event_type), []).append(rule)

    def candidates(self, camera: str | None, event_type: str) -> list[Armed]:
        """The enabled rules naming this camera (or any) and this type (or any), each once."""
        found: list[Armed] = []
        get = self._by_key.get
        for key in ((camera, event_type), (camera, ANY), (ANY, event_type), (ANY, ANY)):
            rules = get(key)
            if rules:
                found.extend(rules)
        if len(found) > 1:
            found = list({rule.id: rule for rule in found}.values())
        return found


class Cooldowns:
    """When each (rule, camera) may fire again: a firing holds it `cooldown_s`."""

    def __init__(self) -> None:
        self._until: dict[tuple[int, str | None], float] = {}

    def take(self, rule_id: int, camera: str | None, cooldown_s: float, now: float) -> bool:
        """True (and the cooldown starts) unless the pair is still cooling down."""
        key = (rule_id, camera)
        if self._until.get(key, 0.0) > now:
            return False
        if cooldown_s > 0:
            if len(self._until) >= SWEEP_AT:
                self._until = {pair: until for pair, until in self._until.items() if until > now}
            self._until[key] = now + cooldown_s
        return True

    def forget(self, rule_id: int) -> None:
        """A changed or deleted rule starts afresh."""
        self._until = {pair: until for pair, until in self._until.items() if pair[0] != rule_id}
