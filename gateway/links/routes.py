"""Guest links (DESIGN.md "Rules, clips and links"):

    POST   /api/v1/links         {"camera", "live": true} or {"camera", "from", "to"}, optional "ttl"
                                 -> 201 {"id", "ref", "url", "camera", "expires_at", ...}
    GET    /api/v1/links         {"links": [...]}: refs, never ids
    DELETE /api/v1/links/{id}    by id or ref: refused from then on, open streams closed
    GET    /g/{id}               the guest page (gateway/web/static/guest.html); 410 once gone
    GET    /g/{id}/state         the page's state stream: the link, then how it ended

The admin key makes, lists and revokes every link; a token with `share` makes links for the
cameras it may view, no longer-lived than itself, and lists and revokes its own (by its
`sub`, or by a hash of the token when it has none).

The state stream is newline-delimited JSON: `{"link": {...}}` first, `{"alive": true}`
every KEEP_ALIVE seconds, and `{"gone": "revoked"|"expired", "message"}` last: the page
learns at once that it must stop, whatever its video transport does.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from gateway.api.bodies import json_fields, zoned_time
from gateway.api.errors import ApiError, bad_request, not_found
from gateway.auth.middleware import ADMIN_GRANT, GRANT, TOKEN
from gateway.auth.tokens import Grant
from gateway.backends.base import Camera, UpstreamFailure
from gateway.config import LinksConfig
from gateway.links.book import GONE_MESSAGES, GuestLink, LinkBook, check_ttl
from gateway.links.guest import GuestCredentials, link_gone
from gateway.services import CAMERAS, CONFIG
from gateway.web.routes import SECURITY_HEADERS, STATIC

LINKS = web.AppKey("links", LinkBook)
GUESTS = web.AppKey("guest_credentials", GuestCredentials)

MAX_BODY = 4096
FIELDS = {"camera", "live", "from", "to", "ttl"}
MAX_CAMERA_ID = 256
KEEP_ALIVE = 15.0  # seconds between state-stream lines: proxies close silent connections
PAGE_HEADERS = {**SECURITY_HEADERS, "Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


def _iso(unix: float, ms: bool = False) -> str:
    at = datetime.fromtimestamp(unix, UTC)
    return at.isoformat(timespec="milliseconds" if ms else "seconds").replace("+00:00", "Z")


# -- the API ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    name: str  # created_by
    owner: str  # whose links these are
    sees_all: bool  # the admin key (or nobody needs a credential: viewer_auth off)
    grant: Grant | None  # a token's: its cameras and expiry bound what it shares


def _caller(request: web.Request) -> Caller:
    grant = request.get(GRANT)
    if grant is None:  # [auth] viewer_auth = false: everything is open to everyone
        return Caller("anonymous", "anonymous", True, None)
    if grant is ADMIN_GRANT:
        return Caller("admin", "admin", True, None)
    if grant.subject:
        return Caller(grant.subject, f"sub:{grant.subject}", False, grant)
    holder = "token:" + hashlib.sha256(request[TOKEN].encode()).hexdigest()[:16]
    return Caller(holder, holder, False, grant)


def _time(body: dict, name: str) -> datetime:
    value = body.get(name)
    if value is None:
        raise bad_request(f"{name} is required for a recorded window (or live: true)")
    return zoned_time(value, f"{name} must be an ISO 8601 time with a zone, such as 2025-01-01T12:00:00Z")


def _parse(body: dict, config: LinksConfig) -> tuple[str, bool, tuple[datetime, datetime] | None, int]:
    camera = body.get("camera")
    if not isinstance(camera, str) or not 0 < len(camera) <= MAX_CAMERA_ID:
        raise bad_request("camera must be a camera id")
    live = body.get("live", False)
    if not isinstance(live, bool):
        raise bad_request("live must be true or false")
    if live and ("from" in body or "to" in body):
        raise bad_request("live and from/to exclude each other: a link is live or shows a recorded window")
    window = None if live else (_time(body, "from"), _time(body, "to"))
    try:
        ttl = check_ttl(body.get("ttl", config.default_ttl), config.max_ttl)
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    return camera, live, window, ttl


def _public(link: GuestLink, now: float) -> dict:
    record, window = link.record, link.window  # no window: a live link
    return {
        "ref": record.ref,
        "camera": record.camera,
        "live": record.live,
        "from": None if window is None else _iso(window[0], ms=True),
        "to": None if window is None else _iso(window[1], ms=True),
        "created_at": _iso(record.created_at),
        "expires_at": _iso(record.expires_at),
        "revoked": record.revoked_at is not None,
        "state": link.gone(now) or "active",
        "created_by": record.created_by,
    }


async def create_link(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    camera, live, window, ttl = _parse(await json_fields(request, FIELDS, MAX_BODY), config.links)
    caller = _caller(request)
    if caller.grant is not None and not caller.grant.allows("view", camera):
        raise ApiError(403, "forbidden", f"the token may not view camera {camera!r}, so it cannot share it")
    book = request.app[LINKS]
    try:
        link = await book.create(
            camera,
            live=live,
            window=window,
            ttl=ttl,
            created_by=caller.name,
            base_url=config.server.public_url or f"{request.scheme}://{request.host}",
            owner=caller.owner,
            not_after=caller.grant.expires_at if caller.grant else None,
        )
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    answer = {
        "id": link.id,
        "ref": link.ref,
        "url": link.url,
        "camera": camera,
        "live": live,
        "expires_at": _iso(link.expires_at),
    }
    if window is not None:
        answer.update({"from": _iso(window[0].timestamp(), ms=True), "to": _iso(window[1].timestamp(), ms=True)})
    return web.json_response(answer, status=201, headers={"Cache-Control": "no-store"})


async def list_links(request: web.Request) -> web.Response:
    caller = _caller(request)
    book = request.app[LINKS]
    now = book.now()
    links = book.links(None if caller.sees_all else caller.owner)
    return web.json_response({"links": [_public(link, now) for link in links]}, headers={"Cache-Control": "no-store"})


async def delete_link(request: web.Request) -> web.Response:
    caller = _caller(request)
    book = request.app[LINKS]
    link = book.find(request.match_info["id"])
    if link is None or not (caller.sees_all or link.record.owner == caller.owner):
        raise not_found("no such link")  # another holder's link is none of this one's business
    await book.revoke(link.ref)
    return web.json_response(_public(link, book.now()))


# -- the guest page ---------------------------------------------------------------------------------

_PAGES = {
    "revoked": (410, "This link was revoked", "The person who shared it has withdrawn it."),
    "expired": (410, "This link has expired", "Ask the person who shared it for a new one."),
    "unknown": (404, "This link does not exist", "Check that the whole address was copied."),
}


def _message_page(kind: str) -> web.Response:
    status, title, text = _PAGES[kind]
    body = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="color-scheme" content="dark light">
  <title>{html.escape(title)} · wep-gateway</title>
  <link rel="stylesheet" href="/static/style.css">
</head>
<body class="guest">
  <main class="guest-page" data-state="{kind}">
    <section class="guest-message" role="alert">
      <h1>{html.escape(title)}</h1>
      <p>{html.escape(text)}</p>
    </section>
  </main>
</body>
</html>
"""
    return web.Response(status=status, text=body, content_type="text/html", headers=PAGE_HEADERS)


