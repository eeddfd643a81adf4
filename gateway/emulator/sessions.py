"""WEP sessions: opaque strings with idle expiry (guide, /login).

"The session token ... will expire after 1 hour of inactivity. Sessions that ... have an
active stream associated with them ... will not expire until the stream has ended."
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Session:
    token: str
    username: str
    last_used: float  # monotonic
    active_streams: int = 0


@dataclass
class SessionStore:
    idle_expiry: float
    clock: Callable[[], float] = time.monotonic
    _sessions: dict[str, Session] = field(default_factory=dict)

    def create(self, username: str) -> Session:
        session = Session(secrets.token_urlsafe(24), username, self.clock())
        self._sessions[session.token] = session
        return session

    def get(self, token: str | None) -> Session | None:
        """The live session for `token`, touched; None when unknown or idle too long."""
        if not token:
            return None
        session = self._sessions.get(token)
        if session is None:
            return None
        now = self.clock()
        if session.active_streams == 0 and now - session.last_used > self.idle_expiry:
            del self._sessions[token]
            return None
        session.last_used = now
        return session

    def remove(self, token: str) -> bool:
        return self._sessions.pop(token, None) is not None

    def expire_all(self) -> int:
        count = len(self._sessions)
        self._sessions.clear()
        return count

    def stream_started(self, session: Session) -> None:
        session.active_streams += 1

    def stream_ended(self, session: Session) -> None:
        session.active_streams = max(0, session.active_streams - 1)
        session.last_used = self.clock()  # idle time counts from the end of the stream

    def __len__(self) -> int:
        return len(self._sessions)
