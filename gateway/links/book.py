"""The guest links of this gateway: created, looked up on every guest request, listed,
revoked; and, per link, the open streams to close when it is revoked or expires.

Lookups are a dict by the SHA-256 of the presented id, filled from SQLite at start-up and
on create: a guest request costs one hash and one dict lookup, and an unknown id never
reaches the database. Ended links stay (listed, answering 410 rather than 401) for
`RETENTION`, then are forgotten.

Closing within 2 s: a revoke closes the link's streams at once; a sweeper wakes every
`SWEEP_INTERVAL` and closes those of links that expired meanwhile. `revoke(ref)` is all a
cluster node needs to call when another node announces a revoke (pub/sub): it is
idempotent, and closes whatever this node has open for the link.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from gateway.auth.closing import Closer  # what a link opened: a WebRTC session, a stream, the guest page's state
from gateway.auth.tokens import Grant
from gateway.cameras import CameraDirectory
from gateway.config import Config
from gateway.links.store import LinkRecord, LinkStore
from gateway.logs import redactor

log = logging.getLogger("gateway.links")

ID_BYTES = 24  # secrets.token_urlsafe: 192 random bits as 32 characters of [A-Za-z0-9_-]
REF_CHARS = 16  # a link's handle: the first 16 hex characters of its hash (64 bits)
MAX_WINDOW = 24 * 3600  # seconds of recording one link may show
# A window may end this far past the gateway's clock: the browser's or the event source's
# clock runs a little ahead (the recorded HLS routes allow the same, FUTURE_LIMIT).
FUTURE_LEEWAY = 60.0
SWEEP_INTERVAL = 1.0  # an expired link's streams close at most this late (the promise is 2 s)
RETENTION = 7 * 24 * 3600  # an ended link stays listed, and answers 410, this long
PURGE_INTERVAL = 3600.0

GONE_MESSAGES = {"revoked": "this link was revoked", "expired": "this link has expired"}


def digest(link_id: str) -> str:
    return hashlib.sha256(link_id.encode()).hexdigest()


@dataclass(frozen=True)
class CreatedLink:
    id: str  # the credential: only ever in this answer and in `url`
    ref: str
    url: str
    camera: str
    expires_at: int  # Unix seconds


@dataclass(eq=False)
class GuestLink:
    record: LinkRecord
    grant: Grant  # one camera, `view` only, until the link expires
    closers: set[Closer] = field(default_factory=set)
    redacted: bool = False  # the id is known to the log redactor (after a restart: once presented)

    @property
    def ref(self) -> str:
        return self.record.ref

    @property
    def window(self) -> tuple[float, float] | None:
        record = self.record
        if record.live:
            return None
        assert record.window_from is not None and record.window_to is not None  # a recorded link has both
        return record.window_from, record.window_to

    def gone(self, now: float) -> str | None:
        """ "revoked", "expired", or None while the link opens its camera."""
        if self.record.revoked_at is not None:
            return "revoked"
        return "expired" if self.record.expires_at <= now else None


def check_ttl(ttl: object, max_ttl: int) -> int:
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not 0 < ttl <= max_ttl:
        raise ValueError(f"ttl must be a whole number of seconds, 1 to {max_ttl}")
    return ttl


def check_window(window: object, now: float) -> tuple[float, float]:
    """A recorded window as Unix seconds; ValueError naming `from` or `to`."""
    if not isinstance(window, tuple) or len(window) != 2:
        raise ValueError("a window is (from, to)")
    for name, at in zip(("from", "to"), window):
        if not isinstance(at, datetime) or at.tzinfo is None:
            raise ValueError(f"{name} must be a time with a zone")
    start, end = (at.timestamp() for at in window)
    if start >= end:
        raise ValueError("from must be before to")
    if end - start > MAX_WINDOW:
        raise ValueError(f"to must be at most {MAX_WINDOW // 3600} h after from")
    if end > now + FUTURE_LEEWAY:
        raise ValueError("to is in the future: a window shows what was recorded")
    return start, end


class LinkBook:
    def __init__(self, config: Config, clock: Callable[[], float] = time.time):
        self._config = config
        self._clock = clock
        self._by_hash: dict[str, GuestLink] = {}
        self._by_ref: dict[str, GuestLink] = {}
        self._open: set[GuestLink] = set()  # links with closers
        self._store: LinkStore | None = None
        self._cameras: CameraDirectory | None = None
        self._sweeper: asyncio.Task | None = None
        # In a cluster (gateway/cluster/replication.py): told of each link made or revoked
        # here, so every node knows every link.
        self.on_created: list[Callable[[LinkRecord], None]] = []
        self.on_revoked: list[Callable[[LinkRecord], None]] = []

    def now(self) -> float:
        return self._clock()

    # -- life ---------------------------------------------------------------------------------
    async def open(self, cameras: CameraDirectory) -> None:
        """Load the links of the database and start the sweeper."""
        self._cameras = cameras
        self._store = await asyncio.to_thread(LinkStore, self._config.pushes.db_path)
        await asyncio.to_thread(self._store.purge, self._clock() - RETENTION)
        for record in await asyncio.to_thread(self._store.all):
            self._remember(record)
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), name="guest link sweeper")

    def close_streams(self, reason: str = "shutdown") -> None:
        for link in list(self._open):
            self._close(link, reason)

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        self.close_streams()
        if self._store is not None:
            self._store.close()

    # -- the Python API (the API routes and the rules engine) -------------------------------------
    async def create(
        self,
        camera: str,
        *,
        live: bool,
        window: tuple[datetime, datetime] | None,
        ttl: int,
        created_by: str,
        base_url: str | None = None,
        owner: str | None = None,
        not_after: int | None = None,
    ) -> CreatedLink:
        """A new link. ValueError names a bad argument; ApiError 404 for an unknown camera.
        `owner`: who may list and revoke it (default `created_by`); `not_after`: it expires
        then at the latest (a token's link does not outlive the token)."""
        if live and window is not None:
            raise ValueError("live and from/to exclude each other: a link is live or shows a recorded window")
        if not live and window is None:
            raise ValueError("from and to are required for a recorded window (or live: true)")
        ttl = check_ttl(ttl, self._config.links.max_ttl)
        now = self._clock()
        window_from, window_to = (None, None) if live else check_window(window, now)
        assert self._cameras is not None  # open() came first
        await self._cameras.get(camera)
        link_id = secrets.token_urlsafe(ID_BYTES)
        redactor.add(link_id)  # last line of defence: nothing here logs it
        expires_at = math.ceil(now + ttl)
        if not_after is not None:
            expires_at = min(expires_at, not_after)
        record = LinkRecord(
            digest(link_id),
            camera,
            live,
            window_from,
            window_to,
            now,
            expires_at,
            None,
            created_by,
            owner or created_by,
        )
        assert self._store is not None  # open() came first
        await asyncio.to_thread(self._store.add, record)
        self._remember(record).redacted = True
        for callback in self.on_created:
            callback(record)
        log.info(
            "guest link %s created by %s (%s, until %s)",
            record.ref,
            created_by,
            "live" if live else "recorded window",
            time.strftime("%H:%M:%S", time.gmtime(expires_at)),
            extra={"camera": camera},
        )
        return CreatedLink(link_id, record.ref, f"{self.base_url(base_url)}/g/{link_id}", camera, expires_at)

    async def revoke(self, ref_or_id: str) -> bool:
        """Revoke a link by its ref or id: new requests get 410 at once, its open streams are
        closed now. False when there is no such link; revoking twice is harmless."""
        link = self.find(ref_or_id)
        if link is None:
            return False
        if link.record.revoked_at is None:
            at = self._clock()
            link.record.revoked_at = at  # first in memory: the next request is refused already
            self._close(link, "revoked")
            assert self._store is not None  # a link is found only once open() loaded them
            await asyncio.to_thread(self._store.revoke, link.record.hash, at)
            log.info("guest link %s revoked", link.ref, extra={"camera": link.record.camera})
            for callback in self.on_revoked:
                callback(link.record)
        else:
            self._close(link, "revoked")  # e.g. a peer node's announcement: close what is open here
        return True

    async def apply(self, record: LinkRecord) -> None:
        """A link made or revoked on another node: known here from now on (idempotent), its
        open streams closed here if it is revoked."""
        link = self._by_hash.get(record.hash)
        if link is None:
            if record.revoked_at is None and record.expires_at <= self._clock():
                return  # expired already: nothing to serve or to close
            assert self._store is not None  # peers are heard from after open()
            await asyncio.to_thread(self._store.add, record)
            self._remember(record)
            return
        if record.revoked_at is not None and link.record.revoked_at is None:
            link.record.revoked_at = record.revoked_at
            self._close(link, "revoked")
            assert self._store is not None  # a link is known only once open() loaded them
            await asyncio.to_thread(self._store.revoke, record.hash, record.revoked_at)
            log.info("guest link %s revoked on another node", link.ref, extra={"camera": record.camera})

    def base_url(self, base_url: str | None = None) -> str:
        server = self._config.server
        return (base_url or server.public_url or f"http://{server.listen}").rstrip("/")

    # -- lookups --------------------------------------------------------------------------------------
    def lookup(self, link_id: str) -> GuestLink | None:
        """The link of a presented id (the per-request path: one hash, one dict lookup)."""
        link = self._by_hash.get(digest(link_id))
        if link is not None and not link.redacted:
            redactor.add(link_id)  # a link loaded from the database: its id is known once presented
            link.redacted = True
        return link

    def find(self, ref_or_id: str) -> GuestLink | None:
        if len(ref_or_id) == REF_CHARS:
            link = self._by_ref.get(ref_or_id)
            if link is not None:
                return link
        return self.lookup(ref_or_id)

    def links(self, owner: str | None = None) -> list[GuestLink]:
        """Every link (None), or those of one owner; oldest first."""
        return [link for link in self._by_hash.values() if owner is None or link.record.owner == owner]

    # -- streams to close -------------------------------------------------------------------------------
    def track(self, link: GuestLink, closer: Closer) -> None:
        """`closer` ends with the link (at once if the link went while it was being opened)."""
        reason = link.gone(self._clock())
        if reason is not None:
            closer.close(reason)
            return
        link.closers.add(closer)
        self._open.add(link)

    def untrack(self, link: GuestLink, closer: Closer) -> None:
        link.closers.discard(closer)
        if not link.closers:
            self._open.discard(link)

    def _close(self, link: GuestLink, reason: str) -> None:
        closers, link.closers = link.closers, set()
        self._open.discard(link)
        for closer in closers:
            try:
                closer.close(reason)
            except Exception:
                log.exception("closing a stream of guest link %s failed", link.ref)
        if closers and reason != "shutdown":
            log.info(
                "guest link %s %s: closed %d open stream(s)",
                link.ref,
                reason,
                len(closers),
                extra={"camera": link.record.camera},
            )

    async def _sweep(self) -> None:
        next_purge = self._clock() + PURGE_INTERVAL
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            now = self._clock()
            try:
                for link in list(self._open):
                    reason = link.gone(now)
                    if reason is not None:
                        self._close(link, reason)
                    else:
                        for closer in [c for c in link.closers if not c.alive()]:
                            self.untrack(link, closer)
                if now >= next_purge:
                    next_purge = now + PURGE_INTERVAL
                    await self._purge(now - RETENTION)
            except Exception:
                log.exception("the guest link sweeper failed; it goes on")

    async def _purge(self, before: float) -> None:
        assert self._store is not None  # the sweeper starts in open()
        await asyncio.to_thread(self._store.purge, before)
        for link in list(self._by_hash.values()):
            record = link.record
            ended = record.revoked_at if record.revoked_at is not None else record.expires_at
            if ended < before and link not in self._open:
                del self._by_hash[record.hash]
                self._by_ref.pop(record.ref, None)

    def _remember(self, record: LinkRecord) -> GuestLink:
        grant = Grant(frozenset({record.camera}), frozenset({"view"}), record.expires_at, f"guest:{record.ref}")
        link = GuestLink(record, grant)
        self._by_hash[record.hash] = link
        self._by_ref[record.ref] = link
        return link
