"""One Amcrest camera's events: the eventManager attach held open forever, each part
normalised to a `CameraEvent` (DESIGN.md "Events and alarms").

A camera (or an NVR) reports every channel on one stream; only parts whose 0-based `index`
is this camera's channel - 1 are its own. Reconnects follow the project's capped, jittered
backoff (gateway/media/reconnect.py), reset once a connection delivered something, with one
warning line per failure naming the camera and the cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from gateway.backends.amcrest.cgi import AmcrestCgi
from gateway.backends.amcrest.event_parser import EventPart
from gateway.backends.base import CameraEvent, UpstreamFailure
from gateway.media.reconnect import backoff_delay

log = logging.getLogger("gateway.backends.amcrest")

# Dahua's smart (IVS) detections: WEP's analytics topics carry them.
ANALYTICS_CODES = frozenset(
    {
        "CrossLineDetection",
        "CrossRegionDetection",
        "SmartMotionHuman",
        "SmartMotionVehicle",
        "FaceDetection",
        "LeftDetection",
    }
)
STATES = {"Start": "start", "Stop": "stop", "Pulse": "pulse"}


def event_type(code: str, state: str) -> str:
    """WEP's topic name where one exists, else AMCREST_<CODE>."""
    if code == "VideoMotion":
        topic = "DEVICE_MOTION"
    elif code in ANALYTICS_CODES:
        topic = "DEVICE_ANALYTICS"
    else:
        return f"AMCREST_{code.upper()}"
    return f"{topic}_STOP" if state == "stop" else f"{topic}_START"


def camera_event(part: EventPart, camera_id: str, event_id: str, time: str) -> CameraEvent:
    # Doorbells send other actions (Invite, Hangup, State): a moment, not a span.
    state = STATES.get(part.action, "pulse")
    data: dict = {"code": part.code, "action": part.action, "index": part.index}
    if part.data is not None:
        data["details"] = part.data
    return CameraEvent(
        id=event_id,
        camera=camera_id,
        type=event_type(part.code, state),
        state=state,
        time=time,
        source="amcrest",
        data=data,
    )


def utc_now() -> str:
    """ISO 8601 UTC with milliseconds and Z: 2024-03-26T09:56:39.701Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Seconds between attempts with credentials the camera refused.
AUTH_RETRY_DELAY = 60.0


class AmcrestEventStream:
    def __init__(
        self,
        cgi: AmcrestCgi,
        camera_id: str,
        channel: int,
        publish: Callable[[CameraEvent], None],
        *,
        heartbeat: int = 5,
        initial_delay: float = 0.5,
        max_delay: float = 10.0,
        until_available: Callable[[], Awaitable[object]] | None = None,
    ):
        self.camera_id = camera_id
        self.channel = channel  # 1-based
        self._cgi = cgi
        self._publish = publish
        self._heartbeat = heartbeat
        self._initial_delay = initial_delay
        self._max_delay = max_delay
        # The camera's monitor says when it is reachable: a camera that is down (or refuses
        # our password) is reported, and asked, once, by the monitor, not again by this stream.
        self._until_available = until_available
        self.events = 0  # published
        self.ignored = 0  # parts of other channels
        self.reconnects: Counter[str] = Counter()  # by cause
        self.connected = False

    async def run(self) -> None:
        """Attach, publish, reconnect: until cancelled. The same failure again is not logged
        again (a camera that stays down is one line, not one a retry)."""
        attempt = 0
        last_logged = None
        while True:
            if self._until_available is not None:
                await self._until_available()
            failure, delivered = await self._attach_once()
            if delivered:
                attempt = 0  # it was working: the first retry comes quickly
                last_logged = None
            self.reconnects[failure.cause] += 1
            delay = backoff_delay(attempt, self._initial_delay, self._max_delay)
            if failure.cause == "auth":
                # Dahua firmware locks an account after a few failed logins: ask rarely.
                delay = max(delay, AUTH_RETRY_DELAY)
            attempt += 1
            if str(failure) != last_logged:
                log.warning("%s; reconnecting in %.1fs", failure, delay, extra={"camera": self.camera_id})
                last_logged = str(failure)
            else:
                log.debug("%s; reconnecting in %.1fs", failure, delay, extra={"camera": self.camera_id})
            await asyncio.sleep(delay)

    async def _attach_once(self) -> tuple[UpstreamFailure, bool]:
        delivered = False
        try:
            async with self._cgi.attach_events(self._heartbeat) as parts, contextlib.aclosing(parts):
                self.connected = True
                async for part in parts:
                    delivered = True
                    if isinstance(part, EventPart):
                        self._take(part)
        except UpstreamFailure as failure:
            return failure, delivered
        finally:
            self.connected = False
        # attach_events ends only by raising; should that change, it still reads as one line.
        return UpstreamFailure("closed", f"camera {self.camera_id!r} closed its event stream"), delivered

    def _take(self, part: EventPart) -> None:
        if part.index != self.channel - 1:
            self.ignored += 1
            return
        self.events += 1
        self._publish(camera_event(part, self.camera_id, uuid.uuid4().hex, utc_now()))
