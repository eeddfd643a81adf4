"""Who did what to which alarm, in SQLite beside the pushes (`[pushes] db_path`), kept
`[events] audit_days`.

One row per action, written before the answer goes out (gateway/db.py: an acknowledged
alarm's record survives a crash). Old rows are pruned as new ones are written. Blocking
calls run in a thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from gateway.db import Database, DatabaseError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alarm_actions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    alarm TEXT NOT NULL,
    action TEXT NOT NULL,
    sub TEXT,
    note TEXT,
    at REAL NOT NULL,
    outcome TEXT NOT NULL
) STRICT
"""
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS alarm_actions_alarm ON alarm_actions (alarm, seq)",
    "CREATE INDEX IF NOT EXISTS alarm_actions_at ON alarm_actions (at)",
)
MAX_HISTORY = 1000  # rows answered for one alarm


class AuditError(DatabaseError):
    """The audit database cannot be opened or written."""


@dataclass(frozen=True)
class AlarmAction:
    alarm: str
    action: str  # "acknowledge" | "claim" | "dismiss" | ...
    sub: str | None  # the token's subject; None for the admin key or an anonymous token
    note: str | None
    at: float
    outcome: str  # "ok", or why the upstream refused

    def public(self) -> dict:
        return {
            "alarm": self.alarm,
            "action": self.action,
            "by": self.sub,
            "note": self.note,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.at)) + f".{int(self.at % 1 * 1000):03d}Z",
            "outcome": self.outcome,
        }


class AlarmAudit:
    def __init__(self, path: str, retention_s: float):
        self._retention = retention_s
        self._db = Database(path, (_SCHEMA, *_INDEXES), "the alarm audit", AuditError)

    async def record(self, action: AlarmAction) -> None:
        await asyncio.to_thread(self._record, action)

    async def history(self, alarm: str) -> list[AlarmAction]:
        return await asyncio.to_thread(self._history, alarm)

    def _record(self, action: AlarmAction) -> None:
        self._db.write(
            (
                "INSERT INTO alarm_actions (alarm, action, sub, note, at, outcome) VALUES (?,?,?,?,?,?)",
                (action.alarm, action.action, action.sub, action.note, action.at, action.outcome),
            ),
            ("DELETE FROM alarm_actions WHERE at < ?", (time.time() - self._retention,)),
        )

    def _history(self, alarm: str) -> list[AlarmAction]:
        rows = self._db.read(
            "SELECT alarm, action, sub, note, at, outcome FROM alarm_actions WHERE alarm = ? "
            "AND at >= ? ORDER BY seq DESC LIMIT ?",
            (alarm, time.time() - self._retention, MAX_HISTORY),
        )
        return [AlarmAction(*row) for row in rows]

    def close(self) -> None:
        self._db.close()
