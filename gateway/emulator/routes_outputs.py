"""Digital outputs (guide, GET /entities, GET /entity, PUT /camera/commands/trigger-digital-output).

/entities and /entity answer {"entities": [...]}; the emulator's entities are the cameras'
digital outputs (outputs.py). A trigger answers the bare success envelope.
"""

from __future__ import annotations

from aiohttp import web

from gateway.emulator.access import json_body, query_ids, require_session, session_gid
from gateway.emulator.envelope import WepError, success
from gateway.emulator.outputs import UnknownEntity
from gateway.emulator.state import EMULATOR

routes = web.RouteTableDef()


@routes.get("/entities")
async def entities(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    require_session(emu.sessions, request)
    return success({"entities": emu.outputs.entities()})


@routes.get("/entity")
async def entity(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    require_session(emu.sessions, request)
    # `id` is deprecated in favour of `ids`, and only used when `ids` is empty.
    ids = query_ids(request)
    try:
        return success({"entities": [emu.outputs.entity(i) for i in ids]})
    except UnknownEntity:
        raise WepError(404, "entity not found.") from None


@routes.put("/camera/commands/trigger-digital-output")
async def trigger_digital_output(request: web.Request) -> web.Response:
    """Guide: entityId triggers that output; id (a camera) triggers "all the digital output
    entities linked to the camera"; "If both parameters are provided, then id will take
    precedence over entityId"."""
    emu = request.app[EMULATOR]
    body = await json_body(request)
    session = require_session(emu.sessions, request, body)
    camera_id, entity_id, toggle = body.get("id"), body.get("entityId"), body.get("isToggle", False)
    if not isinstance(toggle, bool):
        raise WepError(400, "isToggle must be true or false")
    if not all(isinstance(v, (str, type(None))) for v in (camera_id, entity_id)):
        raise WepError(400, "id and entityId must be strings")
    if camera_id:
        if camera_id not in emu.cameras:
            raise WepError(404, "camera not found.")
        targets = emu.outputs.of_camera(camera_id)
    elif entity_id:
        try:
            targets = [emu.outputs.get(entity_id)]
        except UnknownEntity:
            raise WepError(404, "entity not found.") from None
    else:
        raise WepError(400, "id (a camera) or entityId (a digital output) is required")
    emu.outputs.trigger(targets, toggle, session_gid(session))
    return success()
