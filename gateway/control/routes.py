"""Camera control (DESIGN.md "Camera control"), token actions `ptz` and `outputs`:

    POST /api/v1/cameras/{camera}/ptz              {"pan", "tilt", "zoom"} in [-1, 1]: a continuous move
    POST /api/v1/cameras/{camera}/ptz/stop
    POST /api/v1/cameras/{camera}/ptz/home
    POST /api/v1/cameras/{camera}/ptz/center       {"x", "y"} in [0, 1]: centre on a point of the picture
    POST /api/v1/cameras/{camera}/ptz/zoom-to      {"roi": [left, top, right, bottom]} in [0, 1]
    GET  /api/v1/cameras/{camera}/presets
    POST /api/v1/cameras/{camera}/presets/{n}/goto
    POST /api/v1/cameras/{camera}/outputs/{n}      {"state": "on" | "off" | "pulse"}

Everything that steers takes the camera's operator lock (locks.py; 409 naming the holder).
Bad values are refused before anything is sent upstream.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from gateway.api.bodies import json_fields
from gateway.api.errors import ApiError, bad_request
from gateway.api.query import ascii_int
from gateway.auth.middleware import GRANT, TOKEN, admin_presented
from gateway.backends.base import Camera, Capability, OutputState, PtzVector, UpstreamFailure
from gateway.cluster.leases import ClusterUnavailable
from gateway.cluster.operators import ClusterOperatorLocks
from gateway.control import recordings
from gateway.control.locks import Held, Operator, OperatorLocks
from gateway.control.ptz import PtzDriver
from gateway.services import CAMERAS, CLUSTER, CONFIG
from gateway.wep.errors import WepError

MAX_BODY = 4096
MAX_OPERATORS = 10000  # (camera, operator) sequence numbers remembered
MAX_SEQ = 2**53


class CameraControl:
    """The control service: the operator locks and one PTZ driver per camera."""

    def __init__(self) -> None:
        self.locks = OperatorLocks()
        # In a cluster, the lock is decided in Redis too (gateway/cluster/operators.py).
        self.shared: ClusterOperatorLocks | None = None
        self.drivers: dict[str, PtzDriver] = {}
        self._last_seq: dict[tuple[str, str], int] = {}
        self.stale = 0

    def fresh(self, camera_id: str, operator: Operator, seq: int | None) -> bool:
        """False for a command older than one this operator already sent to this camera:
        requests on parallel connections can arrive out of order, and an old move reaching
        the camera after the release would turn it again."""
        if seq is None:
            return True
        key = (camera_id, operator.key)
        last = self._last_seq.get(key)
        if last is not None and seq <= last:
            self.stale += 1
            return False
        if len(self._last_seq) >= MAX_OPERATORS:
            self._last_seq.pop(next(iter(self._last_seq)))
        self._last_seq.pop(key, None)
        self._last_seq[key] = seq
        return True

    def driver(self, camera_id: str, backend) -> PtzDriver:
        driver = self.drivers.get(camera_id)
        if driver is None:
            driver = self.drivers[camera_id] = PtzDriver(camera_id, lambda v: backend.ptz_move(camera_id, v))
        return driver

    def close(self) -> None:
        for driver in self.drivers.values():
            driver.close()


CONTROL = web.AppKey("control", CameraControl)


# -- requests ---------------------------------------------------------------------------------------


def _number(body: dict, name: str, low: float, high: float, default: float | None = None) -> float:
    value = body.get(name, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise bad_request(f"{name} must be a number from {low:g} to {high:g}")
    return float(value)


def _index(request: web.Request, name: str, low: int) -> int:
    return ascii_int(request.match_info[name], name, low, 999_999)


def operator(request: web.Request) -> Operator:
    """Who sends this command: the token's subject, the admin, or (viewer auth off) the client."""
    if admin_presented(request, request.app[CONFIG].auth.admin_key):
        return Operator("admin", "the admin", admin=True)
    token = request.get(TOKEN)
    if token is not None:
        grant = request[GRANT]
        return Operator("t:" + hashlib.sha256(token.encode()).hexdigest()[:16], grant.subject or "another operator")
    tab = request.headers.get("X-Operator-Id", "")[:64]  # the page's per-tab id, when tokens are off
    return Operator(f"a:{request.remote}:{tab}", "another operator")


