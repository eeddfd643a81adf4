"""Alarms (token action `alarms`; the answer and every action limited to alarms of the
token's cameras):

    GET  /api/v1/alarms                       every source's alarms
    POST /api/v1/alarms/{id}/acknowledge      {"note"}; also /claim, /dismiss (WEP)
    POST /api/v1/alarms/{id}/verify           {"result": "none"|"valid"|"false", "note"} (Alta)
    POST /api/v1/alarms/{id}/end              {"note"} (Alta)
    GET  /api/v1/alarms/{id}/history          who did what, when

Which source takes which action is the source's (AlarmSource.actions): another is a 400.
"""

from __future__ import annotations

from aiohttp import web

from gateway.api.bodies import json_fields
from gateway.api.errors import ApiError, bad_request
from gateway.auth.middleware import GRANT
from gateway.auth.tokens import ALL_CAMERAS
from gateway.events.alarms import Alarm
from gateway.events.service import EVENTS

ACTIONS = ("acknowledge", "claim", "dismiss", "verify", "end")
MAX_BODY = 16 * 1024


def _allowed(request: web.Request, alarm: Alarm) -> bool:
    grant = request.get(GRANT)
    if grant is None or ALL_CAMERAS in grant.cameras:
        return True
    return any(camera in grant.cameras for camera in alarm.cameras)


async def _visible(request: web.Request) -> Alarm:
    alarm = await request.app[EVENTS].alarms.get(request.match_info["id"])
    if not _allowed(request, alarm):
        raise ApiError(403, "forbidden", "the token does not cover this alarm's cameras")
    return alarm


async def list_alarms(request: web.Request) -> web.Response:
    alarms, failed = await request.app[EVENTS].alarms.alarms()
    answer: dict = {"alarms": [alarm.public() for alarm in alarms if _allowed(request, alarm)]}
    if failed:
        answer["unavailable"] = failed
    return web.json_response(answer)


async def _body(request: web.Request, action: str) -> tuple[str | None, str | None]:
    """The action's note, and its result (verify's)."""
    body = await json_fields(
        request, {"note", "result"} if action == "verify" else {"note"}, MAX_BODY, empty=action != "verify"
    )
    note, result = body.get("note"), body.get("result")
    if note is not None and not isinstance(note, str):
        raise bad_request("note must be a string")
    if action == "verify" and not isinstance(result, str):
        raise bad_request('result is required: "none", "valid" or "false"')
    return note or None, result


def _action(action: str):
    async def act(request: web.Request) -> web.Response:
        note, result = await _body(request, action)
        alarm = await _visible(request)
        grant = request.get(GRANT)
        updated = await request.app[EVENTS].alarms.act(alarm, action, note, grant.subject if grant else None, result)
        return web.json_response(updated.public())

    act.__name__ = f"{action}_alarm"
    return act


async def alarm_history(request: web.Request) -> web.Response:
    alarm_id = request.match_info["id"]
    try:
        await _visible(request)
    except ApiError as exc:
        # A dismissed alarm may have left the source's list: its history stays readable with
        # a token for every camera.
        grant = request.get(GRANT)
        if exc.status != 404 or (grant is not None and ALL_CAMERAS not in grant.cameras):
            raise
    return web.json_response({"alarm": alarm_id, "history": await request.app[EVENTS].alarms.history(alarm_id)})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/alarms", list_alarms)
    for action in ACTIONS:
        app.router.add_post(f"/api/v1/alarms/{{id}}/{action}", _action(action))
    app.router.add_get("/api/v1/alarms/{id}/history", alarm_history)
