"""Rules, their firings, and the scripts API's saved reactions and users, in the gateway's
SQLite file (`[pushes] db_path`, gateway/db.py).

A rule is written before the API answers, so what was confirmed survives a restart. Its
body is the stored form of `RuleSpec` (webhook secrets included: the file is owner-only
and nothing here is ever logged). Firings are kept `[rules] history_days` and at most
`history_per_rule` per rule; both bounds are applied as firings are written.
Blocking: callers go through `asyncio.to_thread`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from gateway.db import Database

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS rules (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        body TEXT NOT NULL,
        script TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    ) STRICT""",
    """CREATE TABLE IF NOT EXISTS rule_firings (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        rule_id INTEGER NOT NULL,
        at REAL NOT NULL,
        record TEXT NOT NULL
    ) STRICT""",
    "CREATE INDEX IF NOT EXISTS rule_firings_rule ON rule_firings (rule_id, seq)",
    "CREATE INDEX IF NOT EXISTS rule_firings_at ON rule_firings (at)",
    """CREATE TABLE IF NOT EXISTS rule_reactions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        actions TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    ) STRICT""",
    """CREATE TABLE IF NOT EXISTS rule_users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        subject TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    ) STRICT""",
)
# A rule's firings past its newest `per_rule`.
_PRUNE_RULE = (
    "DELETE FROM rule_firings WHERE rule_id = ? AND seq <= "
    "(SELECT seq FROM rule_firings WHERE rule_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)"
)
_ADD_REACTION = "INSERT INTO rule_reactions (name, actions, created_at, updated_at) VALUES (?, ?, ?, ?)"
_REMEMBER_USER = (
    "INSERT INTO rule_users (subject, created_at, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (subject) DO UPDATE SET updated_at = excluded.updated_at"
)
# A subject a rule's `notify` names: a user from now on, but naming it is no sign of life.
_NAME_USER = (
    "INSERT INTO rule_users (subject, created_at, updated_at) VALUES (?, ?, ?) ON CONFLICT (subject) DO NOTHING"
)
_REACTIONS = "SELECT id, name, actions, created_at, updated_at FROM rule_reactions"
MAX_HISTORY = 1000  # firings answered at once


@dataclass(frozen=True)
class StoredRule:
    id: int
    body: dict  # RuleSpec.stored()
    script: dict | None  # the scripts API's own fields, for a rule made through it
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class Reaction:
    id: int
    name: str
    actions: list  # the rule action list, as stored (secrets included)
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class User:
    id: int
    subject: str
    created_at: float
    updated_at: float


def _reaction(row: tuple) -> Reaction:
    reaction_id, name, actions, created_at, updated_at = row
    return Reaction(reaction_id, name, json.loads(actions), created_at, updated_at)


def _rule(row: tuple) -> StoredRule:
    rule_id, body, script, created_at, updated_at = row
    return StoredRule(rule_id, json.loads(body), json.loads(script) if script else None, created_at, updated_at)


class RuleStore:
    def __init__(self, path: str, retention_s: float, per_rule: int, clock=time.time):
        self._db = Database(path, SCHEMA, "the rules")
        self._retention = retention_s
        self._per_rule = per_rule
        self._clock = clock

    # -- rules -------------------------------------------------------------------------------

    def rules(self) -> list[StoredRule]:
        return [
            _rule(row)
            for row in self._db.read("SELECT id, body, script, created_at, updated_at FROM rules ORDER BY id")
        ]

    def add(self, body: dict, script: dict | None = None) -> StoredRule:
        now = self._clock()
        [rule_id, *_] = self._db.write(
            (
                "INSERT INTO rules (body, script, created_at, updated_at) VALUES (?, ?, ?, ?)",
                (json.dumps(body), _json_or_none(script), now, now),
            ),
            *_named_users(body, now),
        )
        assert rule_id is not None
        return StoredRule(rule_id, body, script, now, now)

    def replace(self, previous: StoredRule, body: dict, script: dict | None = None) -> StoredRule:
        now = self._clock()
        self._db.write(
            (
                "UPDATE rules SET body = ?, script = ?, updated_at = ? WHERE id = ?",
                (json.dumps(body), _json_or_none(script), now, previous.id),
            ),
            *_named_users(body, now),
        )
        return StoredRule(previous.id, body, script, previous.created_at, now)

    def remove(self, rule_id: int) -> None:
        self._db.write(
            ("DELETE FROM rules WHERE id = ?", (rule_id,)), ("DELETE FROM rule_firings WHERE rule_id = ?", (rule_id,))
        )

    # -- firings -----------------------------------------------------------------------------

    def record_firing(self, rule_id: int, at: float, record: dict) -> None:
        self._db.write(
            ("INSERT INTO rule_firings (rule_id, at, record) VALUES (?, ?, ?)", (rule_id, at, json.dumps(record))),
            ("DELETE FROM rule_firings WHERE at < ?", (self._clock() - self._retention,)),
            (_PRUNE_RULE, (rule_id, rule_id, self._per_rule)),
        )

    def firings(self, rule_id: int, limit: int = 100) -> list[dict]:
        rows = self._db.read(
            "SELECT record FROM rule_firings WHERE rule_id = ? ORDER BY seq DESC LIMIT ?",
            (rule_id, min(limit, MAX_HISTORY)),
        )
        return [json.loads(record) for (record,) in rows]

    # -- the scripts API's reactions and users ------------------------------------------------

    def reactions(self) -> list[Reaction]:
        return [_reaction(row) for row in self._db.read(f"{_REACTIONS} ORDER BY id")]

    def reaction(self, reaction_id: int) -> Reaction | None:
        rows = self._db.read(f"{_REACTIONS} WHERE id = ?", (reaction_id,))
        return _reaction(rows[0]) if rows else None

    def add_reaction(self, name: str, actions: list) -> Reaction:
        now = self._clock()
        [reaction_id] = self._db.write((_ADD_REACTION, (name, json.dumps(actions), now, now)))
        assert reaction_id is not None
        return Reaction(reaction_id, name, actions, now, now)

    def users(self) -> list[User]:
        return [
            User(*row)
            for row in self._db.read("SELECT id, subject, created_at, updated_at FROM rule_users ORDER BY id")
        ]

    def remember_user(self, subject: str) -> None:
        """A token subject, seen when a token is minted for it: the scripts API's users."""
        now = self._clock()
        self._db.write((_REMEMBER_USER, (subject, now, now)))

    def close(self) -> None:
        self._db.close()


def _named_users(body: dict, now: float) -> list[tuple[str, tuple]]:
    """The rule's `notify` subjects as users of the scripts API, written with the rule."""
    return [(_NAME_USER, (subject, now, now)) for subject in body.get("notify", ())]


def _json_or_none(value: dict | None) -> str | None:
    return None if value is None else json.dumps(value)
