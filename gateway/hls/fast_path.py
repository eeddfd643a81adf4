"""Live LL-HLS answered below aiohttp, on the fast path's connections (gateway/snapshots/fast_path.py).

1000 LL-HLS players make 10 000 requests a second: a blocking playlist reload and the
preload-hinted part per player and part (bench/bench_hls_fanout.py). Through aiohttp each
one costs a Request, four middlewares, a future and a task step to wait, a Response: the
gateway took a whole core where nginx served the same bytes with a fifth of one, and a
bare aiohttp handler alone takes 63 %. Here a request the routes would answer from a
running muxer costs a head read, a few dict lookups and one write: playlist bytes rendered
once per part (HlsMuxer.media_playlist), part bytes as the segmenter wrote them, response
heads built once a second per (fields, length). A blocking request is no task: requests
waiting for the same thing (a playlist holding part N, part N itself) are one group, one
PartWatcher on the muxer, and when the part completes one pass writes each group's answer,
built once, to every connection in it (bench: 1000 players at a third of a core, nginx's
CPU within 2x).

Same answers as gateway/hls/routes.py behind the app's edge, or aiohttp answers:
- auth: the token (`Authorization: Bearer`, else `?token=`) verified as the auth
  middleware does, and allowed `view` on the camera. The admin key, a guest link (a
  credential without a dot), a missing or refused token go to aiohttp, which decides;
- limits: a playlist request refreshes its player in the viewer ledger, and one the ledger
  does not know yet goes to aiohttp (which counts it, or refuses it 503). A wait ends
  before `[limits] request_timeout`, or aiohttp runs it under its deadline. Bytes out are
  counted per camera and protocol as the limits middleware counts them;
- the routes: whatever they would not answer from a running muxer with segments (a 400, a
  404 known at once, the first segment's wait, a recording, the edge tier's requests) goes
  to aiohttp. The 503 or 404 that ends a wait is written here, as error_middleware and
  `_never_stored_errors` write it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from functools import lru_cache
from typing import Protocol
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.http import SERVER_SOFTWARE

from gateway.api.query import is_ascii_digits
from gateway.auth.policy import Access, rule_for
from gateway.auth.tokens import TokenAuthority, TokenError
from gateway.config import Config
from gateway.hls import routes
from gateway.hls.muxer import HlsMuxer
from gateway.hls.muxers import HlsMuxers
from gateway.hls.segmenter import ADVANCE_PART_LIMIT
from gateway.limits.ledger import ViewerLedger
from gateway.limits.middleware import Traffic
from gateway.snapshots.request_head import HlsHead

log = logging.getLogger("gateway.hls")


class FastPathConnection(Protocol):
    """What an answer needs of its connection (gateway/snapshots/fast_path.py's, which
    imports this module: described here, not imported, so the imports run one way)."""

    @property
    def remote(self) -> str: ...

    def deliver(self, chunks: tuple[bytes, ...]) -> None: ...


PLAYLIST_ROUTE = "/hls/{camera}/{quality}/playlist.m3u8"
MEDIA_ROUTE = "/hls/{camera}/{quality}/{name}"
PROTOCOL = "hls"
HEADS_KEPT = 1024  # response heads remembered within one second
_SERVER = SERVER_SOFTWARE.encode()
_JSON = "application/json; charset=utf-8"  # what aiohttp's json_response says


class HlsAnswerer:
    """The answer gateway/hls/routes.py behind the app's edge gives an HLS head, when the
    muxer it needs runs: now, or deferred until a part comes; None when aiohttp decides."""

    def __init__(
        self, muxers: HlsMuxers, traffic: Traffic, ledger: ViewerLedger, authority: TokenAuthority, config: Config
    ):
        self._muxers = muxers
        self._traffic = traffic
        self._ledger = ledger
        self._authority = authority
        self._viewer_auth = config.auth.viewer_auth
        self._admin_key = config.auth.admin_key.encode()
        self._request_timeout = config.limits.request_timeout
        self.answered = 0  # answers written here, deferred ones included
        self._loop = asyncio.get_running_loop()
        # Requests waiting for the same thing, answered together (_Group).
        self._groups: dict[tuple, _Group] = {}
        self._second = -1
        self._date = b""
        self._heads: dict[tuple[bytes, int], bytes] = {}

    def answer(self, head: HlsHead, connection: FastPathConnection) -> tuple[bytes, ...] | _Waiting | None:
        query = _query(head.raw_query)
        if query is None:
            return None
        viewer = self._viewer(head, query, connection)
        if viewer is None:
            return None
        muxer = self._muxers.find(head.camera, head.quality)
        if muxer is None:
            return None  # the routes start it, or answer 404
        if head.name == "playlist.m3u8":
            return self._playlist(head, query, viewer, muxer, connection)
        return self._media(head, muxer, connection)

    # -- the edge: auth and limits ------------------------------------------------------
    def _viewer(self, head: HlsHead, query: dict[str, str], connection: FastPathConnection) -> str | None:
        """The viewer ledger's key for an allowed request (the token, or the peer's address
        without viewer auth); None when aiohttp must decide."""
        token = None
        authorization = head.authorization
        if authorization is not None:
            scheme, _, presented = authorization.partition(" ")
            if scheme.lower() == "bearer":
                if self._admin_key and hmac.compare_digest(presented.strip().encode(), self._admin_key):
                    return None  # the admin key: aiohttp's (it is never a ledger key here)
                token = presented.strip() or None
        if token is None:
            token = query.get("token") or None
        if token is not None and "." not in token:
            return None  # maybe a guest link's id (gateway/links/guest.py)
        if not self._viewer_auth:
            return connection.remote
        if token is None:
            return None  # aiohttp's 401
        try:
            grant = self._authority.verify(token)
        except TokenError:
            return None
        return token if grant.allows("view", head.camera) else None

    # -- the routes ---------------------------------------------------------------------
    def _playlist(
        self, head: HlsHead, query: dict[str, str], viewer: str, muxer: HlsMuxer, connection: FastPathConnection
    ) -> tuple[bytes, ...] | _Waiting | None:
        t = query.get("t")
        if t is not None and t != "live":
            return None  # a recording (gateway/hls/recorded.py)
        segmenter = muxer.segmenter
        if not segmenter.segments:
            return None  # the wait for the first segment is aiohttp's
        msn, part = _number(query.get("_HLS_msn")), _number(query.get("_HLS_part"))
        if msn is _BAD or part is _BAD or (part is not None and msn is None):
            return None  # 400
        timeout = min(muxer.config.blocking_timeout, 3 * segmenter.target_duration)
        if msn is not None and (segmenter.too_far_ahead(msn, part) or timeout >= self._request_timeout):
            return None  # 400; or a wait the request deadline could cut
        if not self._ledger.refresh_player(head.camera, viewer):
            return None  # a new player: counted, or refused, by the limits middleware
        counters = muxer.counters
        counters.playlist_requests += 1
        token = query.get("token")
        token_query, delta = _token_query(token) if token else "", _delta(query)
        if msn is None:
            return self.playlist_answer(muxer, head.camera, token_query, delta, routes.PLAIN_PLAYLIST_CACHE)
        counters.blocking_requests += 1
        if segmenter.has_part(msn, part):
            return self.playlist_answer(muxer, head.camera, token_query, delta, _blocking_cache(muxer))
        key = (id(muxer), msn, part, token_query, delta)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _PlaylistGroup(self, key, muxer, head.camera, msn, part, token_query, delta)
        return group.add(connection, timeout)

    def _media(
        self, head: HlsHead, muxer: HlsMuxer, connection: FastPathConnection
    ) -> tuple[bytes, ...] | _Waiting | None:
        name = head.name
        segmenter = muxer.segmenter
        counters = muxer.counters
        cache = routes.MEDIA_CACHE
        if name.startswith("init"):
            number = name[4:-4]
            current = segmenter.init
            init = segmenter.inits.get(int(number)) if number else current.data if current is not None else None
            if init is None:
                return None  # 404, or the wait for the first segment: aiohttp's
            counters.init_requests += 1
            body = init
            if not number:
                cache = "no-cache"
        elif name.startswith("seg"):
            segment = segmenter.segment(int(name[3:-4]))
            if segment is None:
                return None
            counters.segment_requests += 1
            counters.segments_served += 1
            body = segment.data
        else:
            part_id = int(name[4:-4])
            part = segmenter.parts.get(part_id)
            if part is None:
                first = segmenter.next_part_id
                if not first <= part_id < first + ADVANCE_PART_LIMIT:
                    return None  # 404
                if muxer.config.blocking_timeout >= self._request_timeout:
                    return None
                # RFC 8216bis 4.4.5.3: a preload hint, answered once the part is complete.
                counters.part_requests += 1
                counters.preload_waits += 1
                key = (id(muxer), part_id)
                group = self._groups.get(key)
                if group is None:
                    group = self._groups[key] = _PartGroup(self, key, muxer, head.camera, name, part_id)
                return group.add(connection, muxer.config.blocking_timeout)
            counters.part_requests += 1
            counters.parts_served += 1
            body = part.data
        return self.media_answer(muxer, head.camera, body, cache)

    # -- answers --------------------------------------------------------------------------
    def playlist_answer(
        self, muxer: HlsMuxer, camera: str, query: str, delta: bool, cache: str, count: int = 1
    ) -> tuple[bytes, ...]:
        """The playlist as it is now, for `count` requests."""
        self.count_answers(muxer, count)
        return self.ok(camera, routes.PLAYLIST_TYPE, cache, muxer.media_playlist(query, delta), count)

    def media_answer(self, muxer: HlsMuxer, camera: str, body: bytes, cache: str, count: int = 1) -> tuple[bytes, ...]:
        self.count_answers(muxer, count)
        muxer.counters.bytes_served += len(body) * count
        return self.ok(camera, routes.MEDIA_TYPE, cache, body, count)

    def count_answers(self, muxer: HlsMuxer, count: int) -> None:
        """`count` answers written here (wepgw_hls_fast_path_answers_total, per muxer)."""
        self.answered += count
        muxer.counters.fast_path_answers += count

    def ok(self, camera: str, content_type: str, cache: str, body: bytes, count: int = 1) -> tuple[bytes, ...]:
        """A 200 for `count` requests, counted as the limits middleware counts them."""
        self._traffic.bytes_out[camera, PROTOCOL] += len(body) * count
        return self._head(_fields(b"200 OK", content_type, cache), len(body)), body

    def forget(self, key: tuple) -> None:
        self._groups.pop(key, None)

    def loop_time(self) -> float:
        return self._loop.time()

    def error(self, status: int, code: str, message: str) -> tuple[bytes, ...]:
        """As error_middleware answers an ApiError (routes._unavailable, not_found), with
        `_never_stored_errors`'s Cache-Control."""
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        return self._head(_error_fields(status), len(body)), body

    def _head(self, fields: bytes, length: int) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now)).encode()  # RFC 9110 6.6.1
            self._heads.clear()
        key = (fields, length)
        head = self._heads.get(key)
        if head is None:
            # Field order and values as aiohttp writes the routes' Responses.
            head = b"%sContent-Length: %d\r\nDate: %s\r\nServer: %s\r\n\r\n" % (fields, length, self._date, _SERVER)
            if len(self._heads) < HEADS_KEPT:
                self._heads[key] = head
        return head