async def guest_page(request: web.Request) -> web.StreamResponse:
    book = request.app[LINKS]
    link = book.lookup(request.match_info["id"])
    if link is None:
        return _message_page("unknown")
    reason = link.gone(book.now())
    if reason is not None:
        return _message_page(reason)
    return web.FileResponse(STATIC / "guest.html", headers={**PAGE_HEADERS, "Content-Type": "text/html"})


class PageWatch:
    """A guest page's state stream, as a thing its link closes."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._ended = asyncio.Event()

    def alive(self) -> bool:
        return not self._ended.is_set()

    def close(self, reason: str) -> None:
        self.reason = reason
        self._ended.set()

    async def wait(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._ended.wait(), timeout)
        except TimeoutError:
            pass


def _line(entry: dict) -> bytes:
    return json.dumps(entry).encode() + b"\n"


def _page_info(link: GuestLink, camera: Camera) -> dict:
    record, window = link.record, link.window  # no window: a live link
    info = {"ref": record.ref, "camera": camera.public(), "live": record.live, "expires_at": _iso(record.expires_at)}
    if window is not None:
        info.update({"from": _iso(window[0], ms=True), "to": _iso(window[1], ms=True)})
    return info


async def guest_state(request: web.Request) -> web.StreamResponse:
    book = request.app[LINKS]
    link = book.lookup(request.match_info["id"])
    if link is None:
        raise not_found("no such link")
    reason = link.gone(book.now())
    if reason is not None:
        raise link_gone(reason)
    try:
        camera = await request.app[CAMERAS].get(link.record.camera)
    except UpstreamFailure:
        # Answered here: the error middleware would log the path, and the path holds the id.
        raise ApiError(
            503, "upstream_unavailable", "the video system is not reachable right now", {"Retry-After": "2"}
        ) from None
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson", "Cache-Control": "no-store"})
    await response.prepare(request)
    watch = PageWatch()
    book.track(link, watch)
    try:
        await response.write(_line({"link": _page_info(link, camera)}))
        while True:
            remaining = link.record.expires_at - book.now()
            if watch.reason is None and remaining > 0:
                await watch.wait(min(KEEP_ALIVE, remaining))
            reason = watch.reason or link.gone(book.now())
            if reason == "shutdown":
                break
            if reason is not None:
                await response.write(_line({"gone": reason, "message": GONE_MESSAGES[reason]}))
                break
            await response.write(_line({"alive": True}))
    except ConnectionResetError:
        pass  # the page went away
    finally:
        book.untrack(link, watch)
    return response


# -- wiring -----------------------------------------------------------------------------------------


async def _service(app: web.Application) -> AsyncIterator[None]:
    await app[LINKS].open(app[CAMERAS])
    try:
        yield
    finally:
        await app[LINKS].close()


async def _close_streams(app: web.Application) -> None:
    """on_shutdown: the state streams end now rather than after the shutdown timeout."""
    app[LINKS].close_streams()


def add_routes(app: web.Application) -> None:
    book = app[LINKS] = LinkBook(app[CONFIG])
    app[GUESTS] = GuestCredentials(book)  # the auth middleware's (gateway/app.py)
    app.cleanup_ctx.append(_service)
    app.on_shutdown.append(_close_streams)
    app.router.add_post("/api/v1/links", create_link)
    app.router.add_get("/api/v1/links", list_links)
    app.router.add_delete("/api/v1/links/{id}", delete_link)
    app.router.add_get("/g/{id}", guest_page)
    app.router.add_get("/g/{id}/state", guest_state)
