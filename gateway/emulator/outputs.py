"""The cameras' digital outputs: entities (guide, GET /entities and /entity) that
PUT /camera/commands/trigger-digital-output acts on, with a bounded log of every trigger.
Sans-IO: clocks are passed in, and a pulse's end is worked out when the state is read.

Choices where the guide is silent: every camera has OUTPUTS_PER_CAMERA outputs, linked to
it alone; `isToggle` true flips the output and keeps it there, false (or absent) is a
momentary pulse: on, then off PULSE_SECONDS later. An entity shows as {"id", "type":
"DIGITAL_OUTPUT", "name", "cameraId", "linkedCameraIds", "state": "ON"|"OFF"}.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from gateway.emulator.cameras import Camera

OUTPUTS_PER_CAMERA = 2
PULSE_SECONDS = 1.0
LOG_SIZE = 1000  # triggers kept; the oldest are dropped
ENTITY_TYPE = "DIGITAL_OUTPUT"


class UnknownEntity(KeyError):
    """No entity with that id (answered as 404)."""


def output_id(camera_id: str, number: int) -> str:
    """Opaque and stable across runs, like the camera ids."""
    digest = hashlib.sha256(f"wep-emulator-output-{camera_id}-{number}".encode()).digest()
    return "5dOu" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass(eq=False)
class DigitalOutput:
    id: str
    camera_id: str
    name: str
    latched: bool = False
    pulse_ends: float | None = None  # monotonic: a pulse turns the output off then

    def is_on(self, now: float) -> bool:
        if self.pulse_ends is not None and now >= self.pulse_ends:
            self.latched, self.pulse_ends = False, None
        return self.latched

    def to_json(self, now: float) -> dict:
        return {"id": self.id, "type": ENTITY_TYPE, "name": self.name, "cameraId": self.camera_id,
                "linkedCameraIds": [self.camera_id], "state": "ON" if self.is_on(now) else "OFF"}  # fmt: skip


class OutputBank:
    def __init__(self, cameras: dict[str, Camera], clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time, log_size: int = LOG_SIZE):  # fmt: skip
        self._clock, self._wall = clock, wall_clock
        self._outputs = {
            o.id: o
            for camera in cameras.values()
            for o in (DigitalOutput(output_id(camera.id, n), camera.id, f"{camera.name} output {n}")
                      for n in range(1, OUTPUTS_PER_CAMERA + 1))
        }  # fmt: skip
        self._log: deque[dict] = deque(maxlen=log_size)

    def entities(self, camera_id: str | None = None) -> list[dict]:
        now = self._clock()
        return [o.to_json(now) for o in self._outputs.values() if camera_id in (None, o.camera_id)]

    def entity(self, entity_id: str) -> dict:
        return self.get(entity_id).to_json(self._clock())

    def get(self, entity_id: str) -> DigitalOutput:
        try:
            return self._outputs[entity_id]
        except KeyError:
            raise UnknownEntity(entity_id) from None

    def of_camera(self, camera_id: str) -> list[DigitalOutput]:
        return [o for o in self._outputs.values() if o.camera_id == camera_id]

    def trigger(self, outputs: list[DigitalOutput], toggle: bool, by: str) -> list[dict]:
        """Flip each output (toggle), or pulse it; one log entry each, with its new state."""
        now, wall = self._clock(), self._wall()
        entries = []
        for output in outputs:
            if toggle:
                output.latched, output.pulse_ends = not output.is_on(now), None
            else:
                output.latched, output.pulse_ends = True, now + PULSE_SECONDS
            entry = {"time": wall, "entityId": output.id, "cameraId": output.camera_id, "isToggle": toggle,
                     "state": "ON" if output.latched else "OFF", "sessionGid": by}  # fmt: skip
            if not toggle:
                entry["pulseSeconds"] = PULSE_SECONDS
            self._log.append(entry)
            entries.append(entry)
        return entries

    def log(self, camera_id: str | None = None) -> list[dict]:
        return [e for e in self._log if camera_id in (None, e["cameraId"])]
