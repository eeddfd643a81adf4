"""/api/v1: dologin, alerts (ongoing, all, one, verify, end, bookmarks) and alarm zones
(alta-alarms.txt). Every route but dologin needs the session cookie."""

from __future__ import annotations

from aiohttp import web

from gateway.emulator.alta.alerts import ACKNOWLEDGMENT_CODES
from gateway.emulator.alta.errors import AltaError, BadRequest, Unauthorized, error_response
from gateway.emulator.alta.faults import garbage_response
from gateway.emulator.alta.state import ALTA, USER

API_PATH = "/api/v1/"
LOGIN_PATH = "/api/v1/dologin"
VERIFY_FIELDS = ("acknowledgment_code", "guid", "merged", "origin_name")  # guide, "Verify an ongoing alarm"

routes = web.RouteTableDef()


def _route_key(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return f"{request.method} {resource.canonical if resource is not None else 'unmatched'}"


@web.middleware
async def alta_api(request: web.Request, handler) -> web.StreamResponse:
    """Counts, injected faults, the cookie check, and every refusal as the JSON error."""
    if not request.path.startswith(API_PATH):
        return await handler(request)
    emu = request.app[ALTA]
    emu.counters.requests[_route_key(request)] += 1
    fault = emu.faults.take()
    if fault is not None and fault.kind == "fail":
        return error_response(fault.status, "injected fault")
    if fault is not None and fault.kind == "garbage":
        return garbage_response(fault.garbage)
    if fault is not None:  # hang, then serve as usual (unless the client gives up first)
        await emu.hang(fault.seconds)
    try:
        if request.path != LOGIN_PATH:
            user = emu.sessions.user(request.cookies.get(emu.settings.cookie_name))
            if user is None:
                emu.counters.unauthorized += 1
                raise Unauthorized("authentication required: log in with POST /api/v1/dologin")
            request[USER] = user
        return await handler(request)
    except AltaError as exc:
        if exc.status in (400, 404, 409):
            emu.counters.refused += 1
        return error_response(exc.status, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, exc.reason)


async def _json(request: web.Request):
    try:
        return await request.json()
    except ValueError:
        raise BadRequest("body must be JSON") from None


@routes.post("/api/v1/dologin")
async def dologin(request: web.Request) -> web.Response:
    """Guide, "Authentication": {"username", "password"}; the cookie is in the answer."""
    body = await _json(request)
    if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("username", "password")):
        raise BadRequest('expected {"username": "<e-mail>", "password": "<password>"}')
    emu = request.app[ALTA]
    cookie = emu.login(body["username"], body["password"])
    response = web.json_response({"status": "success", "user": {"id": emu.wire.id(1), "email": emu.settings.username}})
    response.set_cookie(emu.settings.cookie_name, cookie, path="/", httponly=True, samesite="Lax",
                        secure=emu.settings.tls)  # fmt: skip
    return response


@routes.get("/api/v1/ongoingAlerts")
async def ongoing_alerts(request: web.Request) -> web.Response:
    emu = request.app[ALTA]
    return web.json_response(emu.wire.listing("alerts", [emu.wire.alert(a) for a in emu.book.ongoing()]))


@routes.get("/api/v1/alerts")
async def alerts(request: web.Request) -> web.Response:
    emu = request.app[ALTA]
    return web.json_response(emu.wire.listing("alerts", [emu.wire.alert(a) for a in emu.book.all()]))


@routes.get("/api/v1/alerts/{guid}")
async def alert(request: web.Request) -> web.Response:
    emu = request.app[ALTA]
    return web.json_response(emu.wire.alert(emu.book.get(request.match_info["guid"])))


def _verification_code(guid: str, body) -> int:
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    missing = [name for name in VERIFY_FIELDS if name not in body]
    if missing:
        raise BadRequest(f"missing {', '.join(missing)}")
    code = body["acknowledgment_code"]
    if isinstance(code, bool) or code not in ACKNOWLEDGMENT_CODES:
        raise BadRequest(f"acknowledgment_code must be 101 (none), 201 (valid) or 202 (false), not {code!r}")
    if body["guid"] != guid:
        raise BadRequest(f"guid {body['guid']!r} does not match the alert {guid}")
    if not isinstance(body["merged"], bool):
        raise BadRequest("merged must be true or false")
    if not isinstance(body["origin_name"], str):
        raise BadRequest("origin_name must be a string")
    return code


@routes.post("/api/v1/alerts/{guid}")
async def verify(request: web.Request) -> web.Response:
    """Guide: post acknowledgment_code, guid, merged and origin_name. merged and origin_name
    are logged, not compared: the alert may have merged again since the caller read it."""
    emu, guid = request.app[ALTA], request.match_info["guid"]
    emu.book.get(guid)  # 404 before 400
    body = await _json(request)
    alert = emu.book.verify(guid, _verification_code(guid, body), body, request[USER])
    emu.counters.verifications += 1
    return web.json_response(emu.wire.alert(alert))


@routes.post("/api/v1/alerts/{guid}/end")
async def end(request: web.Request) -> web.Response:
    emu = request.app[ALTA]
    alert = emu.book.end(request.match_info["guid"], again_ok=emu.settings.end_again == "ok")
    return web.json_response(emu.wire.alert(alert))


@routes.get("/api/v1/alerts/{guid}/bookmarks")
async def bookmarks(request: web.Request) -> web.Response:
    emu = request.app[ALTA]
    alert = emu.book.get(request.match_info["guid"])
    return web.json_response(emu.wire.listing("bookmarks", [emu.wire.bookmark(b) for b in alert.bookmarks]))


@routes.get("/api/v1/alarmZones")
async def alarm_zones(request: web.Request) -> web.Response:
    emu = request.app[ALTA]
    return web.json_response(emu.wire.listing("alarm_zones", [emu.wire.zone(z) for z in emu.zones_book.all()]))


@routes.get("/api/v1/alarmZones/{id}")
async def alarm_zone(request: web.Request) -> web.Response:
    emu = request.app[ALTA]
    return web.json_response(emu.wire.zone(emu.zones_book.get(request.match_info["id"])))


@routes.post("/api/v1/alarmZones/{id}/{action:arm|disarm}")
async def arm_zone(request: web.Request) -> web.Response:
    emu = request.app[ALTA]
    (zone,) = emu.zones_book.set_armed([request.match_info["id"]], request.match_info["action"] == "arm")
    return web.json_response(emu.wire.zone(zone))


@routes.post("/api/v1/alarmZones/{action:arm|disarm}")
async def arm_zones(request: web.Request) -> web.Response:
    """A JSON array of zone ids (numbers or strings); all or none are changed."""
    body = await _json(request)
    if not isinstance(body, list) or not all(isinstance(i, (int, str)) and not isinstance(i, bool) for i in body):
        raise BadRequest("body must be a JSON array of alarm zone ids")
    emu = request.app[ALTA]
    zones = emu.zones_book.set_armed(body, request.match_info["action"] == "arm")
    return web.json_response(emu.wire.listing("alarm_zones", [emu.wire.zone(z) for z in zones]))
