"""The set of pushes, persisted in SQLite (`[pushes] db_path`).

Durability (gateway/db.py): one transaction per change, fsynced before `add()` returns, so
a push the API answered 201 for survives a SIGKILL or a power cut. The file holds full destination URLs
(stream keys) and, for WEP-mode pushes, the WEP session that started the stream: it is
created owner-only (0600), and neither ever goes into a log line or an error message.

Why the session is kept: the guide scopes GET and DELETE /media/rtmp to "the session
provided", and a WEP push outlives a gateway killed with SIGKILL. The next process logs
in with a new session and could not stop its predecessor's stream, whose receiver would
then refuse the restarted push ("already publishing") until the old stream ends.

Blocking (fsync): the registry calls it through `asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

from gateway.db import Database, DatabaseError

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
_MIGRATIONS = {
    "wep_session": "ALTER TABLE pushes ADD COLUMN wep_session TEXT",
    "stop_at": "ALTER TABLE pushes ADD COLUMN stop_at REAL",
}
_COLUMNS = "id, camera, url, quality, media, mode, created_at, wep_stream_id, wep_session, stop_at"


class PushStoreError(DatabaseError):
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
        self._db = Database(path, (_SCHEMA,), "push", PushStoreError)
        present = {row[1] for row in self._db.read("PRAGMA table_info(pushes)")}
        self._db.write(
            *((statement, ()) for column, statement in _MIGRATIONS.items() if column not in present),
            (f"PRAGMA user_version={SCHEMA_VERSION}", ()),
        )

    def add(self, spec: PushSpec) -> None:
        self._db.write(
            (
                f"INSERT INTO pushes ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    spec.id,
                    spec.camera,
                    spec.url,
                    spec.quality,
                    spec.media,
                    spec.mode,
                    spec.created_at,
                    spec.wep_stream_id,
                    spec.wep_session,
                    spec.stop_at,
                ),
            )
        )

    def remove(self, push_id: str) -> None:
        self._db.write(("DELETE FROM pushes WHERE id = ?", (push_id,)))

    def set_wep_stream(self, push_id: str, stream_id: str | None, session: str | None) -> None:
        """The WEP stream a push now has and the session that owns it, in one commit."""
        self._db.write(
            ("UPDATE pushes SET wep_stream_id = ?, wep_session = ? WHERE id = ?", (stream_id, session, push_id))
        )

    def all(self) -> list[PushSpec]:
        return [PushSpec(*row) for row in self._db.read(f"SELECT {_COLUMNS} FROM pushes ORDER BY created_at, id")]

    def close(self) -> None:
        self._db.close()


class PushBook(Protocol):
    """Where the set of pushes is kept, as the registry sees it: this node's SQLite file
    (LocalPushBook), or the cluster's Redis (gateway/cluster/pushes.py)."""

    path: str

    async def add(self, spec: PushSpec) -> None: ...

    async def remove(self, push_id: str) -> None: ...

    async def get(self, push_id: str) -> PushSpec | None: ...

    async def set_wep_stream(self, push_id: str, stream_id: str | None, session: str | None) -> None: ...

    async def all(self) -> list[PushSpec]: ...

    def close(self) -> None: ...


class LocalPushBook:
    """The SQLite store through a thread (its writes fsync)."""

    def __init__(self, store: PushStore):
        self._store = store
        self.path = store.path

    async def add(self, spec: PushSpec) -> None:
        await asyncio.to_thread(self._store.add, spec)

    async def remove(self, push_id: str) -> None:
        await asyncio.to_thread(self._store.remove, push_id)

    async def get(self, push_id: str) -> PushSpec | None:
        return next((spec for spec in await self.all() if spec.id == push_id), None)

    async def set_wep_stream(self, push_id: str, stream_id: str | None, session: str | None) -> None:
        await asyncio.to_thread(self._store.set_wep_stream, push_id, stream_id, session)

    async def all(self) -> list[PushSpec]:
        return await asyncio.to_thread(self._store.all)

    def close(self) -> None:
        self._store.close()
