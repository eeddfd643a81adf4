"""The gateway's core services and the app keys every route module reads them from:
config, the WEP client, the camera directory, the sources. Started and stopped through
`cleanup_ctx` by create_app (gateway/app.py)."""

from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator

from aiohttp import web

from gateway.cameras import CameraDirectory
from gateway.config import Config
from gateway.logs import redactor
from gateway.media.sources import SourceRegistry
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


async def core_services(app: web.Application) -> AsyncIterator[None]:
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
