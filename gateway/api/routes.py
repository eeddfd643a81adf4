"""Health, readiness and the camera list."""

from __future__ import annotations

from aiohttp import web

from gateway.auth.middleware import GRANT
from gateway.events.service import EVENTS
from gateway.services import CAMERAS, CLUSTER


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    reasons = [request.app[CAMERAS].readiness()]
    node = request.app.get(CLUSTER)
    if node is not None:  # without Redis a node serves nothing cluster-wide: out of service
        reasons.append(node.readiness())
    reason = "; ".join(r for r in reasons if r is not None) or None
    answer: dict = {"status": "ready"} if reason is None else {"status": "not_ready", "reason": reason}
    # Events degraded (WEP's webhook silent or unregistered) is reported, not a reason to take
    # the node out of service: video still flows, and missed events are searched later.
    events = request.app.get(EVENTS)
    events_reason = events.readiness() if events is not None else None
    answer["events"] = {"status": "ok"} if events_reason is None else {"status": "degraded", "reason": events_reason}
    if reason is not None:
        return web.json_response(answer, status=503, headers={"Retry-After": "2"})
    return web.json_response(answer)


async def cameras(request: web.Request) -> web.Response:
    grant = request.get(GRANT)  # None when viewer auth is off
    found = [camera for camera in await request.app[CAMERAS].all() if grant is None or grant.allows_camera(camera.id)]
    return web.json_response({"cameras": [camera.public() for camera in found]})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/api/v1/cameras", cameras)
