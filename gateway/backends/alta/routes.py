"""Alta's routes on the gateway (when `[alta] url` is set):

    POST /alta/webhook/{secret}          the alarm action's call: 200 at once, looked up after
    GET  /api/v1/alta/zones              Alta's alarm zones (admin)
    POST /api/v1/alta/zones/{id}/arm     and /disarm (admin)

The webhook's proof is the path: `[alta] webhook_secret`, compared in constant time; any
other path answers 404 like a route that does not exist, and nothing is read or counted
beyond that. A payload without the zone is a 400, counted and logged (rate-limited).
"""

from __future__ import annotations

import hmac
import logging
import time

from aiohttp import web

from gateway.api.bodies import read_bounded
from gateway.api.errors import ApiError, bad_request, not_found
from gateway.backends.alta.alarms import AltaAlarms
from gateway.backends.alta.readers import AltaShapeError, ids_from_fields, webhook_ids
from gateway.services import CONFIG

log = logging.getLogger("gateway.alta")

MAX_PAYLOAD = 64 * 1024
LOG_EVERY = 10.0  # seconds between log lines about unreadable payloads


def _alta(request: web.Request) -> AltaAlarms:
    from gateway.events.service import EVENTS

    layer = request.app.get(EVENTS)
    if layer is None or layer.alta is None:
        raise not_found("Alta is not configured ([alta] url)")
    return layer.alta


class _Throttle:
    def __init__(self) -> None:
        self.last = 0.0

    def due(self) -> bool:
        now = time.monotonic()
        if now - self.last < LOG_EVERY:
            return False
        self.last = now
        return True


_UNREADABLE = _Throttle()


async def webhook(request: web.Request) -> web.Response:
    config = request.app[CONFIG].alta
    presented = request.match_info["secret"].encode()
    if not config.url or not hmac.compare_digest(presented, config.webhook_secret.encode()):
        raise not_found("no such route")
    alta = _alta(request)
    try:
        if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
            if request.content_length is not None and request.content_length > MAX_PAYLOAD:
                raise ApiError(413, "too_large", f"payload larger than {MAX_PAYLOAD} bytes")
            zone, device = ids_from_fields(dict(await request.post()), config.zone_key, config.device_key)
        else:
            zone, device = webhook_ids(
                await read_bounded(request, MAX_PAYLOAD, "payload"), config.zone_key, config.device_key
            )
    except (AltaShapeError, ValueError) as exc:
        alta.stats["bad_payloads"] += 1
        if _UNREADABLE.due():
            log.warning("Alta webhook payload unreadable: %s ([alta] zone_key is %r)", exc, config.zone_key)
        raise bad_request(f"the payload cannot be read: {exc}") from None
    queued = alta.take(zone, device)
    return web.json_response({"queued": queued}, status=200 if queued else 503)


async def zones(request: web.Request) -> web.Response:
    return web.json_response({"zones": await _alta(request).zones()})


def _arm(armed: bool):
    async def handler(request: web.Request) -> web.Response:
        zone_id = request.match_info["id"]
        if not 0 < len(zone_id) <= 128:
            raise bad_request("zone id must be 1 to 128 characters")
        alta = _alta(request)
        await alta.arm(zone_id, armed)
        log.info("Alta zone %s %s", zone_id, "armed" if armed else "disarmed")
        return web.json_response({"zone": zone_id, "armed": armed})

    handler.__name__ = "arm_zone" if armed else "disarm_zone"
    return handler


def add_routes(app: web.Application) -> None:
    app.router.add_post("/alta/webhook/{secret}", webhook)
    app.router.add_get("/api/v1/alta/zones", zones)
    app.router.add_post("/api/v1/alta/zones/{id}/arm", _arm(True))
    app.router.add_post("/api/v1/alta/zones/{id}/disarm", _arm(False))
