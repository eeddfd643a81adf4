"""Login sessions behind the authentication cookie: random values that expire `ttl` seconds
after dologin, whether used or not (a client must log in again on the 401)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable


class CookieSessions:
    def __init__(self, ttl: float, clock: Callable[[], float] = time.time):
        self.ttl = ttl
        self.clock = clock
        self._expires: dict[str, tuple[str, float]] = {}  # cookie value -> (username, expiry)

    def create(self, username: str) -> str:
        value = secrets.token_urlsafe(32)
        self._expires[value] = (username, self.clock() + self.ttl)
        return value

    def user(self, value: str | None) -> str | None:
        """The username of the live session `value`; None when unknown or expired."""
        if not value:
            return None
        entry = self._expires.get(value)
        if entry is None:
            return None
        if self.clock() >= entry[1]:
            del self._expires[value]
            return None
        return entry[0]

    def expire_all(self) -> int:
        count = len(self._expires)
        self._expires.clear()
        return count

    def __len__(self) -> int:
        now = self.clock()
        return sum(1 for _, expiry in self._expires.values() if now < expiry)
