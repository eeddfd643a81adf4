"""Snapshot cache hits and live LL-HLS requests answered below aiohttp's request machinery.

aiohttp spends ~30 us per request building a Request, running the middlewares and a
Response before the ~5 us a cache hit needs (bench/bench_snapshots.py: a bare aiohttp
handler peaks at a fifth of nginx's rate; bench/bench_hls_fanout.py: a bare handler takes
63 % of a core for 1000 LL-HLS players). Dashboards poll snapshots by the thousand and
players poll playlists and parts, so a connection reads each request head itself
(request_head.py) and writes the answer for a cached snapshot, or a playlist or part of a
running muxer (gateway/hls/fast_path.py), straight to the transport; every other byte goes
to aiohttp unchanged.

The fast path answers only what aiohttp would answer the same way, in the same order:
- only while aiohttp's side of the connection is idle (`_aiohttp_idle`): nothing queued,
  nothing in progress, its parser between messages. Bytes reach aiohttp's parser only as
  whole bodiless heads, or the connection is aiohttp's for good (`pinned`): after a body,
  an upgrade or anything request_head.py cannot delimit, the two parsers could disagree
  about where the next request starts (request smuggling behind a shared proxy);
- once one request in a chunk goes to aiohttp, the rest of the chunk follows it, so
  answers never overtake each other on a keep-alive connection (RFC 9112 9.3.2);
- an answer may be deferred (an LL-HLS blocking reload, a preload-hinted part): until it
  is written, what the client sends next is held here, unread by anyone, and reading
  pauses once that passes HELD_LIMIT; the answer then goes out and the held bytes are read
  as if they had just come;
- the access decision is the auth middleware's own pieces (presented_token,
  TokenAuthority.verify, the route's Rule); a request it would refuse goes to aiohttp,
  which answers 401/403 itself;
- the counters the slow path bumps are bumped here (store hits, bytes served, 304s,
  Traffic.bytes_out, aiohttp's requests_count). The limits middleware holds no viewer slot
  for snapshots (Rule.hold is None) and a hit never awaits, so no deadline can expire;
- the app's edge (middlewares, response signals) is checked when the server is built: an
  edge this module does not know turns the fast path off rather than bypassing it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from aiohttp import web
from aiohttp.http import SERVER_SOFTWARE
from aiohttp.web_protocol import RequestHandler
from yarl import URL

from gateway.api.malformed import SERVER_LOG
from gateway.auth.middleware import presented_token
from gateway.auth.policy import Access, rule_for
from gateway.auth.tokens import TokenAuthority, TokenError
from gateway.limits.middleware import TRAFFIC, Traffic
from gateway.services import CONFIG
from gateway.snapshots.cache import CachedImage
from gateway.snapshots.request import ParameterError, none_match
from gateway.snapshots.request_head import HlsHead, Kind, SnapshotHead, read_head
from gateway.snapshots.routes import SNAPSHOTS, _snapshot_wanted, snapshot_jpg
from gateway.snapshots.store import SnapshotStore

log = logging.getLogger("gateway.snapshots")

ROUTE = "/api/v1/cameras/{camera}/snapshot.jpg"
# asyncio's default high-water mark: past it a transport pauses its protocol's writing and
# aiohttp awaits drain(). A client that pipelines without reading gets its next requests
# answered by aiohttp, which then applies that backpressure.
WRITE_BUFFER_LIMIT = 64 * 1024
# Bytes a client may send after a request whose answer is deferred before reading pauses.
HELD_LIMIT = 64 * 1024
HEADS_KEPT = 1024  # response heads remembered within one second (one per picture and status)
# The edge create_app builds (gateway/app.py `_add_edge`), as module:qualname: what the
# fast path reproduces. Anything else there and the fast path stays off.
KNOWN_MIDDLEWARES = frozenset(
    {
        "gateway.api.errors:error_middleware",
        "gateway.auth.cors:CorsPolicy.middleware.<locals>.cors_preflight",
        "gateway.auth.middleware:auth_middleware.<locals>.middleware",
        "gateway.limits.middleware:limits_middleware.<locals>.middleware",
    }
)
KNOWN_RESPONSE_SIGNALS = frozenset(
    {"gateway.auth.cors:CorsPolicy.on_prepare", "gateway.limits.middleware:lift_deadline"}
)


@dataclass
class FastPathStats:
    answered: int = 0  # requests answered below aiohttp
    pinned: int = 0  # connections handed to aiohttp for good


class SnapshotAnswerer:
    """The answer `routes.snapshot_jpg` behind the app's edge gives a SNAPSHOT head, when
    that answer is a cache hit; None when aiohttp has to decide."""

    def __init__(self, store: SnapshotStore, traffic: Traffic, authority: TokenAuthority | None, viewer_auth: bool):
        rule = rule_for("GET", ROUTE)
        if (
            rule.access is not Access.VIEWER
            or rule.action is None
            or rule.hold is not None
            or rule.upload
            or not rule.protocol
        ):
            raise ValueError(f"the snapshot route's rule changed ({rule}): the fast path does not reproduce it")
        if viewer_auth and authority is None:
            raise ValueError("viewer_auth is on and there is no token authority")
        self._action, self._protocol = rule.action, rule.protocol
        self._store = store
        self._traffic = traffic
        self._authority = authority if viewer_auth else None
        self._scope = "private" if viewer_auth else "public"  # as routes._answer
        self.stats = FastPathStats()
        self._second = -1
        self._date = b""
        self._heads: dict[tuple[bytes, str, int], bytes] = {}

    def answer(self, head: SnapshotHead) -> tuple[bytes, bytes] | None:
        """The response's head and body; None to let aiohttp answer."""
        authority = self._authority
        if authority is not None:
            token = _presented(head.authorization, head.raw_query)
            if token is None:
                return None
            try:
                grant = authority.verify(token)
            except TokenError:
                return None
            if not grant.allows(self._action, head.camera):
                return None
        try:
            wanted = _snapshot_wanted(head.camera, head.raw_query)
        except ParameterError:
            return None
        store = self._store
        entry = store.cached(wanted)
        if entry is None:
            return None
        self.stats.answered += 1
        store.stats.fast_path_answers += 1
        if head.if_none_match is not None and none_match(head.if_none_match, entry.etag):
            store.stats.not_modified += 1
            self._traffic.bytes_out[head.camera, self._protocol] += 0  # as the middleware counts a 304
            return self._head(b"304 Not Modified", entry, None), b""
        body = entry.body
        store.stats.bytes_served += len(body)
        self._traffic.bytes_out[head.camera, self._protocol] += len(body)
        return self._head(b"200 OK", entry, len(body)), body

    def _head(self, status: bytes, entry: CachedImage, length: int | None) -> bytes:
        # Heads change with the second (Date, max-age): built once a second per picture, which
        # saves ~0.5 us of a hit (py-spy under bench/bench_snapshots.py).
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now)).encode()  # RFC 9110 6.6.1
            self._heads.clear()
        max_age = self._store.max_age(entry)
        key = (status, entry.etag, max_age)
        head = self._heads.get(key)
        if head is None:
            # Field order and values as aiohttp writes routes._answer's Response.
            cache_control = f"{self._scope}, max-age={max_age}" + (", immutable" if entry.immutable else "")
            content = b"" if length is None else b"Content-Type: image/jpeg\r\nContent-Length: %d\r\n" % length
            head = b"HTTP/1.1 %s\r\nETag: %s\r\nCache-Control: %s\r\n%sDate: %s\r\nServer: %s\r\n\r\n" % (
                status,
                entry.etag.encode(),
                cache_control.encode(),
                content,
                self._date,
                _SERVER,
            )
            if len(self._heads) < HEADS_KEPT:
                self._heads[key] = head
        return head


