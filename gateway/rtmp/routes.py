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
from gateway.rtmp.push import MEDIA, MODES, QUALITIES, push_view
from gateway.rtmp.registry import PushRegistry, TooManyPushes
from gateway.rtmp.store import PushStore, PushStoreError
from gateway.rtmp.url import PushUrlError, redact_url, validate_push_url
from gateway.services import CAMERAS, CONFIG, SOURCES, WEP

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
        log.error("%s", exc)
        raise ApiError(503, "store_unavailable", "the push could not be saved") from None
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
    return web.json_response(push_view(ctx), status=201, headers={"Location": f"/api/v1/pushes/{ctx.spec.id}"})


async def list_pushes(request: web.Request) -> web.Response:
    return web.json_response({"pushes": [push_view(ctx) for ctx in request.app[PUSHES].all()]})


async def get_push(request: web.Request) -> web.Response:
    ctx = request.app[PUSHES].get(request.match_info["id"])
    if ctx is None:
        raise not_found("no such push")
    return web.json_response(push_view(ctx))


async def delete_push(request: web.Request) -> web.Response:
    try:
        ctx = await request.app[PUSHES].delete(request.match_info["id"])
    except PushStoreError as exc:
        log.error("%s", exc)
        raise ApiError(503, "store_unavailable", "the push could not be removed") from None
    if ctx is None:
        raise not_found("no such push")
    return web.json_response(push_view(ctx))


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
    store = PushStore(app[CONFIG].pushes.db_path)
    # WEP-side pushes (mode "wep") are the WEP backend's /media/rtmp; None without WEP.
    registry = PushRegistry(store, app[SOURCES], app.get(WEP))
    app[PUSHES] = registry
    await registry.restore()
    try:
        yield
    finally:
        await registry.close()
        store.close()


def add_routes(app: web.Application) -> None:
    # After the app's own services (WEP client, sources) in cleanup_ctx: started after
    # them, stopped before them.
    app.cleanup_ctx.append(_push_service)
    app.router.add_post("/api/v1/pushes", create_push)
    app.router.add_get("/api/v1/pushes", list_pushes)
    app.router.add_get("/api/v1/pushes/{id}", get_push)
    app.router.add_delete("/api/v1/pushes/{id}", delete_push)
