"""PTZ routes (guide, PUT /camera/commands/pan-tilt-zoom, /preset, /preset/home,
/ptz/lock, /ptz/lock/override; GET/POST/PUT/DELETE /camera/ptz/preset).

Every command answers the bare success envelope (the guide shows only "Successful").
Only the PTZ camera (settings.ptz_camera) takes them; another camera is a 400.
"""

from __future__ import annotations

from aiohttp import web

from gateway.api.query import is_ascii_digits
from gateway.emulator.access import json_body, require_session, session_gid
from gateway.emulator.envelope import WepError, success
from gateway.emulator.ptz import MAX_PRESET_ID, Amounts, Panel, PtzError, UnknownPreset
from gateway.emulator.ptz_camera import PtzCamera, PtzLocked
from gateway.emulator.state import EMULATOR

CONTINUOUS_ACTIONS = ("START", "STOP")
routes = web.RouteTableDef()


def _ptz_camera(emu, camera_id) -> PtzCamera:
    if not isinstance(camera_id, str) or not camera_id:
        raise WepError(400, "id (the camera) is required")
    if camera_id not in emu.cameras:
        raise WepError(404, "camera not found.")
    ptz = emu.ptz.get(camera_id)
    if ptz is None:
        raise WepError(400, "camera has no PTZ")
    return ptz


async def _command(request: web.Request) -> tuple[PtzCamera, dict, str]:
    """The PTZ camera a command body's "id" names, the body, and the caller's gid."""
    emu = request.app[EMULATOR]
    body = await json_body(request)
    session = require_session(emu.sessions, request, body)
    return _ptz_camera(emu, body.get("id")), body, session_gid(session)


def _number(value, name: str, default: float | None = None) -> float:
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise WepError(400, f"{name} must be a number")
    return float(value)


def _object(value, name: str) -> dict:
    if not isinstance(value, dict):
        raise WepError(400, f"{name} must be an object")
    return value


def _preset_id(body: dict) -> int:
    """presetId; the guide's own example for PUT /camera/commands/preset says "patternId"."""
    value = body.get("presetId", body.get("patternId"))
    if isinstance(value, str) and is_ascii_digits(value) and len(value) <= 9:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise WepError(400, "presetId (a number) is required")
    return value


@routes.put("/camera/commands/pan-tilt-zoom")
async def pan_tilt_zoom(request: web.Request) -> web.Response:
    ptz, body, by = await _command(request)
    continuous, fov = body.get("continuous"), body.get("fieldOfView")
    # Guide: "either the continuous mode or the fieldOfView mode".
    if (continuous is None) == (fov is None):
        raise WepError(400, "give either continuous or fieldOfView")
    try:
        if continuous is not None:
            _continuous(ptz, _object(continuous, "continuous"), by)
        else:
            _field_of_view(ptz, _object(fov, "fieldOfView"), by)
    except PtzError as exc:
        raise WepError(400, str(exc)) from None
    return success()


def _continuous(ptz: PtzCamera, move: dict, by: str) -> None:
    action = move.get("action")
    if action not in CONTINUOUS_ACTIONS:
        raise WepError(400, f"continuous.action must be START or STOP, not {action!r}")
    if action == "STOP":
        ptz.stop(by)
        return
    amounts = Amounts(*(_number(move.get(f"{axis}Amount"), f"{axis}Amount", 0.0) for axis in ("pan", "tilt", "zoom")))
    ptz.start(amounts, by)


def _field_of_view(ptz: PtzCamera, fov: dict, by: str) -> None:
    size = _object(fov.get("imagePanelSize"), "fieldOfView.imagePanelSize")
    panel = Panel(
        _number(size.get("width"), "imagePanelSize.width"), _number(size.get("height"), "imagePanelSize.height")
    )
    roi, point = fov.get("ROI"), fov.get("point")
    # Guide: "Only one of the following two modes can be specified at a time".
    if (roi is None) == (point is None):
        raise WepError(400, "fieldOfView needs exactly one of ROI and point")
    if point is not None:
        point = _object(point, "fieldOfView.point")
        ptz.point_at(panel, _number(point.get("x"), "point.x"), _number(point.get("y"), "point.y"), by)
        return
    roi = _object(roi, "fieldOfView.ROI")
    x, y, width, height = (_number(roi.get(k), f"ROI.{k}") for k in ("x", "y", "width", "height"))
    ptz.zoom_to(panel, x, y, width, height, by)


@routes.put("/camera/commands/preset")
async def go_to_preset(request: web.Request) -> web.Response:
    ptz, body, by = await _command(request)
    try:
        ptz.go_to_preset(_preset_id(body), by)
    except UnknownPreset:
        raise WepError(404, "preset not found.") from None
    return success()


@routes.put("/camera/commands/preset/home")
async def go_home(request: web.Request) -> web.Response:
    ptz, _, by = await _command(request)
    ptz.go_home(by)
    return success()


@routes.put("/camera/commands/ptz/lock")
async def lock(request: web.Request) -> web.Response:
    ptz, body, by = await _command(request)
    locked = body.get("lock")
    if not isinstance(locked, bool):
        raise WepError(400, "lock must be true or false")
    try:
        ptz.lock(locked, by)
    except PtzLocked as exc:
        raise WepError(409, str(exc)) from None
    return success()


@routes.put("/camera/commands/ptz/lock/override")
async def override_lock(request: web.Request) -> web.Response:
    ptz, _, by = await _command(request)
    ptz.override_lock(by)
    return success()


@routes.get("/camera/ptz/preset")
async def presets(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    require_session(emu.sessions, request)
    ptz = _ptz_camera(emu, request.query.get("id"))
    return success({"presets": [p.to_json() for p in ptz.presets.all()], "maxId": MAX_PRESET_ID})


async def _save_preset(request: web.Request, existing_only: bool) -> web.Response:
    ptz, body, by = await _command(request)
    preset_id, name, is_home = _preset_id(body), body.get("name"), body.get("isHome", False)
    if name is not None and not isinstance(name, str):
        raise WepError(400, "name must be a string")
    if not isinstance(is_home, bool):
        raise WepError(400, "isHome must be true or false")
    try:
        if existing_only:
            ptz.presets.get(preset_id)
        ptz.save_preset(preset_id, name, is_home, by)
    except UnknownPreset:
        raise WepError(404, "preset not found.") from None
    except PtzError as exc:
        raise WepError(400, str(exc)) from None
    return success()


@routes.post("/camera/ptz/preset")
async def add_preset(request: web.Request) -> web.Response:
    """Guide: "The current camera position will be set as the preset position"."""
    return await _save_preset(request, existing_only=False)


@routes.put("/camera/ptz/preset")
async def update_preset(request: web.Request) -> web.Response:
    """Guide: "Update a PTZ preset to the current camera position"."""
    return await _save_preset(request, existing_only=True)


@routes.delete("/camera/ptz/preset")
async def delete_preset(request: web.Request) -> web.Response:
    ptz, body, by = await _command(request)
    try:
        ptz.delete_preset(_preset_id(body), by)
    except UnknownPreset:
        raise WepError(404, "preset not found.") from None
    return success()
