"""Wiring: builds the aiohttp application from one Config. Services start and stop through
`cleanup_ctx`; route modules register their own routes and read services from app keys."""

from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator

from aiohttp import web

from gateway.api import routes as api_routes
from gateway.api.errors import error_middleware
from gateway.cameras import CameraDirectory
from gateway.config import Config
from gateway.live import routes as live_routes
from gateway.logs import redactor
from gateway.media.sources import SourceRegistry
from gateway.snapshots import routes as snapshot_routes
from gateway.wep.client import WepClient
from gateway.wep.errors import WepAuthError, WepError

log = logging.getLogger("gateway.app")

CONFIG = web.AppKey("config", Config)
WEP = web.AppKey("wep", WepClient)
CAMERAS = web.AppKey("cameras", CameraDirectory)
SOURCES = web.AppKey("sources", SourceRegistry)
FATAL = web.AppKey("fatal", asyncio.Future)


async def _login_until_ready(app: web.Application) -> None:
    """Log in with backoff; a refused login (wrong password or key) cannot heal: stop."""
    client = app[WEP]
    delay = 1.0
    while True:
        try:
            await client.login()
            log.info("logged in to WEP")
            return
        except WepAuthError as exc:
            log.error("WEP refused the login: %s (check [wep] username, password, user_nonce, user_key)", exc)
            if not app[FATAL].done():
                app[FATAL].set_result(2)
            return
        except WepError as exc:
            log.warning("WEP not reachable yet: %s; retrying in %.0fs", exc, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)


async def _services(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    for secret in (config.wep.password, config.wep.user_key, config.auth.admin_key, config.auth.token_secret):
        redactor.add(secret)
    client = WepClient(config.wep, on_session=redactor.add)
    app[WEP] = client
    app[CAMERAS] = CameraDirectory(client, config.wep.camera_cache_ttl)
    app[SOURCES] = SourceRegistry(client, config.sources)
    await client.open()
    login = asyncio.get_running_loop().create_task(_login_until_ready(app), name="wep login")
    try:
        yield
    finally:
        login.cancel()
        await app[SOURCES].close()
        await client.close()


def create_app(config: Config) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=1024 * 1024)
    app[CONFIG] = config
    app[FATAL] = asyncio.get_event_loop().create_future()
    app.cleanup_ctx.append(_services)
    api_routes.add_routes(app)
    live_routes.add_routes(app)
    from gateway.hls import routes as hls_routes

    hls_routes.add_routes(app)
    from gateway.webrtc import routes as webrtc_routes
    from gateway.web import routes as web_routes

    webrtc_routes.add_routes(app)
    web_routes.add_routes(app)
    from gateway.rtmp import routes as rtmp_routes

    rtmp_routes.add_routes(app)
    snapshot_routes.add_routes(app)
    from gateway.talkdown import routes as talkdown_routes

    talkdown_routes.add_routes(app)
    _add_edge(app, config)
    return app


def _add_edge(app: web.Application, config: Config) -> None:
    """What faces the outside: CORS, access control, limits (inside error_middleware, in
    that order), tokens, metrics and the API description."""
    from gateway import metrics
    from gateway.api import openapi
    from gateway.auth import routes as token_routes
    from gateway.auth.cors import CorsPolicy
    from gateway.auth.middleware import auth_middleware
    from gateway.auth.tokens import authority_for
    from gateway.limits import middleware as limits

    authority, token_key = authority_for(config.auth.token_secret)
    redactor.add(token_key)
    cors = CorsPolicy(config.server.cors_origin_list)
    ledger = limits.ViewerLedger(config.limits.max_viewers_per_camera, config.limits.max_viewers_total,
                                 config.limits.hls_viewer_window)
    app[token_routes.TOKENS], app[limits.LEDGER], app[limits.TRAFFIC] = authority, ledger, limits.Traffic()
    probes = limits.session_probes(app)
    app.middlewares.extend([cors.middleware(), auth_middleware(config, authority),
                            limits.limits_middleware(config.limits, ledger, app[limits.TRAFFIC], probes)])
    app.on_response_prepare.extend([cors.on_prepare, limits.lift_deadline])
    app.on_startup.append(_warn_open_access)
    token_routes.add_routes(app)
    openapi.add_routes(app)
    if config.metrics.enabled:
        metrics.add_routes(app, lambda: limits.current_viewers(ledger, probes))


async def _warn_open_access(app: web.Application) -> None:
    auth = app[CONFIG].auth
    if not auth.viewer_auth:
        log.warning("[auth] viewer_auth = false: viewer routes need no token; use this on closed networks only")
    elif not auth.token_secret:
        log.warning("[auth] token_secret is empty: viewer tokens are signed with a key of this process only "
                    "and stop working when it restarts")
    elif len(auth.token_secret.encode()) < 32:
        log.warning("[auth] token_secret is shorter than 32 bytes, the HS256 minimum (RFC 7518 3.2)")
