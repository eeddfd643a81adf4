"""Where snapshots come from: the cache, a local crop of a cached full frame, or the
camera's backend, in that order, with one upstream fetch per distinct request however
many ask at once. A backend that cannot crop (Capability.SNAPSHOT_CROP) gets asked for
the full frame, and the crop is cut here."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from gateway.api.errors import bad_request
from gateway.backends.base import Camera, Capability
from gateway.config import SnapshotsConfig
from gateway.snapshots.cache import CachedImage, ImageCache, image
from gateway.snapshots.flight import SingleFlight
from gateway.snapshots.request import ImageRefRequest, SnapshotRequest
from transcoders.jpeg import JpegError, crop_jpeg

log = logging.getLogger("gateway.snapshots")


class JpegSource(Protocol):
    """What the store needs of the cameras' backends (snapshots/routes.py routes by camera)."""

    async def jpeg(
        self, camera_id: str, *, t: str = "live", roi: str | None = None, size: str | None = None
    ) -> bytes: ...

    async def image_ref(self, camera_id: str, path: str, ref_type: str) -> bytes: ...


@dataclass
class SnapshotStats:
    """Plain counters, bumped on the hot path and read by the metrics collector at scrape time."""

    hits: int = 0  # answered from the cache
    misses: int = 0  # not in the cache: waited for a fetch or a local crop
    coalesced: int = 0  # misses that joined a fetch already under way (single flight)
    upstream_fetches: int = 0  # requests sent to WEP
    upstream_errors: int = 0
    upstream_bytes: int = 0
    local_crops: int = 0  # crops cut here from a cached full frame instead of asking WEP
    local_crop_failures: int = 0  # fell back to WEP
    not_modified: int = 0  # 304 answers
    bytes_served: int = 0  # JPEG bytes in 200 answers
    fast_path_answers: int = 0  # hits answered below aiohttp (fast_path.py), a part of `hits`


