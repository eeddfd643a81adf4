"""/_emulator/...: inject events and faults, read what clients did. For other processes
(the gateway's bench, a demo); plain JSON, no auth, outside /cgi-bin on purpose."""

from __future__ import annotations

from aiohttp import web

from gateway.api.query import is_ascii_digits
from gateway.emulator.amcrest.state import AMCREST
from gateway.emulator.routes_control import json_object

routes = web.RouteTableDef()


@routes.post("/_emulator/events")
async def inject_event(request: web.Request) -> web.Response:
    body = await json_object(request)
    channel, code, action, data = body.get("channel"), body.get("code"), body.get("action"), body.get("data")
    if not isinstance(channel, int) or not isinstance(code, str) or not isinstance(action, str):
        raise web.HTTPBadRequest(text='expected {"channel": int, "code": str, "action": str, "data"?: object}')
    if data is not None and not isinstance(data, dict):
        raise web.HTTPBadRequest(text="data must be a JSON object")
    try:
        request.app[AMCREST].inject_event(channel, code, action, data)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    return web.json_response({"ok": True})


@routes.post("/_emulator/event-fault")
async def event_fault(request: web.Request) -> web.Response:
    body = await json_object(request)
    try:
        request.app[AMCREST].event_fault(body.get("kind"))
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    return web.json_response({"ok": True})


@routes.get("/_emulator/ptz")
async def ptz_log(request: web.Request) -> web.Response:
    return web.json_response(request.app[AMCREST].ptz_log)


@routes.get("/_emulator/talk/{channel}")
async def talk_audio(request: web.Request) -> web.Response:
    emu = request.app[AMCREST]
    channel = request.match_info["channel"]
    if not is_ascii_digits(channel) or len(channel) > 3 or int(channel) not in emu.talk_records:
        raise web.HTTPNotFound(text=f"no channel {channel}")
    return web.Response(body=emu.talk_audio(int(channel)), content_type="application/octet-stream")


@routes.get("/_emulator/stats")
async def stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[AMCREST].stats)
