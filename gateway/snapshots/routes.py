"""`GET /api/v1/cameras/{camera}/snapshot.jpg` and `.../image-ref`: JPEGs from the cameras'
backends, cached.

A handler parses the query (sans-IO, 400 naming the parameter before anything reaches
the upstream), asks the store, and shapes the answer: ETag, Cache-Control, 304 on
If-None-Match.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from urllib.parse import parse_qsl

from aiohttp import web

from gateway.api.errors import bad_request
from gateway.backends.base import Capability
from gateway.cameras import CameraDirectory
from gateway.services import CAMERAS, CONFIG
from gateway.snapshots.cache import CachedImage
from gateway.snapshots.request import (
    ParameterError,
    SnapshotRequest,
    none_match,
    parse_image_ref,
    parse_snapshot,
)
from gateway.snapshots.store import SnapshotStore

SNAPSHOTS = web.AppKey("snapshots", SnapshotStore)
# JPEG decode, crop and encode run here, never on the loop. Two threads: the machine's
# cores; more would only queue inside FFmpeg and slow the loop's own thread.
JPEG_THREADS = 2


@lru_cache(maxsize=4096)
def _snapshot_wanted(camera_id: str, raw_query: str) -> SnapshotRequest:
    # Dashboards repeat the very same URL: parsing it once saves ~7 us of a ~65 us cache hit
    # (bench/bench_snapshots.py). Pure function of the URL; errors are not remembered.
    return parse_snapshot(camera_id, parse_qsl(raw_query, keep_blank_values=True))


async def snapshot_jpg(request: web.Request) -> web.Response:
    store = request.app[SNAPSHOTS]
    try:
        wanted = _snapshot_wanted(request.match_info["camera"], request.rel_url.raw_query_string)
    except ParameterError as exc:
        raise bad_request(str(exc)) from None
    entry = store.cached(wanted)  # the hit path stays synchronous: no coroutine per hit
    return _answer(request, store, entry if entry is not None else await store.snapshot(wanted))


async def image_ref(request: web.Request) -> web.Response:
    store = request.app[SNAPSHOTS]
    try:
        wanted = parse_image_ref(request.match_info["camera"], request.query.items())
    except ParameterError as exc:
        raise bad_request(str(exc)) from None
    return _answer(request, store, await store.image_ref(wanted))


def _answer(request: web.Request, store: SnapshotStore, entry: CachedImage) -> web.Response:
    # RFC 9111 5.2.2.1 max-age; RFC 8246: `immutable` spares browsers revalidating a past instant.
    # With viewer tokens on, a shared cache must not hand the picture to a tokenless client.
    scope = "private" if request.app[CONFIG].auth.viewer_auth else "public"
    cache_control = f"{scope}, max-age={store.max_age(entry)}" + (", immutable" if entry.immutable else "")
    headers = {"ETag": entry.etag, "Cache-Control": cache_control}
    if none_match(request.headers.get("If-None-Match"), entry.etag):
        store.stats.not_modified += 1
        return web.Response(status=304, headers=headers)  # RFC 9110 15.4.5: same ETag and Cache-Control
    store.stats.bytes_served += len(entry.body)
    return web.Response(body=entry.body, content_type="image/jpeg", headers=headers)


class BackendJpegs:
    """The store's JPEG source: each camera's own backend."""

    def __init__(self, cameras: CameraDirectory):
        self._cameras = cameras

    async def jpeg(self, camera_id: str, *, t: str = "live", roi: str | None = None, size: str | None = None) -> bytes:
        return await self._cameras.backend_of(camera_id).snapshot(camera_id, t=t, roi=roi, size=size)

    async def image_ref(self, camera_id: str, path: str, ref_type: str) -> bytes:
        return await self._cameras.backend_of(camera_id).image_ref(camera_id, path, ref_type)


async def _snapshot_store(app: web.Application) -> AsyncIterator[None]:
    executor = ThreadPoolExecutor(JPEG_THREADS, thread_name_prefix="jpeg")
    cameras = app[CAMERAS]

    async def check_camera(camera_id: str):
        return await cameras.usable(camera_id, Capability.SNAPSHOT)

    app[SNAPSHOTS] = SnapshotStore(BackendJpegs(cameras), app[CONFIG].snapshots, executor, check_camera)
    try:
        yield
    finally:
        await app[SNAPSHOTS].close()
        executor.shutdown(wait=False, cancel_futures=True)


def add_routes(app: web.Application) -> None:
    """Register the routes; the store starts after the backends (a later cleanup_ctx)."""
    app.cleanup_ctx.append(_snapshot_store)
    app.router.add_get("/api/v1/cameras/{camera}/snapshot.jpg", snapshot_jpg)
    app.router.add_get("/api/v1/cameras/{camera}/image-ref", image_ref)
