"""The gateway's core services and the app keys every route module reads them from:
config, the backends (camera systems), the camera directory, the sources. Started and
stopped through `cleanup_ctx` by create_app (gateway/app.py).

Shutdown runs in this order (`wep-gateway serve`, gateway/cli.py): `stop_sources` on
shutdown, so every hub reader (/live, HLS, WebRTC, pushes) ends at once and its response
with its last chunk, beside the outputs' own on_shutdown hooks (SSE, WebRTC and talk
sessions); then aiohttp's grace for requests in flight; then the cleanup contexts in
reverse, outputs first and this one last: the WEP webhook is deleted by the event
layer's, the WEP session logged out here."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.backends.base import Backend
from gateway.backends.wep import WepBackend
from gateway.cameras import CameraDirectory
from gateway.cluster.node import ClusterNode
from gateway.cluster.ownership import CameraOwnership
from gateway.config import Config
from gateway.logs import redactor
from gateway.media.sources import SourceRegistry
from gateway.wep.client import WepClient

log = logging.getLogger("gateway.app")

CONFIG = web.AppKey("config", Config)
WEP = web.AppKey("wep", WepClient)  # the WEP client, when [wep] url is set (WEP-only admin work, tests)
CAMERAS = web.AppKey("cameras", CameraDirectory)
SOURCES = web.AppKey("sources", SourceRegistry)
FATAL = web.AppKey("fatal", asyncio.Future)
# Set only in a cluster ([cluster] redis_url): this node, and who pulls each camera.
CLUSTER = web.AppKey("cluster", ClusterNode)
OWNERSHIP = web.AppKey("ownership", CameraOwnership)


def _build_backends(app: web.Application) -> list[Backend]:
    config = app[CONFIG]
    backends: list[Backend] = []

    def refused() -> None:
        if not app[FATAL].done():
            app[FATAL].set_result(2)

    if config.wep.url:
        client = WepClient(config.wep, on_session=redactor.add)
        app[WEP] = client
        backends.append(WepBackend(client, config.talkdown.cap_ms, refused))
    if config.amcrest:
        from gateway.backends.amcrest import AmcrestBackend  # RTSP and CGI code, only when configured

        backends.append(
            AmcrestBackend(
                config.amcrest, config.sources, on_change=lambda: app[CAMERAS].invalidate(AmcrestBackend.name)
            )
        )
    return backends


async def stop_sources(app: web.Application) -> None:
    """on_shutdown: end every stream fed by a source now, not after the shutdown grace."""
    if SOURCES in app:
        await app[SOURCES].close()


async def core_services(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    for secret in (
        config.wep.password,
        config.wep.user_key,
        config.auth.admin_key,
        config.auth.token_secret,
        *(camera.password for camera in config.amcrest),
        config.cluster.secret,
        config.cluster.redis_url,
    ):
        redactor.add(secret)
    backends = _build_backends(app)
    app[CAMERAS] = CameraDirectory(backends, config.wep.camera_cache_ttl)
    node = None
    if config.cluster.redis_url:
        node = app[CLUSTER] = ClusterNode(config.cluster, config.server.listen)
        ownership = app[OWNERSHIP] = CameraOwnership(node, config.cluster.secret)
        node.camera_leases = ownership.owned
        app[SOURCES] = SourceRegistry(app[CAMERAS], config.sources, ownership.open_video, ownership.forget)
        await node.start()
    else:
        app[SOURCES] = SourceRegistry(app[CAMERAS], config.sources)
    started: list[Backend] = []
    try:
        for backend in backends:
            await backend.start()
            started.append(backend)
        yield
    finally:
        await app[SOURCES].close()
        if node is not None:
            await app[OWNERSHIP].close()
            await node.close()
        for backend in reversed(started):
            await backend.close()