async def _camera(request: web.Request, capability: Capability) -> tuple[Camera, Any]:
    directory = request.app[CAMERAS]
    camera = await directory.usable(request.match_info["camera"], capability)
    return camera, directory.backend_of(camera.id)


async def _take_lock(request: web.Request, camera: Camera) -> Operator:
    """The operator sending this command, now holding the camera; 409 naming who else does
    (on any node of a cluster; 503 when the cluster cannot tell)."""
    control = request.app[CONTROL]
    try:
        sender = operator(request)
        if control.shared is not None:  # the cluster's lock is the only one that counts
            await control.shared.take(camera.id, sender)
        else:
            control.locks.take(camera.id, sender)
    except Held as exc:
        raise ApiError(409, "camera_busy", str(exc), {"Retry-After": "2"}) from None
    except ClusterUnavailable:
        raise ApiError(
            503, "cluster_unavailable", "the cluster cannot tell who steers this camera now", {"Retry-After": "2"}
        ) from None
    return sender


async def _upstream(call) -> None:
    """A camera system's refusal that says what is wrong (no such preset or output, no such
    command) keeps its status; other failures go to the error middleware."""
    try:
        await call
    except UpstreamFailure as exc:
        if not isinstance(exc, WepError) and exc.status in (400, 404, 409, 501):
            raise ApiError(exc.status, exc.cause, str(exc)) from None
        raise


def _fov_refusal(camera: Camera) -> ApiError:
    return ApiError(
        501,
        "not_implemented",
        f"camera {camera.id!r} ({camera.source}) cannot centre on a point or "
        "zoom to a region: its camera system has no field-of-view command; use the pad or a preset",
    )


# -- handlers ---------------------------------------------------------------------------------------


async def move(request: web.Request) -> web.Response:
    body = await json_fields(request, {"pan", "tilt", "zoom", "seq"}, MAX_BODY, empty=True)
    if not set(body) - {"seq"}:
        raise bad_request('give at least one of pan, tilt, zoom (each from -1 to 1), e.g. {"pan": 0.5}')
    vector = PtzVector(*(_number(body, name, -1, 1, 0) for name in ("pan", "tilt", "zoom")))
    seq = _seq(body)
    camera, backend = await _camera(request, Capability.PTZ)
    sender = await _take_lock(request, camera)
    control = request.app[CONTROL]
    driver = control.driver(camera.id, backend)
    if not control.fresh(camera.id, sender, seq):
        return web.json_response({"moving": driver.moving, "stale": True})
    await _upstream(driver.move(vector))
    return web.json_response({"moving": not vector.still, "stops_after_s": driver.dead_man_s})


def _seq(body: dict) -> int | None:
    """`seq`: optional, the operator's command number, increasing (see CameraControl.fresh)."""
    seq = body.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_SEQ):
        raise bad_request("seq must be a whole number from 0, increasing with each command")
    return seq


async def stop(request: web.Request) -> web.Response:
    seq = _seq(await json_fields(request, {"seq"}, MAX_BODY, empty=True))
    camera, backend = await _camera(request, Capability.PTZ)
    sender = await _take_lock(request, camera)
    control = request.app[CONTROL]
    if not control.fresh(camera.id, sender, seq):
        return web.json_response({"moving": control.driver(camera.id, backend).moving, "stale": True})
    await _upstream(control.driver(camera.id, backend).stop())
    return web.json_response({"moving": False})


async def home(request: web.Request) -> web.Response:
    camera, backend = await _camera(request, Capability.PTZ)
    await _take_lock(request, camera)
    await _upstream(backend.ptz_home(camera.id))
    return web.json_response({"ok": True})


