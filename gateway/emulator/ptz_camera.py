"""The PTZ camera's command side: the head, its presets and home, the lock, and a bounded
log of every accepted command (what tests assert on). Sans-IO: clocks are passed in.

Choices where the guide is silent: presets and home are reached at once (no travel
time); a continuous move runs until STOP, another START, a jump, or the end of range.
The lock is kept per session and shown (GET /camera's lockSessionGid), and locking or
unlocking over another session's lock is a 409; moves are not refused while locked,
because the guide says nothing about it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from gateway.emulator.ptz import HOME, Amounts, Panel, PresetBook, PtzHead, PtzPosition, centred_on, zoomed_to

LOG_SIZE = 1000  # commands kept per PTZ camera; the oldest are dropped


class PtzLocked(Exception):
    """Another session holds the PTZ lock (answered as 409)."""


class PtzCamera:
    def __init__(self, camera_id: str, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time, log_size: int = LOG_SIZE):  # fmt: skip
        self.camera_id = camera_id
        self._clock, self._wall = clock, wall_clock
        self.head = PtzHead(clock())
        self.presets = PresetBook()
        self.home = HOME
        self.lock_holder = ""  # guide, /ptz/lock/override: "If lockSessionGid is empty, the camera is unlocked"
        self._log: deque[dict] = deque(maxlen=log_size)

    def position(self) -> PtzPosition:
        return self.head.position(self._clock())

    def state(self) -> dict:
        now = self._clock()
        return {
            **self.head.position(now).to_json(),
            "moving": self.head.moving(now),
            "amounts": self.head.amounts.to_json(),
            "lockSessionGid": self.lock_holder,
        }

    def log(self) -> list[dict]:
        return list(self._log)

    def _record(self, kind: str, by: str, **params) -> dict:
        entry = {"time": self._wall(), "kind": kind, "sessionGid": by, "params": params, "state": self.state()}
        self._log.append(entry)
        return entry

    # Guide, PUT /camera/commands/pan-tilt-zoom -----------------------------------------
    def start(self, amounts: Amounts, by: str) -> dict:
        self.head.start(amounts, self._clock())
        return self._record("continuous", by, action="START", **amounts.to_json())

    def stop(self, by: str) -> dict:
        self.head.stop(self._clock())
        return self._record("stop", by, action="STOP")

    def point_at(self, panel: Panel, x: float, y: float, by: str) -> dict:
        self.head.move_to(centred_on(self.position(), panel, x, y), self._clock())
        return self._record("fov", by, imagePanelSize=_size(panel), point={"x": x, "y": y})

    def zoom_to(self, panel: Panel, x: float, y: float, width: float, height: float, by: str) -> dict:
        self.head.move_to(zoomed_to(self.position(), panel, x, y, width, height), self._clock())
        return self._record("fov", by, imagePanelSize=_size(panel), ROI={"x": x, "y": y, "width": width,
                                                                          "height": height})  # fmt: skip

    # Guide, PUT /camera/commands/preset and /preset/home -------------------------------
    def go_to_preset(self, preset_id: int, by: str) -> dict:
        preset = self.presets.get(preset_id)
        self.head.move_to(preset.position, self._clock())
        return self._record("preset", by, presetId=preset.id, name=preset.name)

    def go_home(self, by: str) -> dict:
        self.head.move_to(self.home, self._clock())
        return self._record("home", by)

    # Guide, POST/PUT/DELETE /camera/ptz/preset -----------------------------------------
    def save_preset(self, preset_id: int, name: str | None, is_home: bool, by: str) -> dict:
        """Guide: "The current camera position will be set as the preset position"."""
        here = self.position()
        preset = self.presets.save(preset_id, name, here)
        if is_home:
            self.home = here
        return self._record("preset-save", by, presetId=preset.id, name=preset.name, isHome=is_home)

    def delete_preset(self, preset_id: int, by: str) -> dict:
        self.presets.delete(preset_id)
        return self._record("preset-delete", by, presetId=preset_id)

    # Guide, PUT /camera/commands/ptz/lock and /lock/override ---------------------------
    def lock(self, locked: bool, by: str) -> dict:
        if self.lock_holder and self.lock_holder != by:
            raise PtzLocked(
                f"PTZ is locked by another session ({self.lock_holder}); see /camera/commands/ptz/lock/override"
            )
        self.lock_holder = by if locked else ""
        return self._record("lock", by, lock=locked)

    def override_lock(self, by: str) -> dict:
        """Guide: takes ownership "if they are from a higher ranked group"; the emulator
        has one user, who always may."""
        self.lock_holder = by
        return self._record("lock-override", by)


def _size(panel: Panel) -> dict:
    return {"width": panel.width, "height": panel.height}
