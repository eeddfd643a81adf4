"""/health, /login, /logout, /cameras, /camera (guide, "Web Endpoint API Routes")."""

from __future__ import annotations

import time

from aiohttp import web

from gateway.emulator.access import json_body, require_session, session_token
from gateway.emulator.auth_token import TokenRejected, check_token
from gateway.emulator.envelope import WepError, success
from gateway.emulator.state import EMULATOR

VERBOSITIES = ("LOW", "MEDIUM", "HIGH")
routes = web.RouteTableDef()


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    return web.Response(text="GOOD", content_type="text/plain")


@routes.post("/login")
async def login(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    body = await json_body(request)
    settings = emu.settings
    for name in ("username", "password", "authorizationToken"):
        if not isinstance(body.get(name), str):
            raise WepError(400, f"{name} is required")
    try:
        check_token(body["authorizationToken"], settings.user_nonce, settings.user_key,
                    settings.integration_id, time.time(), settings.token_skew)  # fmt: skip
    except TokenRejected as exc:
        emu.counters.login_failures += 1
        raise WepError(401, str(exc)) from None
    if body["username"] != settings.username or body["password"] != settings.password:
        emu.counters.login_failures += 1
        raise WepError(401, "invalid username or password")
    session = emu.sessions.create(body["username"])
    emu.counters.logins += 1
    emu.site.emit("USER_LOGIN", userName=session.username, clientName=str(body.get("clientName", "")),
                  clientIp=_client_ip(request.remote))  # fmt: skip
    return success({"session": session.token, "externalUserId": "emulator-user-1", "domainId": "emulator"})


def _client_ip(remote: str | None) -> dict:
    """The guide's USER_LOGIN sample: {"addrType": "ADDR_IP_V4", "addrIpV4": "10.89.121.200"}."""
    if remote and ":" in remote:
        return {"addrType": "ADDR_IP_V6", "addrIpV6": remote}
    return {"addrType": "ADDR_IP_V4", "addrIpV4": remote or ""}


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    body = await json_body(request)
    token = session_token(request, body)
    if not token or not emu.sessions.remove(token):
        raise WepError(401, "session is invalid or has expired")
    return success()


def _verbosity(request: web.Request) -> str:
    value = request.query.get("verbosity", "HIGH").upper()
    if value not in VERBOSITIES:
        raise WepError(400, f"verbosity must be one of LOW, MEDIUM, HIGH, not {value!r}")
    return value


@routes.get("/cameras")
async def cameras(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    require_session(emu.sessions, request)
    verbosity = _verbosity(request)
    return success({"cameras": [_camera_json(emu, c, verbosity) for c in emu.cameras.values()]})


@routes.get("/camera")
async def camera(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    require_session(emu.sessions, request)
    verbosity = _verbosity(request)
    # `id` is deprecated in favour of `ids` (one or more; repeated or comma-separated).
    ids = [i for value in request.query.getall("ids", []) for i in value.split(",") if i]
    if not ids and request.query.get("id"):
        ids = [request.query["id"]]
    if not ids:
        raise WepError(400, "ids is required")
    unknown = [i for i in ids if i not in emu.cameras]
    if unknown:
        raise WepError(404, "camera not found.")
    return success({"cameras": [_camera_json(emu, emu.cameras[i], verbosity) for i in ids]})


def _camera_json(emu, camera, verbosity: str) -> dict:
    body = camera.to_json(verbosity)
    if camera.id in emu.ptz:
        # Guide, /camera/commands/ptz/lock/override: "If lockSessionGid is empty, the camera is unlocked."
        body["lockSessionGid"] = emu.ptz[camera.id].lock_holder
    return body