class _Waiting:
    """One request of a group, deferred on its connection (snapshots/fast_path.Deferred)."""

    __slots__ = ("cancelled", "connection", "deadline", "group")

    def __init__(self, group: _Group, connection: FastPathConnection, deadline: float):
        self.group = group
        self.connection = connection
        self.deadline = deadline
        self.cancelled = False

    def cancel(self) -> None:
        """The connection is gone."""
        if not self.cancelled:
            self.cancelled = True
            self.group.left(self)


class _Group:
    """Requests waiting for the same thing (a playlist holding a given part, or a part) on
    one muxer: one PartWatcher for all of them, as HlsMuxer.wait_until's loop does for one,
    and one answer written to each connection once it is there. Members join in deadline
    order (their timeout is the muxer's), so the first one's deadline is the group's."""

    __slots__ = ("_answerer", "_key", "_members", "camera", "muxer")

    def __init__(self, answerer: HlsAnswerer, key: tuple, muxer: HlsMuxer, camera: str):
        self._answerer = answerer
        self._key = key
        self.muxer = muxer
        self.camera = camera
        self._members: list[_Waiting] = []

    def add(self, connection: FastPathConnection, timeout: float) -> _Waiting:
        waiting = _Waiting(self, connection, self._answerer.loop_time() + timeout)
        if not self._members:
            self.muxer.watch(self)
        self._members.append(waiting)
        self.muxer.waiting += 1  # a request in flight keeps the muxer from idling out under it
        return waiting

    def left(self, waiting: _Waiting) -> None:
        self.muxer.waiting -= 1
        self.muxer.touch()

    @property
    def deadline(self) -> float:
        return self._members[0].deadline if self._members else 0.0

    def wake(self) -> None:
        members = [waiting for waiting in self._members if not waiting.cancelled]
        muxer = self.muxer
        if self.ready():
            self._members = []
            self._deliver(members, self.answer(len(members)), measure=True)
        elif muxer.closed:
            self._members = []
            self._deliver(members, self.stopped(len(members)))
        else:
            now = self._answerer.loop_time()
            due = 0
            while due < len(members) and now >= members[due].deadline:
                due += 1
            self._members = members[due:]
            if due:
                self._deliver(members[:due], self.timed_out(due))
            if self._members:
                muxer.watch(self)
        if not self._members:
            self._answerer.forget(self._key)

    def _deliver(self, members: list[_Waiting], chunks: tuple[bytes, ...], measure: bool = False) -> None:
        muxer = self.muxer
        muxer.waiting -= len(members)
        muxer.touch()
        for waiting in members:
            waiting.cancelled = True  # answered: nothing left to cancel
            if measure:
                muxer.record_delay()
            waiting.connection.deliver(chunks)

    def ready(self) -> bool:
        raise NotImplementedError

    def answer(self, count: int) -> tuple[bytes, ...]:
        raise NotImplementedError

    def timed_out(self, count: int) -> tuple[bytes, ...]:
        raise NotImplementedError

    def stopped(self, count: int) -> tuple[bytes, ...]:
        self._answerer.count_answers(self.muxer, count)
        return self._answerer.error(503, "upstream_unavailable", "the stream stopped")


