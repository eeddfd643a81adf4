"""The emulator's camera picture: a deterministic function of (camera, frame index).

Because the picture is a pure function, the video loop is encoded from it once at
start-up and a JPEG of any instant is rendered again from the same function, so a
snapshot shows exactly what the video shows at that time (what a real camera's
recording would give). Everything is laid out in normalized coordinates so the high
and low qualities show the same scene.
"""

from __future__ import annotations

import colorsys

import numpy as np

# Seven-segment layout: segment -> (x0, y0, x1, y1) in a 4 x 7 unit cell.
_SEGMENTS = {
    "a": (0, 0, 4, 1), "b": (3, 0, 4, 4), "c": (3, 3, 4, 7), "d": (0, 6, 4, 7),
    "e": (0, 3, 1, 7), "f": (0, 0, 1, 4), "g": (0, 3, 4, 4),
}  # fmt: skip
_DIGITS = {
    "0": "abcdef", "1": "bc", "2": "abged", "3": "abgcd", "4": "fgbc",
    "5": "afgcd", "6": "afgedc", "7": "abc", "8": "abcdefg", "9": "abcdfg",
}  # fmt: skip


def camera_color(camera_index: int) -> tuple[int, int, int]:
    """A hue per camera, so cameras are told apart at a glance."""
    r, g, b = colorsys.hsv_to_rgb((camera_index * 0.27) % 1.0, 0.55, 0.55)
    return int(r * 255), int(g * 255), int(b * 255)


def draw_number(img: np.ndarray, text: str, x: int, y: int, unit: int, color) -> None:
    """Seven-segment digits, `unit` pixels per stroke, top-left at (x, y); parts outside
    the picture are clipped."""
    height, width = img.shape[:2]
    for pos, ch in enumerate(text):
        cx = x + pos * 6 * unit
        for seg in _DIGITS[ch]:
            x0, y0, x1, y1 = _SEGMENTS[seg]
            top, bottom = max(0, y + y0 * unit), min(height, y + y1 * unit)
            left, right = max(0, cx + x0 * unit), min(width, cx + x1 * unit)
            if top < bottom and left < right:
                img[top:bottom, left:right] = color


def render_frame(camera_index: int, frame_index: int, frames_per_loop: int, width: int, height: int) -> np.ndarray:
    """RGB picture (height, width, 3) of `camera_index` at `frame_index` of its loop.

    A bar sweeps left to right once per loop, a white box bounces, the camera number
    (1-based) is drawn large, and a progress strip at the bottom grows with the
    frame index, so a still shows which instant of the loop it is.
    """
    phase = (frame_index % frames_per_loop) / frames_per_loop
    base = np.array(camera_color(camera_index), dtype=np.float32)
    shade = np.linspace(0.6, 1.0, height, dtype=np.float32)[:, None, None]
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[:] = (shade * base).astype(np.uint8)

    bar_w = max(2, width // 16)
    bar_x = int(phase * (width - bar_w))
    img[:, bar_x : bar_x + bar_w] = (255, 220, 0)

    box = max(4, height // 6)
    # Two full bounces per loop: a triangle wave keeps the path continuous at the seam.
    tri = 1.0 - abs((2.0 * phase * 2.0) % 2.0 - 1.0)
    box_x = int(tri * (width - box))
    box_y = int((0.5 + 0.3 * np.sin(2 * np.pi * phase)) * (height - box))
    img[box_y : box_y + box, box_x : box_x + box] = (255, 255, 255)

    unit = max(1, height // 40)
    draw_number(img, str(camera_index + 1), unit * 2, unit * 2, unit, (255, 255, 255))

    strip_h = max(2, height // 30)
    img[height - strip_h :, : int(phase * width) + 1] = (0, 255, 0)
    return img
