"""/_emulator/...: fault injection, event sources, counters and command logs for other
processes (bench, demo).

Outside the WEP base path on purpose: plain JSON, no session, no envelope contract.
"""

from __future__ import annotations

import math
from typing import TypeGuard

from aiohttp import web

from gateway.emulator.state import EMULATOR

routes = web.RouteTableDef()


async def _number(request: web.Request, name: str, default=None) -> float:
    body = await request.json() if request.can_read_body else {}
    value = request.query.get(name, body.get(name, default))
    if value is None:
        raise web.HTTPBadRequest(text=f"{name} is required")
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):  # count=nan or 1e999 would reach int() and raise there
        raise web.HTTPBadRequest(text=f"{name} must be a number")
    return number


@routes.get("/_emulator/stats")
async def stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[EMULATOR].stats)


@routes.post("/_emulator/drop")
async def drop(request: web.Request) -> web.Response:
    return web.json_response({"dropped": request.app[EMULATOR].drop_streams()})


@routes.post("/_emulator/fail")
async def fail(request: web.Request) -> web.Response:
    count = int(await _number(request, "count"))
    status = int(await _number(request, "status", 503))
    request.app[EMULATOR].fail_next(count, status)
    return web.json_response({"count": count, "status": status})


@routes.post("/_emulator/stall")
async def stall(request: web.Request) -> web.Response:
    seconds = await _number(request, "seconds")
    request.app[EMULATOR].stall_streams(seconds)
    return web.json_response({"seconds": seconds})


@routes.post("/_emulator/expire")
async def expire(request: web.Request) -> web.Response:
    return web.json_response({"expired": request.app[EMULATOR].expire_sessions()})


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


async def json_object(request: web.Request) -> dict:
    """A control route's JSON object body ({} when there is none); 400 otherwise."""
    try:
        body = await request.json() if request.can_read_body else {}
    except ValueError:
        raise web.HTTPBadRequest(text="body must be JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return body


@routes.post("/_emulator/events")
async def inject_event(request: web.Request) -> web.Response:
    """{"camera": id or 1-based index, "type": "DEVICE_MOTION_START", ...more event fields}."""
    fields = await json_object(request)
    camera, kind = fields.pop("camera", None), fields.pop("type", None)
    if camera is None or not isinstance(kind, str):
        raise web.HTTPBadRequest(text="camera and type are required")
    try:
        event = request.app[EMULATOR].inject_event(camera, kind, **fields)
    except (KeyError, ValueError) as exc:
        raise web.HTTPBadRequest(text=str(exc).strip("'\"")) from None
    return web.json_response(event)


@routes.post("/_emulator/alarms")
async def trigger_alarm(request: web.Request) -> web.Response:
    """{"name": "...", "cameras": [id or 1-based index, ...]}: a new alarm, or that one again."""
    body = await json_object(request)
    name, cameras = body.get("name"), body.get("cameras", [])
    if not isinstance(name, str) or not name or not isinstance(cameras, list):
        raise web.HTTPBadRequest(text="name (a string) is required; cameras must be a list")
    try:
        alarm = request.app[EMULATOR].trigger_alarm(name, cameras)
    except KeyError as exc:
        raise web.HTTPBadRequest(text=str(exc).strip("'\"")) from None
    return web.json_response(alarm)


@routes.post("/_emulator/webhooks/pause")
async def pause_webhooks(request: web.Request) -> web.Response:
    request.app[EMULATOR].pause_webhooks()
    return web.json_response({"paused": True})


@routes.post("/_emulator/webhooks/resume")
async def resume_webhooks(request: web.Request) -> web.Response:
    request.app[EMULATOR].resume_webhooks()
    return web.json_response({"paused": False})


@routes.get("/_emulator/webhooks")
async def webhooks(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    stats = emu.webhook_stats
    views = [{**view, "counters": stats["webhooks"][view["id"]]} for view in emu.webhooks]
    return web.json_response({"paused": stats["paused"], "webhooks": views, "total": stats["total"]})


@routes.get("/_emulator/ptz")
async def ptz(request: web.Request) -> web.Response:
    """{"cameras": [{"cameraId", "state", "presets", "home", "live": {quality: encoder stats}, "log"}]}."""
    emu = request.app[EMULATOR]
    cameras = [
        {"cameraId": camera_id, "state": emu.ptz_state(camera_id),
         "presets": [{**p.to_json(), **p.position.to_json()} for p in ptz.presets.all()],
         "home": ptz.home.to_json(), "live": emu.ptz_video_stats(camera_id), "log": emu.ptz_log(camera_id)}
        for camera_id, ptz in emu.ptz.items()
    ]  # fmt: skip
    return web.json_response({"cameras": cameras})


@routes.get("/_emulator/outputs")
async def outputs(request: web.Request) -> web.Response:
    """{"outputs": [entities as GET /entities shows them], "log": [every trigger, oldest first]}."""
    emu = request.app[EMULATOR]
    return web.json_response({"outputs": emu.output_entities(), "log": emu.output_log()})


@routes.get("/_emulator/recording")
async def recording(request: web.Request) -> web.Response:
    """{"gaps": [[start_s, end_s], ...], "manual": [manual-record states], "bookmarks": [...]}."""
    emu = request.app[EMULATOR]
    manual = [r.to_json() for r in emu.manual.active()]
    return web.json_response({"gaps": emu.recording_gaps, "manual": manual, "bookmarks": emu.bookmarks})


@routes.post("/_emulator/recording/gaps")
async def add_recording_gap(request: web.Request) -> web.Response:
    """{"start": s, "end": s} after the emulator's start: a hole in every camera's recordings."""
    body = await json_object(request)
    start, end = body.get("start"), body.get("end")
    if not (_is_number(start) and _is_number(end)):
        raise web.HTTPBadRequest(text="start and end (numbers of seconds) are required")
    try:
        request.app[EMULATOR].add_recording_gap(start, end)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    return web.json_response({"gaps": request.app[EMULATOR].recording_gaps})
