"""Muxers on demand: created by the first HLS request for (camera, quality), closed
`idle_close_after` seconds after the last one (mediamtx's muxer `closeAfter`). Closing the
muxer closes its hub reader, which starts the source's own idle timer."""

from __future__ import annotations

import asyncio
import logging
import time

from gateway.config import HlsConfig
from gateway.hls.muxer import HlsMuxer
from gateway.media.sources import SourceRegistry

log = logging.getLogger("gateway.hls")


class HlsMuxers:
    def __init__(
        self, sources: SourceRegistry, config: HlsConfig, idle_close_after: float, *, hub_queue_frames: int = 1024
    ):
        self._sources = sources
        self._config = config
        self._idle = idle_close_after
        self._hub_queue_frames = hub_queue_frames
        self._muxers: dict[tuple[str, str], HlsMuxer] = {}
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}

    def find(self, camera_id: str, quality: str) -> HlsMuxer | None:
        """The running muxer, if any: the hot path, no camera lookup."""
        muxer = self._muxers.get((camera_id, quality))
        if muxer is None or muxer.closed:
            return None
        muxer.touch()
        return muxer

    def open(self, camera_id: str, quality: str) -> HlsMuxer:
        """The muxer of a camera and quality the caller has already validated."""
        muxer = self.find(camera_id, quality)
        if muxer is not None:
            return muxer
        key = (camera_id, quality)
        muxer = HlsMuxer(camera_id, quality, self._config)
        # The muxer has a deep queue of its own: it never waits on anything but the loop.
        reader = self._sources.subscribe(camera_id, quality, queue_frames=self._hub_queue_frames)
        muxer.start(reader)
        self._muxers[key] = muxer
        self._arm(key, self._idle)
        log.info("hls muxer started (%s)", quality, extra={"camera": camera_id})
        return muxer

    def running(self) -> list[HlsMuxer]:
        return [muxer for muxer in self._muxers.values() if not muxer.closed]

    def _arm(self, key: tuple[str, str], delay: float) -> None:
        self._timers[key] = asyncio.get_running_loop().call_later(max(delay, 0.05), self._check_idle, key)

    def _check_idle(self, key: tuple[str, str]) -> None:
        # One timer per muxer, re-armed lazily: requests only store a timestamp.
        muxer = self._muxers.get(key)
        if muxer is None:
            self._timers.pop(key, None)
            return
        idle_for = time.monotonic() - muxer.last_request
        if muxer.waiting and not muxer.closed:
            self._arm(key, self._idle)
            return
        if idle_for < self._idle and not muxer.closed:
            self._arm(key, self._idle - idle_for)
            return
        del self._muxers[key]
        self._timers.pop(key, None)
        muxer.close()
        log.info("hls muxer closed after %.0fs idle", self._idle, extra={"camera": key[0]})

    async def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        muxers = list(self._muxers.values())
        self._muxers.clear()
        for muxer in muxers:
            muxer.close()
        await asyncio.sleep(0)