class _PlaylistGroup(_Group):
    """RFC 8216bis 6.2.5.2: blocking playlist reloads for one (msn, part), query and delta."""

    __slots__ = ("_delta", "_msn", "_part", "_query")

    def __init__(
        self,
        answerer: HlsAnswerer,
        key: tuple,
        muxer: HlsMuxer,
        camera: str,
        msn: int,
        part: int | None,
        query: str,
        delta: bool,
    ):
        super().__init__(answerer, key, muxer, camera)
        self._msn = msn
        self._part = part
        self._query = query
        self._delta = delta

    def ready(self) -> bool:
        return self.muxer.segmenter.has_part(self._msn, self._part)

    def answer(self, count: int) -> tuple[bytes, ...]:
        cache = _blocking_cache(self.muxer)
        return self._answerer.playlist_answer(self.muxer, self.camera, self._query, self._delta, cache, count)

    def timed_out(self, count: int) -> tuple[bytes, ...]:
        self.muxer.counters.blocking_timeouts += count
        self._answerer.count_answers(self.muxer, count)
        return self._answerer.error(503, "upstream_unavailable", "the segment or part asked for did not come in time")


class _PartGroup(_Group):
    """RFC 8216bis 4.4.5.3: requests for a preload-hinted part, answered once it is complete."""

    __slots__ = ("_name", "_part_id")

    def __init__(self, answerer: HlsAnswerer, key: tuple, muxer: HlsMuxer, camera: str, name: str, part_id: int):
        super().__init__(answerer, key, muxer, camera)
        self._name = name
        self._part_id = part_id

    def ready(self) -> bool:
        return self._part_id < self.muxer.segmenter.next_part_id

    def answer(self, count: int) -> tuple[bytes, ...]:
        part = self.muxer.segmenter.parts.get(self._part_id)
        if part is None:
            self.muxer.counters.not_found += count
            self._answerer.count_answers(self.muxer, count)
            return self._answerer.error(404, "not_found", f"{self._name} is not in the playlist window")
        self.muxer.counters.parts_served += count
        return self._answerer.media_answer(self.muxer, self.camera, part.data, routes.MEDIA_CACHE, count)

    timed_out = answer  # routes._part looks the part up after a wait that ran out, too


