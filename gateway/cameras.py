"""What the gateway knows about the cameras: list, qualities (from the MPD) and speaker
(from spkc), cached for `camera_cache_ttl` seconds so viewers don't hammer WEP."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from gateway.api.errors import bad_request, not_found
from gateway.wep.client import WepClient
from gateway.wep.errors import WepError
from gateway.wep.mpd import MediaPresentation, Representation

log = logging.getLogger("gateway.cameras")


@dataclass(frozen=True)
class CameraInfo:
    id: str
    name: str
    qualities: dict[str, Representation]  # "high"/"low" -> main full-view representation
    speaker: bool
    speaker_codecs: tuple[str, ...]
    audio: bool = False  # the MPD lists the camera's microphone (webm/opus)

    def public(self) -> dict:
        # BaseURLs carry the WEP session: only ids, names and shapes go out.
        return {"id": self.id, "name": self.name, "qualities": list(self.qualities), "speaker": self.speaker,
                "audio": self.audio}


def qualities_of(presentation: MediaPresentation) -> dict[str, Representation]:
    found = {}
    for quality in ("high", "low"):
        try:
            found[quality] = presentation.for_quality(quality)
        except ValueError:
            pass
    return found


class CameraDirectory:
    def __init__(self, client: WepClient, ttl: float):
        self._client = client
        self._ttl = ttl
        self._cameras: dict[str, CameraInfo] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def _describe(self, raw: dict) -> CameraInfo | None:
        camera_id = str(raw.get("id", ""))
        if not camera_id:
            return None
        try:
            presentation, speaker = await asyncio.gather(self._client.mpd(camera_id), self._client.speaker(camera_id))
        except (WepError, ValueError) as exc:
            log.warning("camera left out of the list: %s", exc, extra={"camera": camera_id})
            return None
        return CameraInfo(camera_id, str(raw.get("name") or camera_id), qualities_of(presentation),
                          speaker.enabled, speaker.codecs, audio=bool(presentation.audio))

    async def _current(self) -> dict[str, CameraInfo]:
        """The cameras by id, fetched again once `camera_cache_ttl` has passed."""
        async with self._lock:
            if time.monotonic() - self._fetched_at > self._ttl:
                raw = await self._client.cameras()
                described = await asyncio.gather(*(self._describe(camera) for camera in raw))
                self._cameras = {camera.id: camera for camera in described if camera is not None}
                self._fetched_at = time.monotonic()
            return self._cameras

    async def all(self) -> list[CameraInfo]:
        return list((await self._current()).values())

    async def get(self, camera_id: str) -> CameraInfo:
        # Every viewer request passes here: a lookup, not a new dict of all cameras.
        camera = (await self._current()).get(camera_id)
        if camera is None:
            raise not_found(f"no camera {camera_id!r}")
        return camera

    async def quality(self, camera_id: str, quality: str | None) -> tuple[CameraInfo, str]:
        """The camera and a valid quality name (default high); 404/400 otherwise."""
        camera = await self.get(camera_id)
        quality = quality or "high"
        if quality not in camera.qualities:
            raise bad_request(f"quality must be one of {', '.join(camera.qualities) or '(none)'}, got {quality!r}")
        return camera, quality
