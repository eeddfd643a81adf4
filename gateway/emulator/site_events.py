"""The emulated site's events: every event goes into the log and out to the webhooks whose
topics match; alarm actions and the demo motion ticker are event sources."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence

from gateway.api.query import is_ascii_digits
from gateway.emulator.alarms import Alarm, AlarmBook
from gateway.emulator.cameras import SITE_ID, Camera
from gateway.emulator.event_log import EventLog
from gateway.emulator.settings import EmulatorSettings
from gateway.emulator.webhooks import WebhookRegistry

EVENT_TYPE = re.compile(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*")
SYSTEM_USER = "system"  # alarms raised by the emulator itself, not through PUT /alarm
MOTION_LENGTH = 2.0  # seconds between the ticker's MOTION_START and MOTION_STOP


class SiteEvents:
    def __init__(self, settings: EmulatorSettings, cameras: dict[str, Camera]):
        self.cameras = cameras
        self.log = EventLog(settings.event_log_size)
        self.webhooks = WebhookRegistry(SITE_ID, settings.webhook_queue_size, settings.webhook_verify_tls)
        self.alarms = AlarmBook()
        self._motion_every = settings.motion_every
        self._ticker: asyncio.Task | None = None

    def start(self) -> None:
        # Guide, ACTIVE sample: a recording camera has an active DEVICE_RECORDING_STARTED.
        for camera_id in self.cameras:
            self.emit("DEVICE_RECORDING_STARTED", camera_id)
        if self._motion_every > 0:
            self._ticker = asyncio.get_running_loop().create_task(self._tick_motion(), name="emulator-motion")

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.wait([self._ticker])
            self._ticker = None
        await self.webhooks.close()

    def emit(self, kind: str, camera_id: str | None = None, **fields) -> dict:
        event = self.log.append(kind, camera_id, **fields)
        self.webhooks.publish(event)
        return event

    def camera_id(self, camera: str | int) -> str:
        """A camera id, given the id or its 1-based index; KeyError when there is none."""
        if isinstance(camera, str) and is_ascii_digits(camera) and len(camera) <= 9:
            camera = int(camera)
        if isinstance(camera, int) and not isinstance(camera, bool):
            by_index = [c.id for c in self.cameras.values() if c.index == camera - 1]
            if by_index:
                return by_index[0]
        elif camera in self.cameras:
            return camera
        raise KeyError(f"no camera {camera!r}")

    def inject(self, camera: str | int, kind: str, **fields) -> dict:
        if not EVENT_TYPE.fullmatch(kind):
            raise ValueError(f"type must be an UPPER_SNAKE topic like DEVICE_MOTION_START, not {kind!r}")
        try:
            json.dumps(fields)  # checked here: a delivery task cannot send what JSON cannot carry
        except (TypeError, ValueError):
            raise ValueError("event fields must be JSON values") from None
        return self.emit(kind, self.camera_id(camera), **fields)

    def trigger_alarm(self, name: str, cameras: Sequence[str | int] = (), priority: int = 1) -> Alarm:
        camera_ids = [self.camera_id(c) for c in cameras]
        alarm, change = self.alarms.trigger(name, camera_ids, SYSTEM_USER, priority)
        self._alarm_event(alarm, change.action, None, None)
        return alarm

    def act_on_alarm(self, alarm_id: str, action: str, user: str, note: str | None) -> Alarm:
        """PUT /alarm; ValueError for an unknown action, alarms.UnknownAlarm for an id."""
        change = self.alarms.act(alarm_id, action, user, note)
        alarm = self.alarms.get(alarm_id)
        self._alarm_event(alarm, change.action, user, note)
        return alarm

    def _alarm_event(self, alarm: Alarm, action: str, user: str | None, note: str | None) -> None:
        fields: dict[str, str | None] = {"alarmId": alarm.id, "alarmName": alarm.name}
        if user is not None:
            fields.update(userName=user, note=note)
        self.emit(f"ALARM_{action}", alarm.camera_ids[0] if alarm.camera_ids else None, **fields)

    async def _tick_motion(self) -> None:
        """Demo: camera 1 sees motion for a moment every `motion_every` seconds."""
        length = min(MOTION_LENGTH, self._motion_every / 2)
        while True:
            await asyncio.sleep(self._motion_every - length)
            self.inject(1, "DEVICE_MOTION_START")
            await asyncio.sleep(length)
            self.inject(1, "DEVICE_MOTION_STOP")
