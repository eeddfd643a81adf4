"""The PTZ camera's picture: the part of a numbered grid canvas its head looks at.

A pure function of the head's position (ptz.py geometry), drawn at the output size
directly, so it stays sharp at every zoom and costs a few milliseconds: a JPEG is
rendered at request time and a live frame per tick, both off the event loop. The
picture does not change with time, so two snapshots with the head still are identical.
"""

from __future__ import annotations

import colorsys
from itertools import pairwise

import numpy as np

from gateway.emulator.jpeg import encode_jpeg
from gateway.emulator.params import Roi
from gateway.emulator.ptz import PtzPosition
from gateway.emulator.test_pattern import draw_number

GRID = 8  # cells per canvas side, numbered 1..64 row by row
LINE = 0.003  # grid line half-width, in canvas units (at least one pixel)
GRID_COLOR = (20, 20, 20)
TEXT_COLOR = (255, 255, 255)
CROSSHAIR_COLOR = (255, 60, 60)


def _palette() -> np.ndarray:
    cells = np.empty((GRID, GRID, 3), dtype=np.uint8)
    for row in range(GRID):
        for col in range(GRID):
            hue = ((row * GRID + col) * 0.618034) % 1.0  # golden ratio: neighbours differ
            value = 0.5 + 0.2 * ((row + col) % 2)
            cells[row, col] = [int(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.6, value)]
    return cells


PALETTE = _palette()


def _runs(cells: np.ndarray) -> list[tuple[int, int, int]]:
    """(cell, first pixel, end pixel) for each run of pixels in the same grid cell."""
    edges = [0, *(np.flatnonzero(np.diff(cells)) + 1).tolist(), len(cells)]
    return [(int(cells[a]), a, b) for a, b in pairwise(edges)]


def _lines(coords: np.ndarray, per_canvas: int, half_width: float) -> np.ndarray:
    """Pixel indexes (canvas coordinates along one axis) on one of `per_canvas` lines."""
    scaled = coords * per_canvas
    return np.flatnonzero(np.abs(scaled - np.round(scaled)) / per_canvas < half_width)


def render_view(position: PtzPosition, width: int, height: int) -> np.ndarray:
    """RGB (height, width, 3) of what the head at `position` sees."""
    left, top, view_w, view_h = position.view()
    u = left + (np.arange(width) + 0.5) * (view_w / width)  # canvas x of each column
    v = top + (np.arange(height) + 0.5) * (view_h / height)
    cols = np.clip((u * GRID).astype(np.int64), 0, GRID - 1)
    rows = np.clip((v * GRID).astype(np.int64), 0, GRID - 1)
    img = np.empty((height, width, 3), dtype=np.uint8)
    for row, y0, y1 in _runs(rows):
        for col, x0, x1 in _runs(cols):
            img[y0:y1, x0:x1] = PALETTE[row, col]
    # Fine lines (quarter cells) show small moves even when one cell fills the view.
    pixel_w, pixel_h = view_w / width, view_h / height
    fine_x, fine_y = _lines(u, GRID * 4, max(LINE / 3, pixel_w / 2)), _lines(v, GRID * 4, max(LINE / 3, pixel_h / 2))
    img[:, fine_x] //= 2
    img[fine_y, :] //= 2
    img[:, _lines(u, GRID, max(LINE, pixel_w))] = GRID_COLOR
    img[_lines(v, GRID, max(LINE, pixel_h)), :] = GRID_COLOR

    cell_w, cell_h = width / (GRID * view_w), height / (GRID * view_h)  # pixels per cell
    unit = max(1, int(cell_h / 20))
    for row in range(int(rows[0]), int(rows[-1]) + 1):
        for col in range(int(cols[0]), int(cols[-1]) + 1):
            x = int((col / GRID - left) * width / view_w + 2 * unit + cell_w * 0.05)
            y = int((row / GRID - top) * height / view_h + 2 * unit + cell_h * 0.05)
            draw_number(img, str(row * GRID + col + 1), x, y, unit, TEXT_COLOR)

    arm, thick = max(3, height // 24), max(1, height // 180)
    cx, cy = width // 2, height // 2
    img[cy - thick : cy + thick + 1, cx - arm : cx + arm + 1] = CROSSHAIR_COLOR
    img[cy - arm : cy + arm + 1, cx - thick : cx + thick + 1] = CROSSHAIR_COLOR
    return img


def view_jpeg(position: PtzPosition, full_size: tuple[int, int], roi: Roi | None,
              size: tuple[int, int] | None) -> bytes:  # fmt: skip
    """The view at the high quality's size as JPEG, with the /media `roi` and `size`."""
    return encode_jpeg(render_view(position, *full_size), roi, size)
