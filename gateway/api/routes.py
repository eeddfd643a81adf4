"""Health, readiness and the camera list."""

from __future__ import annotations

from aiohttp import web

from gateway.auth.middleware import GRANT
from gateway.services import CAMERAS


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    reason = request.app[CAMERAS].readiness()
    if reason is not None:
        return web.json_response({"status": "not_ready", "reason": reason}, status=503,
                                 headers={"Retry-After": "2"})
    return web.json_response({"status": "ready"})


async def cameras(request: web.Request) -> web.Response:
    grant = request.get(GRANT)  # None when viewer auth is off
    found = [camera for camera in await request.app[CAMERAS].all() if grant is None or grant.allows_camera(camera.id)]
    return web.json_response({"cameras": [camera.public() for camera in found]})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/api/v1/cameras", cameras)
