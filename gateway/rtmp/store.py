"""The set of pushes, persisted in SQLite (`[pushes] db_path`).

Durability: WAL journal with `synchronous=FULL`, one transaction per change. SQLite's
commit is atomic (https://sqlite.org/atomiccommit.html, https://sqlite.org/wal.html): a
process killed with SIGKILL mid-write leaves either the old or the new row set, never a
torn one, and with FULL every commit is fsynced before `add()` returns, so a push the
API answered 201 for survives even a power cut. The file holds full destination URLs
(stream keys) and, for WEP-mode pushes, the WEP session that started the stream: it is
created owner-only (0600), and neither ever goes into a log line or an error message.

Why the session is kept: the guide scopes GET and DELETE /media/rtmp to "the session
provided", and a WEP push outlives a gateway killed with SIGKILL. The next process logs
in with a new session and could not stop its predecessor's stream, whose receiver would
then refuse the restarted push ("already publishing") until the old stream ends.

Blocking (fsync): the registry calls it through `asyncio.to_thread`; a lock serialises
the one connection across threads.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pushes (
    id TEXT PRIMARY KEY,
    camera TEXT NOT NULL,
    url TEXT NOT NULL,
    quality TEXT NOT NULL,
    media TEXT NOT NULL,
    mode TEXT NOT NULL,
    created_at REAL NOT NULL,
    wep_stream_id TEXT,
    wep_session TEXT,
    stop_at REAL
) STRICT
"""
# Older files lack later columns, added in place: version 1 the session (NULL: stop with the
# current session), version 2 the end time (NULL: runs until deleted).
_MIGRATIONS = {"wep_session": "ALTER TABLE pushes ADD COLUMN wep_session TEXT",
               "stop_at": "ALTER TABLE pushes ADD COLUMN stop_at REAL"}
_COLUMNS = "id, camera, url, quality, media, mode, created_at, wep_stream_id, wep_session, stop_at"


class PushStoreError(RuntimeError):
    """The push database cannot be opened or written (path, permissions, corruption)."""


@dataclass(frozen=True)
class PushSpec:
    """What the operator asked for; everything needed to start the push again."""

    id: str
    camera: str
    url: str  # full, with the stream key: never logged or returned
    quality: str
    media: str  # "video" | "audio" | "both"
    mode: str  # "wep" | "gateway"
    created_at: float
    wep_stream_id: str | None = None  # the last id WEP gave (wep mode), to stop it after a restart
    # The WEP session that owns that stream (only it can stop it): a secret, kept out of repr.
    wep_session: str | None = field(default=None, repr=False)
    # A timed push (a rule's, or `seconds` in the API) ends itself then, Unix seconds, also
    # when the gateway restarted in between.
    stop_at: float | None = None


class PushStore:
    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                # Owner-only before SQLite creates it; its -wal and -shm files copy these bits.
                os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(_SCHEMA)
            present = {row[1] for row in self._db.execute("PRAGMA table_info(pushes)")}
            for column, statement in _MIGRATIONS.items():
                if column not in present:
                    self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except (OSError, sqlite3.Error) as exc:
            raise PushStoreError(f"cannot open push database {path}: {exc}") from None

    def add(self, spec: PushSpec) -> None:
        self._write(
            f"INSERT INTO pushes ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (spec.id, spec.camera, spec.url, spec.quality, spec.media, spec.mode, spec.created_at, spec.wep_stream_id,
             spec.wep_session, spec.stop_at),
        )

    def remove(self, push_id: str) -> None:
        self._write("DELETE FROM pushes WHERE id = ?", (push_id,))

    def set_wep_stream(self, push_id: str, stream_id: str | None, session: str | None) -> None:
        """The WEP stream a push now has and the session that owns it, in one commit."""
        self._write("UPDATE pushes SET wep_stream_id = ?, wep_session = ? WHERE id = ?", (stream_id, session, push_id))

    def all(self) -> list[PushSpec]:
        with self._lock:
            try:
                rows = self._db.execute(f"SELECT {_COLUMNS} FROM pushes ORDER BY created_at, id").fetchall()
            except sqlite3.Error as exc:
                raise PushStoreError(f"cannot read push database {self.path}: {exc}") from None
        return [PushSpec(*row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, statement: str, values: tuple) -> None:
        # Parameters only: the URL is never formatted into SQL or into an error message.
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.execute(statement, values)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise PushStoreError(f"cannot write push database {self.path}: {type(exc).__name__}") from None
