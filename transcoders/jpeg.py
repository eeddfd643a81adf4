"""JPEG crop and resize: decode once, cut a normalized region, scale, encode. Sans-IO and
CPU-bound: bytes in, bytes out, no asyncio; callers run it in an executor.

The pixel box follows what WEP does with `GET /media?format=jpeg&roi=l,t,r,b` (guide,
/media `roi`: "the normalized region of interest"): each edge is the normalized value
times the frame side, rounded, at least one pixel wide. Cutting the same box from the same
full-resolution frame gives the same pixels as the upstream crop, so a local crop differs
from WEP's own only by one more JPEG generation.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

# mjpeg qscale 2..31, lower is better. 3 is what the emulator renders with and close to
# the ACC server's own snapshots: a second generation at this level loses little.
DEFAULT_QUALITY = 3
MAX_SIDE = 8192  # a frame larger than this is not a camera snapshot: refuse to decode it


class JpegError(ValueError):
    """Bytes that cannot be decoded as a JPEG picture, or a crop that cannot be made."""


@dataclass(frozen=True, slots=True)
class Roi:
    """Normalized region of interest, 0 <= left < right <= 1 and 0 <= top < bottom <= 1."""

    left: float
    top: float
    right: float
    bottom: float

    def __post_init__(self) -> None:
        if not (0.0 <= self.left < self.right <= 1.0 and 0.0 <= self.top < self.bottom <= 1.0):
            raise ValueError(f"roi out of range: {self.left},{self.top},{self.right},{self.bottom}")

    @property
    def is_full(self) -> bool:
        return self.left == 0.0 and self.top == 0.0 and self.right == 1.0 and self.bottom == 1.0


@dataclass(frozen=True, slots=True)
class PixelBox:
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0


def pixel_box(roi: Roi | None, width: int, height: int) -> PixelBox:
    """The pixels `roi` covers in a width x height frame (rounded edges, never empty)."""
    if roi is None:
        return PixelBox(0, 0, width, height)
    x0, x1 = round(roi.left * width), round(roi.right * width)
    y0, y1 = round(roi.top * height), round(roi.bottom * height)
    x0, y0 = min(x0, width - 1), min(y0, height - 1)
    return PixelBox(x0, y0, max(x1, x0 + 1), max(y1, y0 + 1))


def decode_rgb(jpeg: bytes) -> np.ndarray:
    """The picture as an (height, width, 3) uint8 RGB array."""
    if not jpeg.startswith(b"\xff\xd8"):  # ITU T.81 B.1.1.3: SOI opens every JPEG
        raise JpegError(f"not a JPEG: {len(jpeg)} bytes without an SOI marker")
    decoder = av.CodecContext.create("mjpeg", "r")
    try:
        frames = decoder.decode(av.Packet(jpeg)) + decoder.decode(None)
    except av.FFmpegError as exc:
        raise JpegError(f"JPEG does not decode: {exc}") from None
    if not frames:
        raise JpegError(f"JPEG does not decode: {len(jpeg)} bytes gave no picture")
    frame = frames[0]
    if not (0 < frame.width <= MAX_SIDE and 0 < frame.height <= MAX_SIDE):
        raise JpegError(f"JPEG is {frame.width}x{frame.height}, larger than {MAX_SIDE} on a side")
    return frame.to_ndarray(format="rgb24")


def encode_rgb(rgb: np.ndarray, size: tuple[int, int] | None = None, quality: int = DEFAULT_QUALITY) -> bytes:
    """Scale an RGB array to `size` (exactly W x H) when given and encode it as a baseline
    JPEG (4:2:0, full-range YUV as JFIF requires)."""
    height, width = rgb.shape[:2]
    out_w, out_h = size if size is not None else (width, height)
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    # Area averaging when shrinking a lot: bilinear would alias fine detail (text, plates).
    shrink = max(width / out_w, height / out_h)
    interpolation = "AREA" if shrink > 2.0 else "BILINEAR"
    frame = frame.reformat(width=out_w, height=out_h, format="yuvj420p", interpolation=interpolation)
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height = out_w, out_h
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    # A fixed quantiser. `options={"q:v": ...}` is silently ignored by a bare CodecContext
    # (measured: same bytes for 2 and 20); qmin = qmax pins it.
    encoder.qmin = encoder.qmax = quality
    packets = encoder.encode(frame) + encoder.encode(None)
    return b"".join(bytes(packet) for packet in packets)


def crop_jpeg(jpeg: bytes, roi: Roi | None, size: tuple[int, int] | None, quality: int = DEFAULT_QUALITY) -> bytes:
    """Cut `roi` out of a full-frame JPEG and scale it to `size`: one decode, one encode."""
    if size is not None and not (0 < size[0] <= MAX_SIDE and 0 < size[1] <= MAX_SIDE):
        raise JpegError(f"size {size[0]}x{size[1]} out of range 1..{MAX_SIDE}")
    rgb = decode_rgb(jpeg)
    box = pixel_box(roi, rgb.shape[1], rgb.shape[0])
    return encode_rgb(rgb[box.y0 : box.y1, box.x0 : box.x1], size, quality)
