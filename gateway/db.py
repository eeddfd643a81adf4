"""The gateway's one SQLite file (`[pushes] db_path`), opened the same way by every store.

WAL journal with `synchronous=FULL`: a commit is fsynced before it returns, so what an API
answer confirmed survives a crash or a power cut, and a process killed mid-write leaves
the old or the new rows, never torn ones (https://sqlite.org/atomiccommit.html). The file
is created owner-only (0600): it holds stream keys, webhook secrets, hashes of guest links.

Calls block (fsync): stores run them through `asyncio.to_thread`; a lock serialises the
one connection across threads. Values go in as parameters only, so nothing secret is ever
formatted into SQL or into an error message.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


class DatabaseError(RuntimeError):
    """The database cannot be opened, read or written (path, permissions, corruption)."""


class Database:
    def __init__(self, path: str, schema: Iterable[str], what: str, error: type[DatabaseError] = DatabaseError):
        """Open `path` and run `schema` (CREATE ... IF NOT EXISTS statements); `what` names
        the store in errors, raised as `error` (a store's own DatabaseError subclass)."""
        self.path = path
        self._what = what
        self._error = error
        self._lock = threading.Lock()
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                # Owner-only before SQLite creates it; its -wal and -shm files copy these bits.
                os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            for statement in schema:
                self._db.execute(statement)
        except (OSError, sqlite3.Error) as exc:
            raise error(f"cannot open {what} database {path}: {exc}") from None

    def write(self, *statements: tuple[str, Sequence[Any]]) -> list[int | None]:
        """Run the statements in one transaction; each one's lastrowid."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    ids = [self._db.execute(sql, values).lastrowid for sql, values in statements]
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
                return ids
            except sqlite3.Error as exc:
                raise self._error(f"cannot write {self._what} database {self.path}: {type(exc).__name__}") from None

    def read(self, sql: str, values: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, values).fetchall()
            except sqlite3.Error as exc:
                raise self._error(f"cannot read {self._what} database {self.path}: {type(exc).__name__}") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()
