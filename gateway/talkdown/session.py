"""Talk sessions: who is talking to which camera speaker, one talker per camera.

A `TalkSession` is one talker (a browser microphone or an uploaded file) holding one
camera's speaker: it owns the `SpeakerUplink` that carries its G.711 to the camera system. `TalkSessions`
hands out the speakers (a second talker gets `CameraBusy`, naming the holder's start
time), ends sessions exactly once whatever ends them (DELETE, idle microphone, failed
connection, WEP refusing, file played, shutdown) and logs each with camera, start,
duration and bytes.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Awaitable, Callable

from gateway.config import TalkdownConfig
from gateway.talkdown.stats import TalkCounters
from gateway.talkdown.upstream import SpeakerUplink, UplinkFailed

if TYPE_CHECKING:
    from gateway.cameras import CameraDirectory

log = logging.getLogger("gateway.talkdown")

# How long an ending session waits for WEP to answer its last POST.
CLOSE_TIMEOUT = 5.0


class CameraBusy(Exception):
    """The camera's speaker is held by another talker (HTTP 409)."""

    def __init__(self, holder: TalkSession):
        super().__init__(f"camera {holder.camera_id!r} speaker is in use by another talker "
                         f"({holder.source}) since {holder.started_iso}")
        self.holder = holder


@dataclass(eq=False)
class TalkSession:
    id: str
    camera_id: str
    source: str  # "microphone" or "file"
    uplink: SpeakerUplink
    started_at: float = field(default_factory=time.time)
    started_mono: float = field(default_factory=time.monotonic)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    end_reason: str | None = None
    # Called first when the session ends: stop producing audio (close the peer connection).
    stop_source: Callable[[], Awaitable[None]] | None = None

    @property
    def started_iso(self) -> str:
        return datetime.fromtimestamp(self.started_at, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")

    @property
    def bytes_sent(self) -> int:
        return self.uplink.bytes_sent

    @property
    def seconds_sent(self) -> float:
        return self.uplink.bytes_sent / 8000  # PCMU: 8000 one-byte samples per second


class TalkSessions:
    def __init__(self, cameras: CameraDirectory, settings: TalkdownConfig, counters: TalkCounters | None = None):
        self._cameras = cameras  # each camera's speaker, through its backend
        self.settings = settings
        self.counters = counters or TalkCounters()
        self._by_camera: dict[str, TalkSession] = {}
        self._by_id: dict[str, TalkSession] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, session_id: str) -> TalkSession | None:
        return self._by_id.get(session_id)

    def holder(self, camera_id: str) -> TalkSession | None:
        return self._by_camera.get(camera_id)

    def check_free(self, camera_id: str) -> None:
        holder = self._by_camera.get(camera_id)
        if holder is not None:
            self.counters.refused_busy += 1
            raise CameraBusy(holder)

    def reserve(self, camera_id: str, source: str) -> TalkSession:
        """Take the camera's speaker for a new talker; CameraBusy if someone holds it."""
        self.check_free(camera_id)
        session: TalkSession

        def failed(error: UplinkFailed) -> None:
            asyncio.get_running_loop().create_task(self.end(session, str(error)), name="talk end")

        sink = self._cameras.backend_of(camera_id).speaker(camera_id)
        uplink = SpeakerUplink(sink, camera_id, self.settings, self.counters, on_failed=failed)
        session = TalkSession(secrets.token_urlsafe(16), camera_id, source, uplink)
        self._by_camera[camera_id] = session
        self._by_id[session.id] = session
        self.counters.sessions_started += 1
        log.info("talk session started (%s)", source, extra={"camera": camera_id})
        return session

    async def end(self, session: TalkSession, reason: str) -> None:
        """End a session once: stop its source, flush its audio to WEP, free the camera, log."""
        if session.end_reason is not None:
            await session.ended.wait()
            return
        session.end_reason = reason
        try:
            if session.stop_source is not None:
                await session.stop_source()
            await session.uplink.close(CLOSE_TIMEOUT)
        finally:
            self._by_id.pop(session.id, None)
            if self._by_camera.get(session.camera_id) is session:
                del self._by_camera[session.camera_id]
            self.counters.sessions_ended += 1
            session.ended.set()
            log.info("talk session ended: %s; camera %s, %s, started %s, %.1f s talked over %.1f s, %d bytes, "
                     "%d POSTs", reason, session.camera_id, session.source, session.started_iso,
                     session.seconds_sent, time.monotonic() - session.started_mono, session.bytes_sent,
                     session.uplink.posts, extra={"camera": session.camera_id})

    async def close_all(self) -> None:
        await asyncio.gather(*(self.end(session, "gateway shutting down") for session in list(self._by_id.values())),
                             return_exceptions=True)
