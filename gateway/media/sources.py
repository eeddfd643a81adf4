"""Sources on demand: one per (camera, quality), started by the first reader and closed
`idle_close_after` seconds after the last one leaves (mediamtx's muxer `closeAfter`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.backends.base import Capability
from gateway.config import SourcesConfig
from gateway.media.audio import CameraAudio
from gateway.media.hub import Hub, HubClosed, HubReader
from gateway.media.source import Source, VideoOpener, open_direct

if TYPE_CHECKING:
    from gateway.cameras import CameraDirectory

log = logging.getLogger("gateway.source")

QUALITIES = ("high", "low")


@dataclass
class _Running:
    source: Source
    task: asyncio.Task
    idle_timer: asyncio.TimerHandle | None = None


class SourceRegistry:
    def __init__(
        self,
        cameras: CameraDirectory,
        config: SourcesConfig,
        open_video: VideoOpener = open_direct,
        on_closed: Callable[[str, str], None] | None = None,
    ):
        self._cameras = cameras
        self._config = config
        # In a cluster: the owner's feed or the backend's, and the lease given up on close.
        self._open_video = open_video
        self._on_closed = on_closed
        self._running: dict[tuple[str, str], _Running] = {}
        self._audio: dict[str, tuple[CameraAudio, asyncio.Task]] = {}
        self._closed = False  # shutting down: no source starts again

    def running(self) -> list[Source]:
        return [entry.source for entry in self._running.values()]

    def hub(self, camera_id: str, quality: str) -> Hub:
        """The hub of (camera, quality), starting its source if it is not running; HubClosed
        once the registry is closed (shutdown)."""
        if self._closed:
            raise HubClosed(f"{camera_id}/{quality}")
        key = (camera_id, quality)
        entry = self._running.get(key)
        if entry is None:
            hub = Hub(
                f"{camera_id}/{quality}",
                queue_frames=self._config.reader_queue_frames,
                max_gop_bytes=self._config.max_gop_bytes,
            )
            source = Source(
                camera_id,
                quality,
                self._cameras.backend_for,
                self._config,
                hub,
                self._camera_audio,
                self._open_video,
                self._audio_left,
            )
            task = asyncio.get_running_loop().create_task(source.run(), name=f"source {camera_id}/{quality}")
            entry = _Running(source, task)
            self._running[key] = entry
            hub.add_reader_listener(lambda count: self._readers_changed(key, count))
            log.info("source started (%s)", quality, extra={"camera": camera_id})
            # Nobody may subscribe after all (a failed request): the idle timer still runs.
            self._readers_changed(key, 0)
        return entry.source.hub

    def _camera_audio(self, camera_id: str) -> CameraAudio | None:
        """The camera's one audio pull, shared by its qualities (transcoded once); None when
        the camera has no microphone."""
        if camera_id not in self._audio:
            camera = self._cameras.known(camera_id)
            if camera is None or not camera.can(Capability.AUDIO):
                return None
            audio = CameraAudio(camera_id, self._cameras.backend_of(camera_id), self._config)
            task = asyncio.get_running_loop().create_task(audio.run(), name=f"audio {camera_id}")
            self._audio[camera_id] = (audio, task)
        return self._audio[camera_id][0]

    def camera_audio(self, camera_id: str) -> CameraAudio | None:
        """The camera's running audio pull, once a source of it has joined one (else None)."""
        entry = self._audio.get(camera_id)
        return entry[0] if entry is not None else None

    def audio_pulls(self) -> list[CameraAudio]:
        return [audio for audio, _ in self._audio.values()]

    def subscribe(self, camera_id: str, quality: str, **kwargs) -> HubReader:
        return self.hub(camera_id, quality).subscribe(**kwargs)

    def _readers_changed(self, key: tuple[str, str], count: int) -> None:
        entry = self._running.get(key)
        if entry is None:
            return
        if entry.idle_timer is not None:
            entry.idle_timer.cancel()
            entry.idle_timer = None
        if count == 0:
            loop = asyncio.get_running_loop()
            entry.idle_timer = loop.call_later(self._config.idle_close_after, self._close_idle, key)

    def _close_idle(self, key: tuple[str, str]) -> None:
        entry = self._running.get(key)
        if entry is None or entry.source.hub.reader_count:
            return
        del self._running[key]
        entry.task.cancel()
        entry.source.hub.close()
        audio = entry.source.audio
        if audio is not None:
            audio.detach(entry.source.hub)
        self._audio_left(entry.source)
        if self._on_closed is not None:
            self._on_closed(*key)
        log.info("source closed after %.0fs idle", self._config.idle_close_after, extra={"camera": key[0]})

    def _audio_left(self, source: Source) -> None:
        """A source stopped using its camera's audio pull: the pull ends with its last user."""
        entry = self._audio.get(source.camera_id)
        if entry is not None and not entry[0].attached:
            del self._audio[source.camera_id]
            entry[1].cancel()

    async def close(self) -> None:
        """Stop every source: their readers end (HubClosed) and nothing starts again."""
        self._closed = True
        entries = list(self._running.values())
        self._running.clear()
        for entry in entries:
            if entry.idle_timer is not None:
                entry.idle_timer.cancel()
            entry.task.cancel()
            entry.source.hub.close()
        audio_tasks = [task for _, task in self._audio.values()]
        self._audio.clear()
        for task in audio_tasks:
            task.cancel()
        await asyncio.gather(*(entry.task for entry in entries), *audio_tasks, return_exceptions=True)
