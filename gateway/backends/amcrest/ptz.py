"""A continuous PTZ vector as Dahua's `ptz.cgi` command (amcrest-cgi-facts.md, PTZ). Sans-IO.

Dahua moves in one of eight directions or zooms, at a speed of 1-8 (arg2; a diagonal takes
the vertical speed in arg1 and the horizontal one in arg2). A vector is read as: zoom when
zoom outweighs the pan and tilt, else the direction of (pan, tilt), diagonal when the
smaller part is at least half the larger.
"""

from __future__ import annotations

from gateway.backends.base import PtzVector

MAX_SPEED = 8
# Dahua takes numbered presets "from 1 to 16 or more depending on the camera" (amcrest-api.txt);
# it has no documented call listing their names.
PRESETS = range(1, 17)


def speed(amount: float) -> int:
    return max(1, min(MAX_SPEED, round(abs(amount) * MAX_SPEED)))


def ptz_command(vector: PtzVector) -> tuple[str, int, int]:
    """(code, arg1, arg2) of the `start` that makes this move; the vector must not be still."""
    pan, tilt, zoom = vector.pan, vector.tilt, vector.zoom
    if abs(zoom) > max(abs(pan), abs(tilt)):
        return ("ZoomTele" if zoom > 0 else "ZoomWide"), 0, speed(zoom)
    horizontal = "Right" if pan > 0 else "Left"
    vertical = "Up" if tilt > 0 else "Down"
    larger, smaller = max(abs(pan), abs(tilt)), min(abs(pan), abs(tilt))
    if smaller >= larger / 2:
        return f"{horizontal}{vertical}", speed(tilt), speed(pan)
    if abs(pan) >= abs(tilt):
        return horizontal, 0, speed(pan)
    return vertical, 0, speed(tilt)
