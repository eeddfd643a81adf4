"""The one way into the bus: an event for a camera the gateway lists gets its links and is
published; one for a camera nobody lists is counted and named once in the log, never
delivered (its links would lead nowhere, and no token could be scoped to it)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Literal

from gateway.api.errors import ApiError
from gateway.backends.base import Camera, Capability, UpstreamFailure
from gateway.cameras import CameraDirectory
from gateway.events.bus import EventBus
from gateway.events.model import Event, links
from gateway.events.stats import IntakeStats

log = logging.getLogger("gateway.events")

NO_LINKS = {"snapshot": None, "recording": None}
# Unknown camera ids named in the log; past this many they are only counted.
MAX_UNKNOWN_LOGGED = 256


class EventIntake:
    def __init__(self, bus: EventBus, directory: CameraDirectory, clip_pre_s: float):
        self.bus = bus
        self.stats = IntakeStats()
        self._directory = directory
        self._clip_pre_s = clip_pre_s
        self._unknown_logged: set[str] = set()

    async def accept(self, event: Event) -> bool:
        """Publish `event`; False when it was a duplicate or its camera is unknown."""
        if self.bus.seen(event.id):
            self.bus.stats.duplicates += 1
            return False
        linked = await self.linked(event)
        if linked is None or not self.bus.publish(linked):
            return False
        self.stats.accepted[event.source] += 1
        return True

    async def linked(self, event: Event) -> Event | None:
        """`event` with its links; None when its camera is not listed."""
        if event.camera is None:  # a site event: its own links (an Alta alarm's shared video), or none
            return event if event.links else replace(event, links=NO_LINKS)
        camera = await self._camera(event, event.camera)
        if camera is False:
            return None
        return replace(event, links=self._links(camera, event) if camera is not None else NO_LINKS)

    async def _camera(self, event: Event, camera_id: str) -> Camera | Literal[False] | None:
        """The camera; None when the lists cannot be read now (delivered without links rather
        than lost); False when it is not listed."""
        try:
            return await self._directory.get(camera_id)
        except ApiError:
            self.stats.unknown_camera += 1
            if camera_id not in self._unknown_logged and len(self._unknown_logged) < MAX_UNKNOWN_LOGGED:
                self._unknown_logged.add(camera_id)
                log.warning(
                    "%s event %s for camera %r, which no backend lists: not delivered (logged once per camera)",
                    event.source,
                    event.type,
                    event.camera,
                )
            return False
        except UpstreamFailure as exc:
            log.info(
                "camera list unavailable (%s): %s event delivered without links",
                exc,
                event.type,
                extra={"camera": event.camera},
            )
            return None

    def _links(self, camera: Camera, event: Event) -> dict:
        return links(
            camera.id,
            event.at,
            self._clip_pre_s,
            snapshot=camera.can(Capability.SNAPSHOT_AT),
            recording=camera.can(Capability.RECORDED),
        )