async def center(request: web.Request) -> web.Response:
    body = await json_fields(request, {"x", "y"}, MAX_BODY, empty=True)
    x, y = _number(body, "x", 0, 1), _number(body, "y", 0, 1)
    camera, backend = await _camera(request, Capability.PTZ)
    if not camera.can(Capability.PTZ_FOV):
        raise _fov_refusal(camera)
    await _take_lock(request, camera)
    await _stop_moving(request, camera)
    await _upstream(backend.ptz_center(camera.id, x, y))
    return web.json_response({"ok": True})


async def zoom_to(request: web.Request) -> web.Response:
    body = await json_fields(request, {"roi"}, MAX_BODY, empty=True)
    roi = body.get("roi")
    if not isinstance(roi, list) or len(roi) != 4:
        raise bad_request("roi must be [left, top, right, bottom], each from 0 to 1")
    left, top, right, bottom = (_number({"roi": value}, "roi", 0, 1) for value in roi)
    if not (left < right and top < bottom):
        raise bad_request("roi must have left < right and top < bottom")
    camera, backend = await _camera(request, Capability.PTZ)
    if not camera.can(Capability.PTZ_FOV):
        raise _fov_refusal(camera)
    await _take_lock(request, camera)
    await _stop_moving(request, camera)
    await _upstream(backend.ptz_zoom_to(camera.id, (left, top, right, bottom)))
    return web.json_response({"ok": True})


async def _stop_moving(request: web.Request, camera: Camera) -> None:
    driver = request.app[CONTROL].drivers.get(camera.id)
    if driver is not None and driver.moving:
        await _upstream(driver.stop())


async def presets(request: web.Request) -> web.Response:
    camera, backend = await _camera(request, Capability.PTZ)
    found = await backend.ptz_presets(camera.id)
    return web.json_response({"presets": [{"number": p.number, "name": p.name} for p in found]})


async def goto_preset(request: web.Request) -> web.Response:
    number = _index(request, "n", 0)
    camera, backend = await _camera(request, Capability.PTZ)
    known = [preset.number for preset in await backend.ptz_presets(camera.id)]
    if number not in known:  # refused here: no command goes upstream for a preset that is not there
        shown = ", ".join(map(str, known[:20])) + (", ..." if len(known) > 20 else "")
        raise ApiError(404, "not_found", f"camera {camera.id!r} has no preset {number} (it has {shown or 'none'})")
    await _take_lock(request, camera)
    await _stop_moving(request, camera)
    await _upstream(backend.ptz_goto_preset(camera.id, number))
    return web.json_response({"ok": True, "preset": number})


async def set_output(request: web.Request) -> web.Response:
    number = _index(request, "n", 1)
    body = await json_fields(request, {"state"}, MAX_BODY, empty=True)
    try:
        state = OutputState(body.get("state", ""))
    except ValueError:
        raise bad_request('state must be "on", "off" or "pulse"') from None
    camera, backend = await _camera(request, Capability.OUTPUTS)
    await _upstream(backend.set_output(camera.id, number, state))
    return web.json_response({"output": number, "state": state.value})


async def _service(app: web.Application) -> AsyncIterator[None]:
    app[CONTROL] = CameraControl()
    if CLUSTER in app:
        app[CONTROL].shared = ClusterOperatorLocks(app[CLUSTER])
    yield
    app[CONTROL].close()


def add_routes(app: web.Application) -> None:
    app.cleanup_ctx.append(_service)
    base = "/api/v1/cameras/{camera}"
    app.router.add_post(f"{base}/ptz", move)
    app.router.add_post(f"{base}/ptz/stop", stop)
    app.router.add_post(f"{base}/ptz/home", home)
    app.router.add_post(f"{base}/ptz/center", center)
    app.router.add_post(f"{base}/ptz/zoom-to", zoom_to)
    app.router.add_get(f"{base}/presets", presets)
    app.router.add_post(f"{base}/presets/{{n}}/goto", goto_preset)
    app.router.add_post(f"{base}/outputs/{{n}}", set_output)
    recordings.add_routes(app)