# -- request values, read as aiohttp reads them --------------------------------------------
_BAD = -1  # a number parameter that is not one: the routes answer 400


@lru_cache(maxsize=4096)  # players of one stream ask for the same URLs: never mutate the answer
def _query(raw: str) -> dict[str, str] | None:
    """request_head.py lets only unreserved characters, '=' and '&' through: split so, this
    is `request.query` (first values). None for what is not plainly `name=value&...`."""
    values: dict[str, str] = {}
    if raw:
        for pair in raw.split("&"):
            name, equals, value = pair.partition("=")
            if not equals or not name or name in values:
                return None
            values[name] = value
    return values


def _number(raw: str | None) -> int | None:
    """routes._int_param: None when absent, _BAD where it answers 400."""
    if raw is None:
        return None
    if not is_ascii_digits(raw, 20) or int(raw) > routes.MAX_DECIMAL_INTEGER:
        return _BAD
    return int(raw)


def _delta(query: dict[str, str]) -> bool:
    return query.get("_HLS_skip") in ("YES", "v2")


@lru_cache(maxsize=1024)
def _token_query(token: str) -> str:
    return urlencode({"token": token})  # as routes._token_query


def _blocking_cache(muxer: HlsMuxer) -> str:
    # The URL names a state that never changes: short caching is safe (RFC 8216bis 6.2.5.2).
    return f"max-age={muxer.segmenter.target_duration * 6}"


