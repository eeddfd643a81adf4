"""The emulated PTZ head: where it points, how continuous moves carry it over time, what a
field-of-view command does, and its presets. Sans-IO: every call takes `now` (monotonic
seconds), so tests drive time by hand and the live encoder's thread reads the position at
any instant without locks.

Geometry (the emulator's own; the guide gives no units): the camera looks at a virtual
canvas, normalised to [0, 1] on both axes. Pan and tilt in [-1, 1] place the view's
centre at (0.5 + pan / 4, 0.5 - tilt / 4): positive tilt looks up. Zoom in [1, 4]: at 1
the view spans half the canvas on each axis, at z it spans 1 / (2 z). So at zoom 1 and
pan +-1 the view's edge is the canvas edge, and the view never leaves the canvas.
"""

from __future__ import annotations

from dataclasses import dataclass

PAN_RANGE = (-1.0, 1.0)
TILT_RANGE = (-1.0, 1.0)
ZOOM_RANGE = (1.0, 4.0)
# An amount of 1 moves an axis half its range per second: a full pan takes 2 s.
FULL_SPEED = 0.5
CENTRE_SPAN = 0.25  # canvas distance from the middle to the view centre at pan or tilt 1
MAX_PRESET_ID = 15  # guide POST /camera/ptz/preset: ids from 0 to maxId


class PtzError(ValueError):
    """A PTZ command the head cannot take (answered as 400)."""


def _clamp(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


@dataclass(frozen=True, slots=True)
class PtzPosition:
    pan: float = 0.0
    tilt: float = 0.0
    zoom: float = 1.0

    def clamped(self) -> PtzPosition:
        return PtzPosition(_clamp(self.pan, PAN_RANGE), _clamp(self.tilt, TILT_RANGE), _clamp(self.zoom, ZOOM_RANGE))

    def view(self) -> tuple[float, float, float, float]:
        """The view window on the canvas: left, top, width, height (normalised)."""
        size = 0.5 / self.zoom
        centre_x = 0.5 + self.pan * CENTRE_SPAN
        centre_y = 0.5 - self.tilt * CENTRE_SPAN
        return centre_x - size / 2, centre_y - size / 2, size, size

    def to_json(self) -> dict:
        return {"pan": round(self.pan, 6), "tilt": round(self.tilt, 6), "zoom": round(self.zoom, 6)}


HOME = PtzPosition()


@dataclass(frozen=True, slots=True)
class Amounts:
    """Continuous speeds, each in [-1, 1] (guide: panAmount, tiltAmount, zoomAmount)."""

    pan: float = 0.0
    tilt: float = 0.0
    zoom: float = 0.0

    def __post_init__(self) -> None:
        for name in ("pan", "tilt", "zoom"):
            value = getattr(self, name)
            if not -1.0 <= value <= 1.0:
                raise PtzError(f"{name}Amount must be between -1 and 1, not {value}")

    def to_json(self) -> dict:
        return {"panAmount": self.pan, "tiltAmount": self.tilt, "zoomAmount": self.zoom}


STILL = Amounts()


def _span(bounds: tuple[float, float]) -> float:
    return bounds[1] - bounds[0]


@dataclass(frozen=True, slots=True)
class _Motion:
    origin: PtzPosition
    amounts: Amounts
    since: float  # monotonic

    def at(self, now: float) -> PtzPosition:
        # Each axis is linear until its end of range, so clamping the straight line is exact.
        dt = max(0.0, now - self.since)
        o, a = self.origin, self.amounts
        return PtzPosition(
            o.pan + a.pan * FULL_SPEED * _span(PAN_RANGE) * dt,
            o.tilt + a.tilt * FULL_SPEED * _span(TILT_RANGE) * dt,
            o.zoom + a.zoom * FULL_SPEED * _span(ZOOM_RANGE) * dt,
        ).clamped()


class PtzHead:
    """Position over time. Every command re-bases the motion on the position at `now`; the
    current motion is one immutable object replaced whole, so another thread may read it."""

    def __init__(self, now: float, position: PtzPosition = HOME):
        self._motion = _Motion(position.clamped(), STILL, now)

    def position(self, now: float) -> PtzPosition:
        return self._motion.at(now)

    @property
    def amounts(self) -> Amounts:
        return self._motion.amounts

    def moving(self, now: float) -> bool:
        """Some axis is still changing: commanded and not yet at its end of range."""
        here, a = self.position(now), self._motion.amounts
        axes = ((a.pan, here.pan, PAN_RANGE), (a.tilt, here.tilt, TILT_RANGE), (a.zoom, here.zoom, ZOOM_RANGE))
        return any((v > 0 and p < hi) or (v < 0 and p > lo) for v, p, (lo, hi) in axes)

    def start(self, amounts: Amounts, now: float) -> None:
        """Guide, continuous START: runs "until another START or STOP command is received"
        or "until the end of the camera range is reached"."""
        self._motion = _Motion(self.position(now), amounts, now)

    def stop(self, now: float) -> None:
        self._motion = _Motion(self.position(now), STILL, now)

    def move_to(self, position: PtzPosition, now: float) -> None:
        """Jump there (presets, home, field of view) and stop any continuous move."""
        self._motion = _Motion(position.clamped(), STILL, now)


@dataclass(frozen=True, slots=True)
class Panel:
    """Guide, fieldOfView.imagePanelSize: the client's picture, in any consistent unit."""

    width: float
    height: float

    def __post_init__(self) -> None:
        if not (self.width > 0 and self.height > 0):
            raise PtzError(f"imagePanelSize must have a positive width and height, not {self.width}x{self.height}")

    def contains(self, x: float, y: float) -> bool:
        return 0 <= x <= self.width and 0 <= y <= self.height


def centred_on(here: PtzPosition, panel: Panel, x: float, y: float) -> PtzPosition:
    """Guide, fieldOfView point: "centers the FOV on a specified point within the current
    camera FOV". Pan and tilt move by the point's offset from the centre, in view widths."""
    if not panel.contains(x, y):
        raise PtzError(f"point ({x}, {y}) is outside the imagePanelSize {panel.width}x{panel.height}")
    view = 0.5 / here.zoom
    dx = (x / panel.width - 0.5) * view / CENTRE_SPAN
    dy = (y / panel.height - 0.5) * view / CENTRE_SPAN
    return PtzPosition(here.pan + dx, here.tilt - dy, here.zoom).clamped()


def zoomed_to(here: PtzPosition, panel: Panel, x: float, y: float, width: float, height: float) -> PtzPosition:
    """Guide, fieldOfView ROI: "zooms into a sub-region of the current camera FOV": centre
    on the region, and zoom so that all of it stays in view (up to the zoom limit)."""
    if not (width > 0 and height > 0):
        raise PtzError(f"ROI must have a positive width and height, not {width}x{height}")
    if not (panel.contains(x, y) and panel.contains(x + width, y + height)):
        raise PtzError(
            f"ROI ({x}, {y}, {width}x{height}) is not inside the imagePanelSize {panel.width}x{panel.height}"
        )
    centred = centred_on(here, panel, x + width / 2, y + height / 2)
    factor = min(panel.width / width, panel.height / height)
    return PtzPosition(centred.pan, centred.tilt, here.zoom * factor).clamped()


@dataclass(frozen=True, slots=True)
class Preset:
    id: int
    name: str
    position: PtzPosition

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name}