_SERVER = SERVER_SOFTWARE.encode()


class _Presented:
    """What presented_token reads of a request: its Authorization field and its query, the
    latter parsed by yarl exactly as aiohttp parses `request.query`."""

    __slots__ = ("headers", "query")

    def __init__(self, authorization: str | None, raw_query: str):
        self.headers = {} if authorization is None else {"Authorization": authorization}
        self.query = URL.build(path="/", query_string=raw_query, encoded=True).query


@lru_cache(maxsize=1024)
def _presented(authorization: str | None, raw_query: str) -> str | None:
    return presented_token(_Presented(authorization, raw_query))  # type: ignore[arg-type]


def _aiohttp_idle(handler: RequestHandler) -> bool:
    """aiohttp has answered everything it was given and waits for the next request.

    Private attributes of aiohttp 3.14's RequestHandler: no public API tells this.
    tests/snapshots/test_fast_path.py fails if they change. `start()` sets `_waiter` only
    after its last response was written and its keep-alive decision made.
    """
    waiter = handler._waiter
    return (
        waiter is not None
        and not waiter.done()
        and not handler._messages
        and not handler._request_in_progress
        and handler._payload_parser is None
        and not handler._upgraded
        and not handler._message_tail
        and not handler._close
        and not handler._force_close
    )


