"""Guest links in SQLite: the `guest_links` table of the gateway's database
(`[pushes] db_path`, opened by gateway/db.py).

Only the SHA-256 of a link's id is stored, as the key: the id is a bearer credential, and
a copy of the file (a backup, a support bundle) must not open any camera. Blocking calls:
LinkBook runs them through `asyncio.to_thread`.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.db import Database

SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS guest_links (
        hash TEXT PRIMARY KEY,
        camera TEXT NOT NULL,
        live INTEGER NOT NULL,
        window_from REAL,
        window_to REAL,
        created_at REAL NOT NULL,
        expires_at INTEGER NOT NULL,
        revoked_at REAL,
        created_by TEXT NOT NULL,
        owner TEXT NOT NULL
    ) STRICT
    """,
    "CREATE INDEX IF NOT EXISTS guest_links_expires ON guest_links (expires_at)",
)
_COLUMNS = "hash, camera, live, window_from, window_to, created_at, expires_at, revoked_at, created_by, owner"


@dataclass
class LinkRecord:
    """One row. `hash`: hex SHA-256 of the id; its first 16 characters are the link's `ref`."""

    hash: str
    camera: str
    live: bool
    window_from: float | None  # Unix seconds; None for a live link
    window_to: float | None
    created_at: float
    expires_at: int
    revoked_at: float | None
    created_by: str  # shown in listings: "admin", a token's sub, "token:<hash>", "rule:<id>"
    owner: str  # who may list and revoke it besides the admin key

    @property
    def ref(self) -> str:
        return self.hash[:16]


class LinkStore:
    def __init__(self, path: str):
        self._db = Database(path, SCHEMA, "the guest link")

    def add(self, link: LinkRecord) -> None:
        self._db.write(
            (
                # OR IGNORE: a link another node announced twice (gateway/cluster/replication.py).
                f"INSERT OR IGNORE INTO guest_links ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    link.hash,
                    link.camera,
                    int(link.live),
                    link.window_from,
                    link.window_to,
                    link.created_at,
                    link.expires_at,
                    link.revoked_at,
                    link.created_by,
                    link.owner,
                ),
            )
        )

    def revoke(self, digest: str, at: float) -> None:
        # Idempotent: a second revoke (another node's, a retried DELETE) keeps the first time.
        self._db.write(("UPDATE guest_links SET revoked_at = ? WHERE hash = ? AND revoked_at IS NULL", (at, digest)))

    def purge(self, before: float) -> None:
        """Forget links that ended (expired or revoked) before `before`."""
        self._db.write(("DELETE FROM guest_links WHERE expires_at < ? OR revoked_at < ?", (before, before)))

    def all(self) -> list[LinkRecord]:
        rows = self._db.read(f"SELECT {_COLUMNS} FROM guest_links ORDER BY created_at, hash")
        return [LinkRecord(row[0], row[1], bool(row[2]), *row[3:]) for row in rows]

    def close(self) -> None:
        self._db.close()
