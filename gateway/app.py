"""Wiring: builds the aiohttp application from one Config. The core services start and
stop through `cleanup_ctx` (gateway/services.py); each output registers its own routes
and reads the services from the app keys defined there."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from gateway import metrics
from gateway.api import openapi
from gateway.api import routes as api_routes
from gateway.api.errors import error_middleware
from gateway.auth import routes as token_routes
from gateway.auth.cors import CorsPolicy
from gateway.auth.middleware import auth_middleware
from gateway.auth.tokens import authority_for
from gateway.backends.alta import routes as alta_routes
from gateway.cluster import replication
from gateway.cluster import routes as cluster_routes
from gateway.config import Config
from gateway.control import routes as control_routes
from gateway.events import routes as event_routes
from gateway.hls import routes as hls_routes
from gateway.limits import middleware as limits
from gateway.links import routes as link_routes
from gateway.live import routes as live_routes
from gateway.logs import redactor
from gateway.rtmp import routes as rtmp_routes
from gateway.rules import clip_routes, scripts_routes
from gateway.rules import routes as rule_routes
from gateway.services import CAMERAS, CLUSTER, CONFIG, FATAL, SOURCES, WEP, core_services, stop_sources
from gateway.snapshots import routes as snapshot_routes
from gateway.talkdown import routes as talkdown_routes
from gateway.web import routes as web_routes
from gateway.webrtc import routes as webrtc_routes

__all__ = ["CAMERAS", "CONFIG", "FATAL", "SOURCES", "WEP", "create_app"]

log = logging.getLogger("gateway.app")

OUTPUTS = (
    api_routes,
    live_routes,
    hls_routes,
    webrtc_routes,
    web_routes,
    rtmp_routes,
    snapshot_routes,
    talkdown_routes,
    event_routes,
    control_routes,
    clip_routes,
    rule_routes,
    scripts_routes,
    link_routes,
    alta_routes,
    cluster_routes,
)


def create_app(config: Config) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=1024 * 1024)
    app[CONFIG] = config
    app[FATAL] = asyncio.get_event_loop().create_future()
    # First, so every output's own cleanup_ctx (added by add_routes) runs inside it.
    app.cleanup_ctx.append(core_services)
    app.on_shutdown.append(stop_sources)  # first: the streams end before anything else stops
    for output in OUTPUTS:
        output.add_routes(app)
    _add_edge(app, config)
    return app


def _add_edge(app: web.Application, config: Config) -> None:
    """What faces the outside: CORS, access control, limits (inside error_middleware, in
    that order), tokens, metrics and the API description."""
    authority, token_key = authority_for(config.auth.token_secret)
    redactor.add(token_key)
    cors = CorsPolicy(config.server.cors_origin_list)
    ledger = limits.ViewerLedger(
        config.limits.max_viewers_per_camera, config.limits.max_viewers_total, config.limits.hls_viewer_window
    )
    app[token_routes.TOKENS], app[limits.LEDGER], app[limits.TRAFFIC] = authority, ledger, limits.Traffic()
    probes = limits.session_probes(app)
    guests = app[link_routes.GUESTS]  # a guest link's id is a credential too
    app.middlewares.extend(
        [
            cors.middleware(),
            auth_middleware(config, authority, guests),
            limits.limits_middleware(config.limits, ledger, app[limits.TRAFFIC], probes),
        ]
    )
    app.on_response_prepare.extend([cors.on_prepare, limits.lift_deadline])
    app.on_startup.append(_warn_open_access)

    async def tell_cluster_viewers(app: web.Application) -> None:
        if CLUSTER in app:  # each node's viewers per camera: the cluster view, the per-camera limit
            node = app[CLUSTER]
            node.viewers = lambda: limits.viewers_by_camera(ledger, probes)
            ledger.elsewhere = lambda camera: node.viewers_elsewhere.get(camera, 0)

    app.on_startup.append(tell_cluster_viewers)
    app.cleanup_ctx.append(_share_with_cluster)
    token_routes.add_routes(app)
    openapi.add_routes(app)
    if config.metrics.enabled:
        metrics.add_routes(app, lambda: limits.current_viewers(ledger, probes))


async def _share_with_cluster(app: web.Application) -> AsyncIterator[None]:
    """In a cluster: revoked tokens and guest links reach every node (gateway/cluster/replication.py)."""
    if CLUSTER not in app:
        yield
        return
    outbox = replication.start(app[CLUSTER], app[token_routes.REVOCATIONS], app.get(link_routes.LINKS))
    try:
        yield
    finally:
        await outbox.close()


async def _warn_open_access(app: web.Application) -> None:
    auth = app[CONFIG].auth
    if not auth.viewer_auth:
        log.warning("[auth] viewer_auth = false: viewer routes need no token; use this on closed networks only")
    elif not auth.token_secret:
        log.warning(
            "[auth] token_secret is empty: viewer tokens are signed with a key of this process only "
            "and stop working when it restarts"
        )
    elif len(auth.token_secret.encode()) < 32:
        log.warning("[auth] token_secret is shorter than 32 bytes, the HS256 minimum (RFC 7518 3.2)")
