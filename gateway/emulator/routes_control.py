"""/_emulator/...: fault injection and counters for other processes (bench, demo).

Outside the WEP base path on purpose: plain JSON, no session, no envelope contract.
"""

from __future__ import annotations

from aiohttp import web

from gateway.emulator.state import EMULATOR

routes = web.RouteTableDef()


async def _number(request: web.Request, name: str, default=None) -> float:
    body = await request.json() if request.can_read_body else {}
    value = request.query.get(name, body.get(name, default))
    if value is None:
        raise web.HTTPBadRequest(text=f"{name} is required")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise web.HTTPBadRequest(text=f"{name} must be a number") from None


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
