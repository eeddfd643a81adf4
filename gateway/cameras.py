"""What the gateway knows about the cameras of every backend: one list, ids unique across
backends, each backend's list cached for `ttl` seconds so viewers don't hammer upstreams.

A backend whose cameras change (an Amcrest camera found unreachable, then back) says so
through `invalidate`; only its own list is fetched again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from gateway.api.errors import ApiError, bad_request, not_found
from gateway.backends.base import Backend, Camera, Capability, UpstreamFailure

log = logging.getLogger("gateway.cameras")

# A backend that failed with no list to fall back on is asked again this soon.
RETRY_FAILED_AFTER = 5.0


@dataclass
class _Listing:
    cameras: list[Camera]
    fetched_at: float
    ttl: float


class CameraDirectory:
    def __init__(self, backends: list[Backend], ttl: float):
        self.backends = backends
        self._ttl = ttl
        self._listings: dict[str, _Listing] = {}
        self._cameras: dict[str, Camera] = {}
        self._owners: dict[str, Backend] = {}
        self._collisions_logged: set[tuple[str, str]] = set()
        self._lock = asyncio.Lock()

    def invalidate(self, backend_name: str) -> None:
        """The backend's cameras changed: list them again on the next lookup."""
        self._listings.pop(backend_name, None)

    async def _current(self) -> dict[str, Camera]:
        """The cameras by id; a backend's list is fetched again once its time has passed."""
        if self._fresh():
            return self._cameras  # the hot path: every viewer request passes here
        async with self._lock:
            if not self._fresh():
                for backend in self.backends:
                    listing = self._listings.get(backend.name)
                    if listing is None or time.monotonic() - listing.fetched_at > listing.ttl:
                        self._listings[backend.name] = await self._list(backend, listing)
                self._merge()
            return self._cameras

    def _fresh(self) -> bool:
        now = time.monotonic()
        return len(self._listings) == len(self.backends) and all(
            now - listing.fetched_at <= listing.ttl for listing in self._listings.values()
        )

    async def _list(self, backend: Backend, previous: _Listing | None) -> _Listing:
        try:
            return _Listing(await backend.cameras(), time.monotonic(), self._ttl)
        except UpstreamFailure as exc:
            if len(self.backends) == 1 and previous is None:
                raise  # nothing else to show: the API answers with the upstream's error
            log.warning("cameras of %s not listed: %s", backend.name, exc)
            kept = previous.cameras if previous is not None else []
            return _Listing(kept, time.monotonic(), min(self._ttl, RETRY_FAILED_AFTER))

    def _merge(self) -> None:
        cameras: dict[str, Camera] = {}
        owners: dict[str, Backend] = {}
        for backend in self.backends:
            for camera in self._listings[backend.name].cameras:
                holder = cameras.get(camera.id)
                if holder is not None:
                    self._log_collision(camera, holder)
                    continue
                cameras[camera.id] = camera
                owners[camera.id] = backend
        self._cameras, self._owners = cameras, owners

    def _log_collision(self, camera: Camera, holder: Camera) -> None:
        key = (camera.source, camera.id)
        if key not in self._collisions_logged:
            self._collisions_logged.add(key)
            log.error(
                "camera id %r of %s is already a %s camera: the %s camera is left out (give it another id)",
                camera.id,
                camera.source,
                holder.source,
                camera.source,
            )

    async def all(self) -> list[Camera]:
        return list((await self._current()).values())

    async def get(self, camera_id: str) -> Camera:
        camera = (await self._current()).get(camera_id)
        if camera is None:
            raise not_found(f"no camera {camera_id!r}")
        return camera

    async def usable(self, camera_id: str, capability: Capability = Capability.VIDEO) -> Camera:
        """The camera, if it is reachable and can do `capability`; a 4xx/503 naming why otherwise."""
        camera = await self.get(camera_id)
        if not camera.available:
            raise ApiError(
                503,
                "camera_unavailable",
                f"camera {camera_id!r} is unavailable: {camera.reason}",
                {"Retry-After": "10"},
            )
        if not camera.can(capability):
            raise ApiError(400, "not_supported", f"camera {camera_id!r} ({camera.source}) has no {capability.value}")
        return camera

    async def quality(self, camera_id: str, quality: str | None) -> tuple[Camera, str]:
        """The camera and a valid quality name (default high); 404/400, or 503 for a camera
        that is known but unreachable."""
        camera = await self.usable(camera_id, Capability.VIDEO)
        quality = quality or "high"
        if quality not in camera.qualities:
            raise bad_request(f"quality must be one of {', '.join(camera.qualities) or '(none)'}, got {quality!r}")
        return camera, quality

    async def backend_for(self, camera_id: str) -> Backend:
        """The camera's backend, listing cameras first if need be (a source started before any
        request, e.g. a push restored at start-up). UpstreamFailure when no backend has it."""
        if camera_id not in (await self._current()):
            raise UpstreamFailure("unknown_camera", f"no backend lists camera {camera_id!r}", 404)
        return self._owners[camera_id]

    def backend_of(self, camera_id: str) -> Backend:
        """The backend of a camera already looked up (an output checked it with `get` first)."""
        backend = self._owners.get(camera_id)
        if backend is None:
            raise not_found(f"no camera {camera_id!r}")
        return backend

    def listed(self) -> list[Camera]:
        """The cameras as last listed, without asking any backend (metrics, at scrape time)."""
        return list(self._cameras.values())

    def known(self, camera_id: str) -> Camera | None:
        return self._cameras.get(camera_id)

    def readiness(self) -> str | None:
        reasons = [reason for backend in self.backends if (reason := backend.readiness()) is not None]
        return "; ".join(reasons) or None
