"""/alarms, /alarm, /alarm-history (guide, "Web Endpoint API Routes")."""

from __future__ import annotations

import time

from aiohttp import web

from gateway.api.query import is_ascii_digits
from gateway.emulator.access import json_body, query_ids, query_time, require_session
from gateway.emulator.alarms import HISTORY_ACTIONS, UnknownAlarm
from gateway.emulator.envelope import WepError, success
from gateway.emulator.state import EMULATOR

WEEK_MS = 7 * 24 * 3600 * 1000
DEFAULT_HISTORY_LIMIT = 1000  # guide, /alarm-history limit: "The default value is 1000"
routes = web.RouteTableDef()


def _not_found() -> WepError:
    return WepError(404, "alarm not found.")


@routes.get("/alarms")
async def alarms(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    require_session(emu.sessions, request)
    return success({"alarms": [a.to_json() for a in emu.site.alarms.all()]})


@routes.get("/alarm")
async def alarm(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    require_session(emu.sessions, request)
    # `id` is deprecated in favour of `ids` ("only if the id field is empty").
    ids = query_ids(request)
    try:
        found = [emu.site.alarms.get(i) for i in ids]
    except UnknownAlarm:
        raise _not_found() from None
    return success({"alarms": [a.to_json() for a in found]})


@routes.put("/alarm")
async def update_alarm(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    body = await json_body(request)
    session = require_session(emu.sessions, request, body)
    for name in ("id", "action"):
        if not isinstance(body.get(name), str) or not body[name]:
            raise WepError(400, f"{name} is required")
    for name in ("note", "permission"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise WepError(400, f"{name} must be a string")
    try:
        changed = emu.site.act_on_alarm(body["id"], body["action"], session.username, body.get("note"))
    except ValueError as exc:
        raise WepError(400, str(exc)) from None
    except UnknownAlarm:
        raise _not_found() from None
    return success({"alarm": changed.to_json()})


@routes.get("/alarm-history")
async def alarm_history(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    require_session(emu.sessions, request)
    alarm_id = request.query.get("id")
    if not alarm_id:
        raise WepError(400, "id is required")
    # Guide: `from` is the latest time (default now), `to` the earliest (default a week
    # before from); newest first, unless from is earlier than to: then oldest first.
    from_ms = query_time(request, "from", int(time.time() * 1000))
    to_ms = query_time(request, "to", from_ms - WEEK_MS)
    limit = request.query.get("limit", str(DEFAULT_HISTORY_LIMIT))
    if not is_ascii_digits(limit) or len(limit) > 9 or int(limit) < 1:
        raise WepError(400, f"limit must be a positive integer, not {limit!r}")
    action = request.query.get("action")
    if action is not None and action not in HISTORY_ACTIONS:
        raise WepError(400, f"action must be one of {', '.join(HISTORY_ACTIONS)}, not {action!r}")
    try:
        history = emu.site.alarms.history(alarm_id, min(from_ms, to_ms), max(from_ms, to_ms), action, int(limit),
                                          newest_first=from_ms >= to_ms)  # fmt: skip
    except UnknownAlarm:
        raise _not_found() from None
    return success({"history": [c.to_json() for c in history]})
