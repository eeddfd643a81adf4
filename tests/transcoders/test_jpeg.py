"""JPEG crop and resize against real encoders: the emulator's renderer (what WEP returns) and
ffmpeg/ffprobe reading what we write."""

import json
import subprocess

import numpy as np
import pytest

from gateway.emulator.jpeg import render_jpeg
from gateway.emulator.params import Roi as EmulatorRoi
from transcoders.jpeg import JpegError, PixelBox, Roi, crop_jpeg, decode_rgb, encode_rgb, pixel_box

FULL = (640, 360)


def emulator_jpeg(roi=None, size=None, frame=17):
    return render_jpeg(2, frame, 60, FULL, EmulatorRoi(*roi) if roi else None, size)


@pytest.mark.parametrize(
    "roi, size",
    [
        ((0.25, 0.25, 0.75, 0.75), None),
        ((0.1, 0.2, 0.6, 0.9), (160, 120)),
        ((0.5, 0.0, 1.0, 0.5), (640, 360)),  # upscaled 2x
        ((0.0, 0.0, 1.0, 1.0), (64, 36)),  # downscaled 10x
        ((0.333, 0.1, 0.334, 0.9), None),  # one pixel wide
    ],
)
def test_local_crop_matches_the_upstream_crop(roi, size):
    local = decode_rgb(crop_jpeg(emulator_jpeg(), Roi(*roi), size)).astype(np.int16)
    upstream = decode_rgb(emulator_jpeg(roi, size)).astype(np.int16)
    assert local.shape == upstream.shape
    # Two JPEG generations of a picture with hard edges: a few levels of 255 on average.
    assert np.abs(local - upstream).mean() < 4.0


def test_crop_shows_the_region_and_not_another():
    full = emulator_jpeg()
    left = decode_rgb(crop_jpeg(full, Roi(0, 0, 0.5, 1), None)).astype(np.int16)
    right = decode_rgb(emulator_jpeg((0.5, 0, 1, 1))).astype(np.int16)
    assert left.shape == right.shape == (360, 320, 3)
    assert np.abs(left - right).mean() > 10  # the test picture's halves differ: the check has teeth


def test_ffprobe_reads_the_output(tmp_path):
    out = tmp_path / "crop.jpg"
    out.write_bytes(crop_jpeg(emulator_jpeg(), Roi(0.1, 0.1, 0.9, 0.9), (200, 100)))
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(out)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    stream = json.loads(probe.stdout)["streams"][0]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("mjpeg", 200, 100)
    assert stream["pix_fmt"] == "yuvj420p"
    decoded = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(out), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert decoded.returncode == 0 and decoded.stderr == ""


def test_pixel_box_rounds_like_wep_and_is_never_empty():
    assert pixel_box(None, 640, 360) == PixelBox(0, 0, 640, 360)
    assert pixel_box(Roi(0.25, 0.5, 0.75, 1.0), 640, 360) == PixelBox(160, 180, 480, 360)
    assert pixel_box(Roi(0.9999, 0.9999, 1.0, 1.0), 640, 360) == PixelBox(639, 359, 640, 360)
    assert pixel_box(Roi(0.5, 0.5, 0.5001, 0.5001), 640, 360).width == 1


def test_roi_range_is_checked():
    with pytest.raises(ValueError):
        Roi(0.5, 0, 0.5, 1)
    assert Roi(0, 0, 1, 1).is_full and not Roi(0, 0, 1, 0.5).is_full


@pytest.mark.parametrize(
    "bad, message",
    [
        (b"", "not a JPEG: 0 bytes without an SOI marker"),
        (b"GIF89a....", "not a JPEG: 10 bytes without an SOI marker"),
    ],
)
def test_not_a_jpeg(bad, message):
    with pytest.raises(JpegError) as caught:
        crop_jpeg(bad, None, (32, 32))
    assert str(caught.value) == message


def test_truncated_jpeg_is_a_jpeg_error():
    with pytest.raises(JpegError, match=r"^JPEG does not decode"):
        decode_rgb(emulator_jpeg()[:40])


def test_size_bound():
    with pytest.raises(JpegError, match=r"^size 0x10 out of range 1\.\.8192$"):
        crop_jpeg(emulator_jpeg(), None, (0, 10))


def test_quality_trades_bytes():
    rgb = decode_rgb(emulator_jpeg())
    assert len(encode_rgb(rgb, quality=2)) > len(encode_rgb(rgb, quality=20))