@lru_cache(maxsize=64)
def _fields(status: bytes, content_type: str, cache: str) -> bytes:
    return b"HTTP/1.1 %s\r\nContent-Type: %s\r\nCache-Control: %s\r\n" % (status, content_type.encode(), cache.encode())


@lru_cache(maxsize=8)
def _error_fields(status: int) -> bytes:
    reason = {404: b"404 Not Found", 503: b"503 Service Unavailable"}[status]
    retry = b"Retry-After: 2\r\n" if status == 503 else b""
    return b"HTTP/1.1 %s\r\n%sContent-Type: %s\r\nCache-Control: %s\r\n" % (
        reason,
        retry,
        _JSON.encode(),
        routes.ERROR_CACHE.encode(),
    )


# -- is the app's HLS the one this module reproduces? --------------------------------------
async def hls_answerer_for(app: web.Application, edge_problem: str | None) -> HlsAnswerer | None:
    """The HLS fast path of a started gateway app; None (logged) when its edge
    (`edge_problem`, from gateway/snapshots/fast_path.py) or its HLS routes are not the ones
    this module reproduces."""
    from gateway.auth.routes import TOKENS
    from gateway.limits.middleware import LEDGER, TRAFFIC
    from gateway.services import CONFIG

    problem = edge_problem or await _route_problem(app)
    if problem is None and (routes.HLS_MUXERS not in app or LEDGER not in app):
        problem = "the app has no HLS muxers or viewer ledger"
    if problem is not None:
        log.warning("hls fast path off: %s", problem)
        return None
    return HlsAnswerer(app[routes.HLS_MUXERS], app[TRAFFIC], app[LEDGER], app[TOKENS], app[CONFIG])


async def _route_problem(app: web.Application) -> str | None:
    playlist, media = rule_for("GET", PLAYLIST_ROUTE), rule_for("GET", MEDIA_ROUTE)
    expected = (Access.VIEWER, "view", PROTOCOL, False, False)
    if (playlist.access, playlist.action, playlist.protocol, playlist.upload, playlist.long) != expected or (
        media.access,
        media.action,
        media.protocol,
        media.upload,
        media.long,
    ) != expected:
        return f"the HLS routes' rules changed ({playlist}, {media})"
    if playlist.hold != "player" or media.hold is not None:
        return f"the HLS routes' viewer counting changed ({playlist.hold}, {media.hold})"
    from aiohttp.test_utils import make_mocked_request  # public, and only needed once

    for path, handler in (("playlist.m3u8", routes.media_playlist), ("part1.m4s", routes.media)):
        match = await app.router.resolve(make_mocked_request("GET", f"/hls/probe/probe/{path}", app=app))
        if match.http_exception is not None or getattr(match.handler, "__wrapped__", None) is not handler:
            return f"/hls/.../{path} does not reach routes.{handler.__name__}"
    return None
