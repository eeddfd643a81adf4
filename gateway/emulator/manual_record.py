"""Manual recordings (guide, POST /camera/record/manual and GET /camera/manual-record-state).
Sans-IO: a clock is passed in, nothing here awaits.

A START on a camera that is already recording restarts its clock with the new duration; a
recording ends at STOP or by itself `max_duration_s` after its START. Expiry is read at each
look, so no timer runs and nothing is left behind: the book holds at most one recording per
camera.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gateway.emulator.event_log import iso_ms

MAX_DURATION_S = 86400  # guide: "You can manually record video for up to 24 hours at a time"


@dataclass(frozen=True, slots=True)
class ManualRecording:
    camera_id: str
    start_ms: int
    max_duration_s: int

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.max_duration_s * 1000

    def to_json(self) -> dict:
        """Guide: "The startTime parameter is in UTC time"."""
        return {"cameraId": self.camera_id, "startTime": iso_ms(self.start_ms), "maxDurationSec": self.max_duration_s}


class ManualRecordings:
    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._recording: dict[str, ManualRecording] = {}

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def start(self, camera_ids: Iterable[str], max_duration_s: int = MAX_DURATION_S) -> None:
        if not 1 <= max_duration_s <= MAX_DURATION_S:
            raise ValueError(f"maxDurationSec must be 1..{MAX_DURATION_S}, not {max_duration_s}")
        now_ms = self._now_ms()
        for camera_id in camera_ids:
            self._recording[camera_id] = ManualRecording(camera_id, now_ms, max_duration_s)

    def stop(self, camera_ids: Iterable[str]) -> None:
        """Stopping a camera that is not recording is not an error (as the guide says of
        deleting a deleted bookmark): the wanted state holds."""
        for camera_id in camera_ids:
            self._recording.pop(camera_id, None)

    def get(self, camera_id: str) -> ManualRecording | None:
        """The camera's recording while it runs; None once stopped or past its duration."""
        recording = self._recording.get(camera_id)
        if recording is not None and self._now_ms() >= recording.end_ms:
            del self._recording[camera_id]
            return None
        return recording

    def active(self) -> list[ManualRecording]:
        return [r for r in map(self.get, list(self._recording)) if r is not None]