class Deferred(Protocol):
    """An answer to come (gateway/hls/fast_path.py): it calls the connection's deliver()."""

    @property
    def deadline(self) -> float:
        """Loop time by which it is delivered at the latest."""

    def cancel(self) -> None:
        """The connection is gone: deliver nothing, let go of what it waits on."""


class DeferringAnswerer(Protocol):
    def answer(self, head: HlsHead, connection: FastPathConnection) -> tuple[bytes, ...] | Deferred | None:
        """The answer's chunks now, a Deferred that will deliver them, or None for aiohttp."""


class FastPathConnection(asyncio.Protocol):
    """One client connection: snapshot cache hits and live HLS answered here, the rest by
    `handler`, aiohttp's own protocol, to which every other event is passed as it comes."""

    __slots__ = (
        "_deferred",
        "_handler",
        "_held",
        "_hls",
        "_loop",
        "_paused",
        "_pinned",
        "_remote",
        "_server",
        "_snapshots",
        "_transport",
    )

    def __init__(self, handler: RequestHandler, server: FastPathServer):
        self._handler = handler
        self._snapshots = server.answerer
        self._hls = server.hls
        self._server = server
        self._transport: asyncio.Transport | None = None
        # The start of a head that may become a fast request, not given to aiohttp yet; or,
        # while an answer is deferred, everything that came after its request.
        self._held = b""
        self._pinned = False  # aiohttp's parser may be inside a message: every byte goes to it from now on
        self._deferred: Deferred | None = None
        self._paused = False  # reading paused: too much held behind a deferred answer
        self._remote: str | None = None
        self._loop = server.loop

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._handler.connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._transport = None
        deferred, self._deferred = self._deferred, None
        if deferred is not None:
            deferred.cancel()
        self._handler.connection_lost(exc)

    def eof_received(self) -> bool | None:
        self._handler.eof_received()
        return None  # what aiohttp's handler answers: close the transport

    def pause_writing(self) -> None:
        self._handler.pause_writing()

    def resume_writing(self) -> None:
        self._handler.resume_writing()

    @property
    def remote(self) -> str:
        """The peer's address, as aiohttp's `request.remote` gives it."""
        if self._remote is None:
            peer = self._transport.get_extra_info("peername") if self._transport is not None else None
            self._remote = str(peer[0]) if isinstance(peer, list | tuple) else str(peer or "")
        return self._remote

    def data_received(self, data: bytes) -> None:
        if self._pinned:
            self._handler.data_received(data)
            return
        if self._deferred is not None:
            self._held += data
            if len(self._held) > HELD_LIMIT and not self._paused and self._transport is not None:
                self._paused = True
                self._transport.pause_reading()
            return
        if self._held:
            data, self._held = self._held + data, b""
        start, size = 0, len(data)
        handler, transport = self._handler, self._transport
        while start < size and transport is not None and not transport.is_closing() and _aiohttp_idle(handler):
            head = read_head(data, start)
            if head.kind is Kind.PARTIAL:
                self._held = data[start:]
                return
            if transport.get_write_buffer_size() > WRITE_BUFFER_LIMIT:
                break
            response: tuple[bytes, ...] | Deferred | None
            if head.kind is Kind.SNAPSHOT and self._snapshots is not None:
                response = self._snapshots.answer(head.snapshot)  # type: ignore[arg-type]
            elif head.kind is Kind.HLS and self._hls is not None:
                response = self._hls.answer(head.hls, self)  # type: ignore[arg-type]
            else:
                break
            if response is None:
                break
            start += head.length
            if not isinstance(response, tuple):
                self._defer(response, handler, data[start:])
                return
            transport.writelines(response)
            self._answered(handler)
        if start < size:
            self._hand_over(data[start:] if start else data)

    def _defer(self, deferred: Deferred, handler: RequestHandler, rest: bytes) -> None:
        self._deferred = deferred
        self._held = rest
        timeout = handler.keepalive_timeout
        if timeout:
            # aiohttp sees an idle connection meanwhile: its idle timer must not close it
            # under the request (private, see _aiohttp_idle).
            handler._next_keepalive_close_time = max(handler._next_keepalive_close_time, deferred.deadline + timeout)

    def deliver(self, chunks: tuple[bytes, ...]) -> None:
        """The deferred answer: written, then what the client sent meanwhile is read."""
        self._deferred = None
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.writelines(chunks)
        self._answered(self._handler)
        if self._paused:
            self._paused = False
            transport.resume_reading()
        held, self._held = self._held, b""
        if held:
            self.data_received(held)

    def _answered(self, handler: RequestHandler) -> None:
        self._server.requests_count += 1
        timeout = handler.keepalive_timeout
        if timeout:
            # What aiohttp's start() does after each answer: the idle timer counts from now,
            # so a connection busy here is not closed as idle (private, see _aiohttp_idle).
            handler._next_keepalive_close_time = self._loop.time() + timeout

    def _hand_over(self, data: bytes) -> None:
        """Give `data` to aiohttp: whole bodiless heads keep the fast path open for later; an
        incomplete fast head at the end is held back; anything else pins the connection."""
        start, size = 0, len(data)
        while start < size:
            head = read_head(data, start)
            if head.kind is Kind.PARTIAL:
                self._held = data[start:]
                data = data[:start]
                break
            if head.kind is Kind.FOREIGN:
                self._pinned = True
                self._server.stats.pinned += 1
                break
            start += head.length
        if data:
            self._handler.data_received(data)


