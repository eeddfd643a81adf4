"""/_emulator/...: raise alarms, set faults and the webhook, read what clients did. For other
processes (the demo, a bench); plain JSON, no auth, outside /api/v1 on purpose (as the
Amcrest emulator's control routes)."""

from __future__ import annotations

from typing import TypeGuard

from aiohttp import web

from gateway.emulator.alta.errors import NotFound
from gateway.emulator.alta.state import ALTA
from gateway.emulator.routes_control import json_object

routes = web.RouteTableDef()


def _number(body: dict, name: str, default: float | None = None, kind: type = float) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
        raise web.HTTPBadRequest(text=f"{name} must be a{'n integer' if kind is int else ' number'}")
    return kind(value)


def _integer(body: dict, name: str, default: int | None = None) -> int:
    return int(_number(body, name, default, kind=int))


def _id(value: object) -> TypeGuard[int | str]:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


@routes.post("/_emulator/alarms")
async def raise_alarm(request: web.Request) -> web.Response:
    """{"zone": id, "device"?: id (default: the zone's first)} -> {"alert": the alert, or null
    when the zone is disarmed}."""
    body = await json_object(request)
    zone, device = body.get("zone"), body.get("device")
    if not _id(zone) or (device is not None and not _id(device)):
        raise web.HTTPBadRequest(text='expected {"zone": id, "device"?: id}')
    try:
        alert = request.app[ALTA].raise_alarm(zone, device)
    except NotFound as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    return web.json_response({"alert": alert})


@routes.get("/_emulator/alerts")
async def alerts(request: web.Request) -> web.Response:
    """Every alert, newest first, lagging ones too, each with its "verifications" (bodies)
    and "visible" (shown by the API yet)."""
    emu = request.app[ALTA]
    return web.json_response({"alerts": emu.inspect_alerts()})


@routes.post("/_emulator/fail")
async def fail(request: web.Request) -> web.Response:
    """{"count": n, "status"?: 500}."""
    body = await json_object(request)
    count, status = _integer(body, "count"), _integer(body, "status", 500)
    try:
        request.app[ALTA].fail_next(count, status)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    return web.json_response({"count": count, "status": status})


@routes.post("/_emulator/garbage")
async def garbage(request: web.Request) -> web.Response:
    """{"count": n, "kind"?: "html"|"truncated"|"shape"}."""
    body = await json_object(request)
    count, kind = _integer(body, "count"), body.get("kind", "html")
    try:
        request.app[ALTA].garbage_next(count, kind)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    return web.json_response({"count": count, "kind": kind})


@routes.post("/_emulator/hang")
async def hang(request: web.Request) -> web.Response:
    """{"count": n, "seconds"?: 60}: each call waits that long, then is served."""
    body = await json_object(request)
    count, seconds = _integer(body, "count"), _number(body, "seconds", 60.0)
    try:
        request.app[ALTA].hang_next(count, seconds)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    return web.json_response({"count": count, "seconds": seconds})


@routes.post("/_emulator/expire")
async def expire(request: web.Request) -> web.Response:
    return web.json_response({"expired": request.app[ALTA].expire_sessions()})


@routes.get("/_emulator/webhook")
async def webhook(request: web.Request) -> web.Response:
    """{"webhook": {"url", "format", "zone_key", "device_key"}, "log": [every post, in order]}."""
    emu = request.app[ALTA]
    return web.json_response({"webhook": emu.webhook_action(), "log": emu.webhook_log})


@routes.post("/_emulator/webhook")
async def set_webhook(request: web.Request) -> web.Response:
    """{"url": "" (off) or http(s) URL, "format"?, "zone_key"?, "device_key"?}."""
    body = await json_object(request)
    emu = request.app[ALTA]
    current = emu.webhook_action()
    values = {name: body.get(name, current[name]) for name in ("url", "format", "zone_key", "device_key")}
    if not all(isinstance(v, str) for v in values.values()):
        raise web.HTTPBadRequest(text="url, format, zone_key and device_key must be strings")
    try:
        emu.set_webhook(**values)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    return web.json_response({"webhook": emu.webhook_action()})


@routes.get("/_emulator/stats")
async def stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[ALTA].stats)
