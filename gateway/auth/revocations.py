"""Revoked viewer tokens (sans-IO): a token's `jti` (RFC 7519 4.1.7) is refused until the
moment the token would have expired anyway, then forgotten; an expired token is refused
for being expired.

`is_revoked` is one dict lookup: TokenAuthority.verify asks it on every request, cached
grants included. Memory is bounded: entries whose time has passed are pruned on each
insert (a heap by expiry, so pruning costs what it removes), and past `limit` live entries
a revoke is refused (RevocationsFull) rather than growing without end: a token lives at
most a week (tokens.MAX_TTL), so that many revocations within a week means rotating
`[auth] token_secret` is the better tool.

Two kinds of callback, each `callback(jti, until)`:
- listeners: on each *local* `revoke` only, so a cluster layer can publish it to its peers;
- watchers: on every revocation, local (`revoke`) or from elsewhere (`apply`), so what the
  token has open on this node is closed (gateway/auth/closing.py).
A revocation whose `until` has already passed keeps no entry (the token is refused as
expired), but its callbacks run all the same: a stream opened before the token expired can
still be running, here or on a peer.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable

log = logging.getLogger("gateway.auth")

MAX_REVOKED = 100_000  # live entries: about 10 MB at most
MAX_JTI = 128  # the gateway mints 12 characters (secrets.token_urlsafe(9))

Callback = Callable[[str, int], None]  # (jti, until: Unix seconds)


class RevocationsFull(Exception):
    """`limit` tokens are revoked and not yet expired: no room for one more."""


def check_jti(jti: object) -> str:
    """A `jti` as the gateway takes one; ValueError otherwise."""
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI or not jti.isprintable() or " " in jti:
        raise ValueError(f"jti must be a token id of 1 to {MAX_JTI} printable characters without spaces")
    return jti


def check_until(until: object) -> int:
    if not isinstance(until, int) or isinstance(until, bool) or until < 0:
        raise ValueError("until must be a whole number of Unix seconds")
    return until


class Revocations:
    def __init__(self, clock: Callable[[], float] = time.time, limit: int = MAX_REVOKED):
        self._clock = clock
        self._limit = limit
        self._until: dict[str, int] = {}
        # (until, jti), earliest first; an entry whose `until` was raised since is stale and
        # skipped when it comes up.
        self._expiries: list[tuple[int, str]] = []
        self._listeners: list[Callback] = []
        self._watchers: list[Callback] = []

    def __len__(self) -> int:
        return len(self._until)

    @property
    def limit(self) -> int:
        return self._limit

    def is_revoked(self, jti: str) -> bool:
        until = self._until.get(jti)
        return until is not None and until > self._clock()

    def revoke(self, jti: str, until: int) -> bool:
        """Revoke `jti` until `until` (the token's `exp`), here and, through the listeners,
        on the peers. True when it was not revoked here yet; revoking again is harmless (the
        later `until` stands) and runs the callbacks again. ValueError for a bad jti or
        until, RevocationsFull when there is no room."""
        added = self._record(jti, until)
        self._call(self._watchers, jti, until)
        self._call(self._listeners, jti, until)
        return added

    def apply(self, jti: str, until: int) -> bool:
        """A revocation made elsewhere (a peer's): as `revoke`, but the listeners are not
        called, so it is not published back."""
        added = self._record(jti, until)
        self._call(self._watchers, jti, until)
        return added

    def entries(self) -> list[tuple[str, int]]:
        """(jti, until) of every revocation still in force: what a peer that joins needs."""
        now = self._clock()
        return [(jti, until) for jti, until in self._until.items() if until > now]

    def add_listener(self, listener: Callback) -> None:
        """`listener(jti, until)` after each local revoke (not after `apply`)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callback) -> None:
        self._listeners.remove(listener)

    def add_watcher(self, watcher: Callback) -> None:
        """`watcher(jti, until)` after each revocation, local or applied."""
        self._watchers.append(watcher)

    def remove_watcher(self, watcher: Callback) -> None:
        self._watchers.remove(watcher)

    def prune(self) -> int:
        """Forget the revocations whose time has passed; how many went."""
        now = self._clock()
        expiries, kept, gone = self._expiries, self._until, 0
        while expiries and expiries[0][0] <= now:
            until, jti = heapq.heappop(expiries)
            if kept.get(jti) == until:
                del kept[jti]
                gone += 1
        return gone

    def _record(self, jti: str, until: int) -> bool:
        check_jti(jti)
        check_until(until)
        self.prune()
        if until <= self._clock():
            return False
        known = self._until.get(jti)
        if known is not None:
            if until > known:
                self._keep(jti, until)
            return False
        if len(self._until) >= self._limit:
            raise RevocationsFull(
                f"{self._limit} revoked tokens have not expired yet: no room for another "
                "(rotate [auth] token_secret to end every token at once)"
            )
        self._keep(jti, until)
        return True

    def _keep(self, jti: str, until: int) -> None:
        self._until[jti] = until
        heapq.heappush(self._expiries, (until, jti))
        if len(self._expiries) > 2 * len(self._until) + 64:  # stale entries of raised `until`s
            self._expiries = [(u, j) for j, u in self._until.items()]
            heapq.heapify(self._expiries)

    @staticmethod
    def _call(callbacks: list[Callback], jti: str, until: int) -> None:
        for callback in list(callbacks):
            try:
                callback(jti, until)
            except Exception:
                log.exception("a callback on the revocation of token %s failed", jti)
