"""What a credential opened that outlives the request that showed it, and how to end it when
the credential goes: a guest link revoked or expired (gateway/links/book.py), a viewer token
revoked (revocations.py, through `OpenStreams`).

- a stream its handler answers for as long as it runs (/live, the SSE event stream, a
  talkdown file being played): its connection is closed, so the handler's next write fails
  (file playback checks the connection between posts);
- a session a 201 created (WHEP, WHIP talk): ended as if its peer had hung up.

HLS, snapshots and the rest need nothing: their next request is refused.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from aiohttp import web

from gateway.auth.policy import Rule

log = logging.getLogger("gateway.auth")

# A sweep of ended closers runs when this many are tracked, then at twice what it left.
SWEEP_FLOOR = 256
# Ends under way, started from sync code (the loop keeps only weak references to tasks).
_ending: set[asyncio.Task] = set()


class Closer(Protocol):
    """Something a credential opened that must end with it."""

    def alive(self) -> bool: ...

    def close(self, reason: str) -> None: ...  # reason: "revoked" | "expired" | "shutdown"


def _soon(ending: Coroutine[Any, Any, Any]) -> None:
    task = asyncio.get_running_loop().create_task(ending)
    _ending.add(task)
    task.add_done_callback(_ending.discard)


class ConnectionCloser:
    """A streamed answer: its connection is closed; the handler's next write fails."""

    def __init__(self, transport: asyncio.BaseTransport, task: asyncio.Task | None):
        self.transport = transport
        self.task = task  # the request's: done once the stream ended

    def alive(self) -> bool:
        return not self.transport.is_closing() and (self.task is None or not self.task.done())

    def close(self, reason: str) -> None:
        if self.alive():
            self.transport.close()


class WhepCloser:
    """A WebRTC viewer's session: closed as if its viewer had hung up."""

    def __init__(self, sessions: Any, session_id: str):  # gateway.webrtc.whep.WhepSessions
        self.sessions = sessions
        self.session_id = session_id

    def alive(self) -> bool:
        return self.sessions.get(self.session_id) is not None

    def close(self, reason: str) -> None:
        _soon(self.sessions.close(self.session_id))


class TalkCloser:
    """A WHIP talker's session: ended, its audio so far flushed to the camera."""

    def __init__(self, sessions: Any, session_id: str):  # gateway.talkdown.session.TalkSessions
        self.sessions = sessions
        self.session_id = session_id

    def alive(self) -> bool:
        return self.sessions.get(self.session_id) is not None

    def close(self, reason: str) -> None:
        session = self.sessions.get(self.session_id)
        if session is not None:
            _soon(self.sessions.end(session, f"its credential was {reason}"))


def stream_closer(request: web.Request, rule: Rule) -> ConnectionCloser | None:
    """The connection of a request whose answer streams as long as its handler runs; taken
    before the handler, as the handler returns only when the stream has ended."""
    if (rule.hold == "request" or rule.protocol == "events") and request.transport is not None:
        return ConnectionCloser(request.transport, asyncio.current_task())
    return None


def session_closer(request: web.Request, rule: Rule, response: web.StreamResponse) -> Closer | None:
    """The session a 201 created (WHEP viewer, WHIP talker), by its Location's last part."""
    if rule.hold != "session" or response.status != 201:
        return None
    # Imported here: the outputs' modules import the auth edge, not the other way round.
    from gateway.talkdown.routes import TALK_SESSIONS
    from gateway.webrtc.routes import WHEP_SESSIONS

    session_id = response.headers.get("Location", "").rsplit("/", 1)[-1]
    if not session_id:
        return None
    if rule.protocol == "webrtc" and WHEP_SESSIONS in request.app:
        return WhepCloser(request.app[WHEP_SESSIONS], session_id)
    if rule.protocol == "talk" and TALK_SESSIONS in request.app:
        return TalkCloser(request.app[TALK_SESSIONS], session_id)
    return None


class OpenStreams:
    """Closers by credential (a token's jti), to close together when it goes. `gone(key)`:
    the reason a closer is closed as it registers (its credential went while what it opened
    was being set up), or None. Closers that ended on their own are swept out as more are
    tracked, so the registry stays within twice what is open."""

    def __init__(self, gone: Callable[[str], str | None] = lambda key: None):
        self._gone = gone
        self._by_key: dict[str, set[Closer]] = {}
        self._count = 0
        self._next_sweep = SWEEP_FLOOR

    def __len__(self) -> int:
        return self._count

    def track(self, key: str, closer: Closer) -> None:
        reason = self._gone(key)
        if reason is not None:
            closer.close(reason)
            return
        closers = self._by_key.setdefault(key, set())
        if closer not in closers:
            closers.add(closer)
            self._count += 1
        if self._count >= self._next_sweep:
            self.sweep()
            self._next_sweep = max(SWEEP_FLOOR, 2 * self._count)

    def untrack(self, key: str, closer: Closer) -> None:
        closers = self._by_key.get(key)
        if closers is not None and closer in closers:
            closers.discard(closer)
            self._count -= 1
            if not closers:
                del self._by_key[key]

    def close(self, key: str, reason: str) -> int:
        """Close what `key` has open; how many were still alive."""
        closers = self._by_key.pop(key, set())
        self._count -= len(closers)
        alive = [closer for closer in closers if closer.alive()]
        for closer in alive:
            try:
                closer.close(reason)
            except Exception:
                log.exception("closing a stream of credential %s failed", key)
        return len(alive)

    def close_all(self, reason: str) -> None:
        for key in list(self._by_key):
            self.close(key, reason)

    def sweep(self) -> None:
        """Forget the closers that ended on their own (a session hung up, a stream done)."""
        for key, closers in list(self._by_key.items()):
            for closer in [c for c in closers if not c.alive()]:
                self.untrack(key, closer)
