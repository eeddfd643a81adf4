"""JPEG snapshots of the test picture, with ROI crop and resize. CPU work: call it from
an executor, never on the event loop."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from gateway.emulator.params import Roi
from gateway.emulator.test_pattern import render_frame


def render_jpeg(
    camera_index: int,
    frame_index: int,
    frames_per_loop: int,
    full_size: tuple[int, int],
    roi: Roi | None,
    size: tuple[int, int] | None,
) -> bytes:
    """The camera's picture at `frame_index` (at the high quality's size), cropped to
    `roi` (normalized) and scaled to `size` (exactly W x H) when given."""
    width, height = full_size
    return encode_jpeg(render_frame(camera_index, frame_index, frames_per_loop, width, height), roi, size)


def encode_jpeg(rgb: np.ndarray, roi: Roi | None, size: tuple[int, int] | None) -> bytes:
    """An RGB picture as JPEG, cropped to `roi` (normalized) and scaled to `size` when given."""
    height, width = rgb.shape[:2]
    if roi is not None:
        x0, x1 = round(roi.left * width), round(roi.right * width)
        y0, y1 = round(roi.top * height), round(roi.bottom * height)
        rgb = rgb[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)]
    out_h, out_w = rgb.shape[:2]
    if size is not None:
        out_w, out_h = size
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    frame = frame.reformat(width=out_w, height=out_h, format="yuvj420p")
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height = out_w, out_h
    codec.pix_fmt = "yuvj420p"
    codec.time_base = Fraction(1, 25)
    codec.options = {"q:v": "3"}
    packets = list(codec.encode(frame)) + list(codec.encode(None))
    return b"".join(bytes(p) for p in packets)
