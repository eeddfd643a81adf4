"""`/api/v1/pushes`: RTMP pushes to streaming platforms (admin).

    POST   /api/v1/pushes       {camera, url, quality?, media?, mode?, seconds?}  -> 201 push
                                (with seconds: the push ends itself then, also across a restart)
    GET    /api/v1/pushes                                               -> {"pushes": [...]}
    GET    /api/v1/pushes/{id}                                          -> push
    DELETE /api/v1/pushes/{id}                                          -> push (state stopped)

A push resource never holds the full URL: `url` is redacted (`rtmp://host/app/ab***`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.api.bodies import read_bounded
from gateway.api.errors import ApiError, bad_request, not_found
from gateway.backends.base import Capability
from gateway.rtmp.push import MEDIA, MODES, QUALITIES
from gateway.rtmp.registry import PushRegistry, TooManyPushes
from gateway.rtmp.store import LocalPushBook, PushBook, PushStore, PushStoreError
from gateway.rtmp.url import PushUrlError, redact_url, validate_push_url
from gateway.services import CAMERAS, CLUSTER, CONFIG, SOURCES, WEP

log = logging.getLogger("gateway.rtmp")

PUSHES = web.AppKey("pushes", PushRegistry)
MAX_BODY = 16 * 1024
MAX_PUSH_SECONDS = 86400  # a timed push runs at most a day


async def create_push(request: web.Request) -> web.Response:
    body = await _json_body(request)
    camera = body.get("camera")
    if not isinstance(camera, str) or not camera:
        raise bad_request("camera must be a camera id")
    try:
        url = validate_push_url(body.get("url"))
    except PushUrlError as exc:
        raise bad_request(str(exc)) from None
    quality = _choice(body, "quality", QUALITIES, "high")
    media = _choice(body, "media", MEDIA, "video")
    mode = _choice(body, "mode", MODES, "gateway")
    seconds = body.get("seconds")
    if seconds is not None and (
        isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= MAX_PUSH_SECONDS
    ):
        raise bad_request(f"seconds must be a whole number from 1 to {MAX_PUSH_SECONDS} (or left out: until deleted)")
    unknown = set(body) - {"camera", "url", "quality", "media", "mode", "seconds"}
    if unknown:
        raise bad_request(f"unknown field(s): {', '.join(sorted(unknown))}")
    found, _ = await request.app[CAMERAS].quality(camera, quality)  # 404 unknown camera, 400 missing quality
    if mode == "wep" and not found.can(Capability.UPSTREAM_PUSH):
        raise bad_request(f'camera {camera!r} ({found.source}) cannot push RTMP itself: use mode "gateway"')
    try:
        ctx = await request.app[PUSHES].create(camera, url, quality, media, mode, seconds)
    except TooManyPushes as exc:
        raise ApiError(409, "too_many_pushes", str(exc)) from None
    except PushStoreError as exc:
        raise _unavailable(exc, "the push could not be saved") from None
    log.info(
        "push %s created: camera %s to %s (%s, %s, %s)",
        ctx.spec.id,
        camera,
        redact_url(url),
        mode,
        quality,
        media,
        extra={"camera": camera},
    )
    view = request.app[PUSHES].view_of(ctx)
    return web.json_response(view, status=201, headers={"Location": f"/api/v1/pushes/{ctx.spec.id}"})


async def list_pushes(request: web.Request) -> web.Response:
    try:
        views = await request.app[PUSHES].views()
    except PushStoreError as exc:
        raise _unavailable(exc, "the pushes could not be listed") from None
    return web.json_response({"pushes": views})


async def get_push(request: web.Request) -> web.Response:
    try:
        view = await request.app[PUSHES].view(request.match_info["id"])
    except PushStoreError as exc:
        raise _unavailable(exc, "the push could not be read") from None
    if view is None:
        raise not_found("no such push")
    return web.json_response(view)


async def delete_push(request: web.Request) -> web.Response:
    try:
        view = await request.app[PUSHES].delete(request.match_info["id"])
    except PushStoreError as exc:
        raise _unavailable(exc, "the push could not be removed") from None
    if view is None:
        raise not_found("no such push")
    return web.json_response(view)


def _unavailable(exc: PushStoreError, message: str) -> ApiError:
    log.error("%s", exc)
    return ApiError(503, "store_unavailable", message, {"Retry-After": "2"})


async def _json_body(request: web.Request) -> dict:
    raw = await read_bounded(request, MAX_BODY)
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise bad_request("body must be a JSON object") from None
    if not isinstance(body, dict):
        raise bad_request("body must be a JSON object")
    return body


def _choice(body: dict, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = body.get(name, default)
    if value not in allowed:
        shown = repr(value) if isinstance(value, str) and len(value) <= 32 else "another value"
        raise bad_request(f"{name} must be one of {', '.join(allowed)}, got {shown}")
    return value


async def _push_service(app: web.Application) -> AsyncIterator[None]:
    local = LocalPushBook(PushStore(app[CONFIG].pushes.db_path))
    if CLUSTER in app:  # the cluster's shared set; each push runs on the node holding its lease
        from gateway.cluster.pushes import ClusterPushBook, PushPlacement

        book: PushBook = ClusterPushBook(app[CLUSTER])
        await _move_into_cluster(local, book)
        # WEP-side pushes (mode "wep") are the WEP backend's /media/rtmp; None without WEP.
        registry = PushRegistry(book, app[SOURCES], app.get(WEP), placement=PushPlacement(app[CLUSTER]))
    else:
        book = local
        registry = PushRegistry(book, app[SOURCES], app.get(WEP))
    app[PUSHES] = registry
    await registry.restore()
    try:
        yield
    finally:
        await registry.close()
        local.close()


async def _move_into_cluster(local: LocalPushBook, shared: PushBook) -> None:
    """Pushes this node kept alone before it joined a cluster go to the cluster's set (once:
    they leave the local file), so they run somewhere rather than nowhere."""
    try:
        specs = await local.all()
        for spec in specs:
            await shared.add(spec)
            await local.remove(spec.id)
    except PushStoreError as exc:
        log.warning("pushes of this node not moved into the cluster yet (next start): %s", exc)
        return
    if specs:
        log.info("moved %d push(es) from %s into the cluster", len(specs), local.path)


def add_routes(app: web.Application) -> None:
    # After the app's own services (WEP client, sources) in cleanup_ctx: started after
    # them, stopped before them.
    app.cleanup_ctx.append(_push_service)
    app.router.add_post("/api/v1/pushes", create_push)
    app.router.add_get("/api/v1/pushes", list_pushes)
    app.router.add_get("/api/v1/pushes/{id}", get_push)
    app.router.add_delete("/api/v1/pushes/{id}", delete_push)