DEFAULT_PRESETS = (
    Preset(1, "Gate", PtzPosition(-0.6, 0.4, 2.0)),
    Preset(2, "Parking", PtzPosition(0.7, -0.5, 1.5)),
    Preset(3, "Door", PtzPosition(0.2, 0.7, 3.0)),
)


class UnknownPreset(KeyError):
    """No preset with that id (answered as 404)."""


class PresetBook:
    def __init__(self, presets=DEFAULT_PRESETS):
        self._presets = {p.id: p for p in presets}

    def all(self) -> list[Preset]:
        return [self._presets[i] for i in sorted(self._presets)]

    def get(self, preset_id: int) -> Preset:
        try:
            return self._presets[preset_id]
        except KeyError:
            raise UnknownPreset(preset_id) from None

    def save(self, preset_id: int, name: str | None, position: PtzPosition) -> Preset:
        """Guide POST /camera/ptz/preset: an id from 0 to maxId; "If the id is already in
        use, it will be overwritten"."""
        if not 0 <= preset_id <= MAX_PRESET_ID:
            raise PtzError(f"presetId must be between 0 and {MAX_PRESET_ID}, not {preset_id}")
        old = self._presets.get(preset_id)
        name = name or (old.name if old else f"Preset {preset_id}")
        preset = self._presets[preset_id] = Preset(preset_id, name, position)
        return preset

    def delete(self, preset_id: int) -> None:
        self.get(preset_id)
        del self._presets[preset_id]
