"""The rules engine: every event from the bus against the enabled rules, and the firings.

An event is matched on the loop, synchronously, as the bus hands it over (a listener):
the index (matcher.py) finds the rules naming its camera and type, then each one's
schedule (in the rule's zone, at the event's own time) and cooldown (per rule and camera)
decide. Skips are counted per rule and cause, never stored. A firing runs the rule's
actions concurrently, each under its own timeout, so one that hangs or fails never holds
back the others; its outcome and duration go to the history (store.py) and the firing
goes back on the bus as a `RULE_FIRED` event, highlighted for the subjects in `notify`.

What does not fire: events of the rules themselves (no loops), events without a camera,
and events older than `MAX_EVENT_AGE_S` (a gap search after an outage finds them late:
a warning played minutes after the person left helps nobody).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field

from gateway.cluster.firings import FiringGate, Verdict, rule_digest
from gateway.db import DatabaseError
from gateway.delay_histogram import DelayHistogram
from gateway.events.bus import EventBus
from gateway.events.model import Event, iso_at
from gateway.rules.actions import ActionFailed, ActionSkipped, Firing, Reactions
from gateway.rules.matcher import Armed, Cooldowns, RuleIndex
from gateway.rules.model import RuleSpec, parse_rule
from gateway.rules.store import Reaction, RuleStore, StoredRule, User

log = logging.getLogger("gateway.rules")

SOURCE = "rules"
FIRED_TYPE = "RULE_FIRED"
MAX_EVENT_AGE_S = 300.0
# Firings running at once; past it an event's firing is skipped and counted, so an event
# storm cannot grow tasks without bound.
MAX_FIRINGS = 256


@dataclass
class RuleStats:
    fired: int = 0
    # "schedule" | "cooldown" | "overloaded"; in a cluster also "elsewhere" | "cluster_unavailable"
    skipped: Counter[str] = field(default_factory=Counter)
    last_fired: float | None = None

    def public(self) -> dict:
        return {
            "fired": self.fired,
            "skipped": dict(self.skipped),
            "last_fired": iso_at(self.last_fired) if self.last_fired else None,
        }


@dataclass
class EngineStats:
    events: int = 0  # seen by the engine
    matched: int = 0  # that named at least one rule
    ignored: Counter[str] = field(default_factory=Counter)  # "own" | "no_camera" | "stale"
    skipped: Counter[str] = field(default_factory=Counter)
    firings: int = 0
    actions: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, "ok"|"skipped"|"failed"|"timeout")
    # From the event reaching the engine to the firing's first action starting.
    first_action: DelayHistogram = field(default_factory=DelayHistogram)


class RuleEngine:
    def __init__(
        self,
        store: RuleStore,
        reactions: Reactions,
        bus: EventBus | None,
        *,
        action_timeout: float,
        default_timezone: str,
        clock=time.time,
    ):
        self._store = store
        self._reactions = reactions
        self._bus = bus
        self._action_timeout = action_timeout
        self.default_timezone = default_timezone
        self._clock = clock
        self._rules: dict[int, tuple[StoredRule, RuleSpec]] = {}
        self._index = RuleIndex()
        self._cooldowns = Cooldowns()
        self._running: set[asyncio.Task] = set()
        self.rule_stats: dict[int, RuleStats] = {}
        self.stats = EngineStats()
        # In a cluster: once per cluster per event, cooldowns cluster-wide (gateway/cluster/firings.py).
        self.gate: FiringGate | None = None

    async def load(self) -> int:
        for stored in await asyncio.to_thread(self._store.rules):
            try:
                spec = parse_rule(stored.body, self.default_timezone)
            except ValueError as exc:  # written by an older version, or by hand
                log.error("rule %d in the database is not usable and stays off: %s", stored.id, exc)
                continue
            self._rules[stored.id] = (stored, spec)
            self.rule_stats[stored.id] = RuleStats()
        self._reindex()
        if self._bus is not None:
            self._bus.add_listener(self.on_event)
        return len(self._rules)

    # -- the rules ---------------------------------------------------------------------------

    def get(self, rule_id: int) -> tuple[StoredRule, RuleSpec] | None:
        return self._rules.get(rule_id)

    def all(self) -> list[tuple[StoredRule, RuleSpec]]:
        return list(self._rules.values())

    async def add(self, spec: RuleSpec, script: dict | None = None) -> StoredRule:
        stored = await asyncio.to_thread(self._store.add, spec.stored(), script)
        self._rules[stored.id] = (stored, spec)
        self.rule_stats[stored.id] = RuleStats()
        self._reindex()
        log.info("rule %d %r added", stored.id, spec.name)
        return stored

    async def replace(self, rule_id: int, spec: RuleSpec, script: dict | None = None) -> StoredRule:
        previous, _ = self._rules[rule_id]
        stored = await asyncio.to_thread(self._store.replace, previous, spec.stored(), script)
        self._rules[rule_id] = (stored, spec)
        self._cooldowns.forget(rule_id)
        self._reindex()
        log.info("rule %d %r changed", rule_id, spec.name)
        return stored

    async def remove(self, rule_id: int) -> None:
        await asyncio.to_thread(self._store.remove, rule_id)
        _, spec = self._rules.pop(rule_id)
        self.rule_stats.pop(rule_id, None)
        self._cooldowns.forget(rule_id)
        self._reindex()
        log.info("rule %d %r deleted", rule_id, spec.name)

    async def history(self, rule_id: int, limit: int) -> list[dict]:
        return await asyncio.to_thread(self._store.firings, rule_id, limit)

    # -- the scripts API's saved reactions and users (scripts_routes.py) -----------------------

    async def reactions(self) -> list[Reaction]:
        return await asyncio.to_thread(self._store.reactions)

    async def reaction(self, reaction_id: int) -> Reaction | None:
        return await asyncio.to_thread(self._store.reaction, reaction_id)

    async def add_reaction(self, name: str, actions: list) -> Reaction:
        return await asyncio.to_thread(self._store.add_reaction, name, actions)

    async def users(self) -> list[User]:
        return await asyncio.to_thread(self._store.users)

    async def remember_user(self, subject: str) -> None:
        """A token was minted for `subject` (gateway/auth/routes.py)."""
        await asyncio.to_thread(self._store.remember_user, subject)

    def _reindex(self) -> None:
        self._index = RuleIndex(Armed(rule_id, spec) for rule_id, (_, spec) in self._rules.items())

    # -- matching ----------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """The bus listener: decides on the loop, at once; firings run as tasks."""
        stats = self.stats
        stats.events += 1
        if event.source == SOURCE:
            stats.ignored["own"] += 1
            return
        if event.camera is None:
            stats.ignored["no_camera"] += 1
            return
        candidates = self._index.candidates(event.camera, event.type)
        if not candidates:
            return
        now = self._clock()
        if now - event.at > MAX_EVENT_AGE_S:
            stats.ignored["stale"] += 1
            return
        stats.matched += 1
        seen = time.monotonic()
        for rule in candidates:
            rule_stats = self.rule_stats[rule.id]
            if not rule.spec.active_at(event.at):
                self._skip(rule_stats, "schedule")
            elif len(self._running) >= MAX_FIRINGS:
                self._skip(rule_stats, "overloaded")
            elif not self._cooldowns.take(rule.id, event.camera, rule.spec.cooldown_s, time.monotonic()):
                self._skip(rule_stats, "cooldown")
            else:
                if self.gate is None:
                    rule_stats.fired += 1
                    rule_stats.last_fired = now
                    firing = self._fire(rule, event, seen)
                else:  # counted once the cluster says this node fires it
                    firing = self._fire_once(rule, event, seen, now)
                task = asyncio.get_running_loop().create_task(firing, name="rule firing")
                self._running.add(task)
                task.add_done_callback(self._running.discard)

    def _skip(self, rule_stats: RuleStats, why: str) -> None:
        rule_stats.skipped[why] += 1
        self.stats.skipped[why] += 1

    # -- firing ------------------------------------------------------------------------------

    async def _fire_once(self, rule: Armed, event: Event, seen: float, now: float) -> None:
        assert self.gate is not None
        stored = self._rules.get(rule.id)
        if stored is None:
            return  # removed meanwhile
        verdict = await self.gate.decide(rule_digest(stored[0].body), event, rule.spec.cooldown_s)
        rule_stats = self.rule_stats[rule.id]
        if verdict is not Verdict.FIRE:
            self._skip(rule_stats, verdict.value)
            return
        rule_stats.fired += 1
        rule_stats.last_fired = now
        await self._fire(rule, event, seen)

    async def _fire(self, rule: Armed, event: Event, seen: float) -> None:
        assert event.camera is not None
        self.stats.firings += 1
        firing = Firing(secrets.token_hex(6), rule.id, rule.spec, event, event.camera)
        started = time.monotonic()
        self.stats.first_action.record(started - seen)
        outcomes = await asyncio.gather(*(self._run(action, firing) for action in rule.spec.actions))
        duration = time.monotonic() - started
        done_at = self._clock()  # one instant for the history and the stream
        record = {
            "firing": firing.id,
            "rule": rule.id,
            "time": iso_at(done_at),
            "event": {"id": event.id, "camera": event.camera, "type": event.type, "time": event.time},
            "duration_s": round(duration, 3),
            "actions": outcomes,
        }
        failed = [outcome for outcome in outcomes if outcome["outcome"] in ("failed", "timeout")]
        log.info(
            "rule %d %r fired on %s %s: %d action(s), %d failed, %.1f s",
            rule.id,
            rule.spec.name,
            event.type,
            event.id,
            len(outcomes),
            len(failed),
            duration,
            extra={"camera": event.camera},
        )
        try:
            await asyncio.to_thread(self._store.record_firing, rule.id, done_at, record)
        except DatabaseError as exc:  # the firing happened anyway
            log.error("rule %d: the firing could not be written to the history: %s", rule.id, exc)
        if self._bus is not None:
            self._bus.publish(
                Event(
                    f"{SOURCE}:{firing.id}",
                    event.camera,
                    FIRED_TYPE,
                    "pulse",
                    iso_at(done_at),
                    SOURCE,
                    {"rule": {"id": rule.id, "name": rule.spec.name}, "event": event.public(), "actions": outcomes},
                    event.links,
                    done_at,
                    frozenset(rule.spec.notify),
                )
            )

    async def _run(self, action, firing: Firing) -> dict:
        started = time.monotonic()
        timeout = self._reactions.timeout_of(action, self._action_timeout)
        try:
            async with asyncio.timeout(timeout):
                detail, outcome = await self._reactions.run(action, firing), "ok"
        except ActionSkipped as exc:
            detail, outcome = str(exc), "skipped"
        except ActionFailed as exc:
            detail, outcome = str(exc), "failed"
        except TimeoutError:
            detail, outcome = f"gave up after {timeout:.0f} s", "timeout"
        except Exception as exc:  # a fault of ours: logged with its traceback, the others go on
            log.exception(
                "rule %d: the %s action failed unexpectedly",
                firing.rule_id,
                action.kind,
                extra={"camera": firing.camera},
            )
            detail, outcome = f"internal error ({type(exc).__name__})", "failed"
        finally:
            if action.kind == "share_link" and not firing.share_url.done():
                firing.share_url.set_result(None)
        self.stats.actions[(action.kind, outcome)] += 1
        if outcome != "ok":
            log.info(
                "rule %d: %s %s: %s", firing.rule_id, action.kind, outcome, detail, extra={"camera": firing.camera}
            )
        return {
            "action": action.kind,
            "outcome": outcome,
            "detail": detail,
            "duration_s": round(time.monotonic() - started, 3),
        }

    async def close(self) -> None:
        for task in list(self._running):
            task.cancel()
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