class SnapshotStore:
    def __init__(
        self,
        source: JpegSource,
        config: SnapshotsConfig,
        executor: Executor,
        check_camera: Callable[[str], Awaitable[object]],
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ):
        self._source = source
        self._config = config
        self._executor = executor
        # Raises ApiError for an unknown (404) or unreachable camera; may return its Camera,
        # whose capabilities then say what the upstream can do.
        self._check_camera = check_camera
        self._clock = clock
        self._wall_clock = wall_clock
        self.cache = ImageCache(config.cache_bytes, clock)
        self.stats = SnapshotStats()
        self._flights: SingleFlight[CachedImage] = SingleFlight()

    def max_age(self, entry: CachedImage) -> int:
        """Seconds a browser or proxy may reuse `entry` (Cache-Control max-age)."""
        if entry.expires_at is None:
            return self._config.max_age
        return max(0, int(entry.expires_at - self._clock()))

    def cached(self, key: SnapshotRequest | ImageRefRequest) -> CachedImage | None:
        """The fast path: a fresh cached answer, counted as a hit."""
        entry = self.cache.get(key)
        if entry is not None:
            self.stats.hits += 1
        return entry

    async def snapshot(self, request: SnapshotRequest) -> CachedImage:
        entry = self.cached(request)
        if entry is not None:
            return entry
        return await self._miss(request, partial(self._produce_snapshot, request))

    async def image_ref(self, request: ImageRefRequest) -> CachedImage:
        entry = self.cached(request)
        if entry is not None:
            return entry
        return await self._miss(request, partial(self._produce_image_ref, request))

    async def close(self) -> None:
        await self._flights.close()
        self.cache.clear()

    async def _miss(self, key: Hashable, produce: Callable[[], Coroutine[Any, Any, CachedImage]]) -> CachedImage:
        self.stats.misses += 1
        flight, joined = self._flights.join(key, produce)
        self.stats.coalesced += joined  # counted before the wait: a failed flight counts too
        return await asyncio.shield(flight)

    async def _produce_snapshot(self, request: SnapshotRequest) -> CachedImage:
        camera = await self._check_camera(request.camera_id)  # an unknown camera is a 404 before WEP sees it
        if isinstance(camera, Camera):
            if not request.time.is_live and not camera.can(Capability.SNAPSHOT_AT):
                raise bad_request(f"camera {camera.id!r} ({camera.source}) has no recorded pictures: t must be live")
            if not request.is_full_frame and not camera.can(Capability.SNAPSHOT_CROP):
                cropped = await self._crop_here(request)
                self._keep(request, cropped)
                return cropped
        entry = await self._local_crop(request) if not request.is_full_frame else None
        if entry is None:
            body = await self._fetch(self._source.jpeg(request.camera_id, **request.wep_params()))
            entry = image(body, self._expiry(request))
        self._keep(request, entry)
        return entry

    async def _produce_image_ref(self, request: ImageRefRequest) -> CachedImage:
        camera = await self._check_camera(request.camera_id)
        if isinstance(camera, Camera) and not camera.can(Capability.IMAGE_REF):
            raise bad_request(f"camera {camera.id!r} ({camera.source}) has no event pictures")
        body = await self._fetch(self._source.image_ref(request.camera_id, request.path, request.ref_type))
        # An imageRef names a picture stored with an event: it never changes.
        entry = image(body, None)
        self._keep(request, entry)
        return entry

    async def _fetch(self, call: Awaitable[bytes]) -> bytes:
        self.stats.upstream_fetches += 1
        try:
            body = await call
        except Exception:
            self.stats.upstream_errors += 1
            raise  # to every waiter of this flight; nothing is cached
        self.stats.upstream_bytes += len(body)
        return body

    async def _crop_here(self, request: SnapshotRequest) -> CachedImage:
        """roi/size for an upstream that only gives whole pictures: its full frame (cached,
        single-flight like any other) cropped and scaled here."""
        parent_key = request.full_frame()
        parent = self.cache.get(parent_key) or await self._miss(parent_key, partial(self._produce_snapshot, parent_key))
        try:
            return await self._cut(parent, request)
        except JpegError as exc:
            raise bad_request(f"the camera's picture cannot be cropped: {exc}") from None

    async def _cut(self, parent: CachedImage, request: SnapshotRequest) -> CachedImage:
        """`request`'s roi/size cut from `parent` on the JPEG threads; it expires with its frame."""
        loop = asyncio.get_running_loop()
        try:
            body = await loop.run_in_executor(self._executor, crop_jpeg, parent.body, request.roi, request.size)
        except JpegError:
            self.stats.local_crop_failures += 1
            raise
        self.stats.local_crops += 1
        return image(body, parent.expires_at)

    async def _local_crop(self, request: SnapshotRequest) -> CachedImage | None:
        """Cut `request` from the full frame of the same camera and instant, if the gateway has
        it (cached, or being fetched right now), instead of asking WEP.

        Chosen only when that uncropped, unscaled frame is WEP's own rendering of the same
        normalised `t`: it has every pixel WEP would crop from, so the result matches WEP's
        crop within one JPEG generation (transcoders/jpeg.py), costs a few ms of one executor
        thread instead of a round trip plus a decode and encode on the ACC server, and needs
        no upstream fetch. A crop of a frame that was itself cropped or scaled has fewer
        pixels than WEP's, so it is never used as a source. The crop expires with its frame:
        a live crop is never staler than the live frame it came from.
        """
        parent_key = request.full_frame()
        parent = self.cache.get(parent_key)  # a used frame stays: more crops may follow
        if parent is None and (flight := self._flights.pending(parent_key)) is not None:
            try:
                parent = await asyncio.shield(flight)
            except Exception:  # noqa: BLE001  the frame's own waiters get its error; this request asks WEP itself
                return None
        if parent is None:
            return None
        try:
            return await self._cut(parent, request)
        except JpegError as exc:
            log.warning("local crop failed, asking WEP: %s", exc, extra={"camera": request.camera_id})
            return None

    def _expiry(self, request: SnapshotRequest) -> float | None:
        if request.time.settled(self._wall_clock()):
            return None  # a settled past instant: the same picture forever
        return self._clock() + self._config.live_ttl  # live, or too recent to be settled

    def _keep(self, key: Hashable, entry: CachedImage) -> None:
        if entry.expires_at is not None and entry.expires_at <= self._clock():
            return  # live_ttl = 0 (or a crop of a frame that just expired): shared, not kept
        self.cache.put(key, entry)