class FastPathServer(web.Server):
    """aiohttp's Server whose connections are FastPathConnections."""

    def __init__(
        self, *args: Any, answerer: SnapshotAnswerer | None, hls: DeferringAnswerer | None = None, **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self.answerer = answerer
        self.hls = hls
        self.stats = answerer.stats if answerer is not None else FastPathStats()
        self.loop = kwargs.get("loop") or asyncio.get_running_loop()

    def __call__(self) -> FastPathConnection:  # type: ignore[override]
        return FastPathConnection(super().__call__(), self)


class GatewayRunner(web.AppRunner):
    """The AppRunner `wep-gateway serve` runs: snapshot cache hits and live HLS on the fast
    path when the app's edge is the one this module reproduces; plain aiohttp otherwise.
    Its connections log to SERVER_LOG, where a malformed request is one line
    (gateway/api/malformed.py)."""

    def __init__(self, app: web.Application, **kwargs: Any):
        kwargs.setdefault("logger", SERVER_LOG)
        super().__init__(app, **kwargs)
        self.fast_path: SnapshotAnswerer | None = None
        self.hls_fast_path: DeferringAnswerer | None = None

    async def _make_server(self) -> web.Server:
        from gateway.hls.fast_path import hls_answerer_for  # gateway.hls imports the edge's modules

        # BaseRunner's hook: the app has started (the store exists) when super() returns.
        server = await super()._make_server()
        answerer = await answerer_for(self.app)
        hls = await hls_answerer_for(self.app, await _edge_problem(self.app, snapshots=False))
        if answerer is None and hls is None:
            return server
        self.fast_path, self.hls_fast_path = answerer, hls
        # Server keeps its RequestHandler arguments in `_kwargs` (private, pinned by a test).
        return FastPathServer(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            answerer=answerer,
            hls=hls,
            **server._kwargs,
        )


async def answerer_for(app: web.Application) -> SnapshotAnswerer | None:
    """The fast path of a started gateway app; None (logged) when its edge or its snapshot
    route is not the one the fast path reproduces."""
    from gateway.auth.routes import TOKENS

    problem = await _edge_problem(app)
    if problem is not None:
        log.warning("snapshot fast path off: %s", problem)
        return None
    config = app[CONFIG]
    return SnapshotAnswerer(app[SNAPSHOTS], app[TRAFFIC], app[TOKENS], config.auth.viewer_auth)


def _name(fn: Callable) -> str:
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"


async def _edge_problem(app: web.Application, *, snapshots: bool = True) -> str | None:
    """Why the fast path cannot stand in for this app's edge; None when it can. `snapshots`:
    the snapshot route is checked too."""
    from gateway.auth.routes import TOKENS

    if (snapshots and SNAPSHOTS not in app) or TRAFFIC not in app or TOKENS not in app:
        return "the app has no snapshot store, traffic counters or token authority"
    middlewares = {_name(middleware) for middleware in app.middlewares}
    if not middlewares <= KNOWN_MIDDLEWARES:
        return f"unknown middlewares {sorted(middlewares - KNOWN_MIDDLEWARES)}"
    signals = {_name(signal) for signal in app.on_response_prepare}
    if not signals <= KNOWN_RESPONSE_SIGNALS:
        return f"unknown response signals {sorted(signals - KNOWN_RESPONSE_SIGNALS)}"
    if not snapshots:
        return None
    # The path must reach snapshot_jpg in this app's router, not a route registered before it.
    from aiohttp.test_utils import make_mocked_request  # public, and only needed once

    probe = make_mocked_request("GET", "/api/v1/cameras/probe/snapshot.jpg?t=live", app=app)
    match = await app.router.resolve(probe)
    if match.http_exception is not None or match.handler is not snapshot_jpg:
        return f"{ROUTE} does not reach routes.snapshot_jpg"
    return None
