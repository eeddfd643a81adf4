"""A real H.264 clip (libx264 through PyAV's fMP4 muxer) read back by the gateway's own reader."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest

from gateway.media.fmp4 import Fmp4Reader, Fragment, InitSegment, Sample

FIXTURES = Path(__file__).parent / "fixtures"
WIDTH, HEIGHT, FPS, GOP = 160, 96, 15, 15


@dataclass(frozen=True)
class Clip:
    init: InitSegment
    samples: tuple[Sample, ...]  # video, decode order


def encode_clip(seconds: int, profile: str = "main") -> Clip:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4", options={"movflags": "frag_keyframe+empty_moov+default_base_moof"}) as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.codec_context.gop_size = GOP
        stream.options = {"preset": "ultrafast", "profile": profile, "bf": "0", "sc_threshold": "0"}
        for index in range(seconds * FPS):
            picture = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
            picture[:, (index * 5) % WIDTH] = 255
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    events = Fmp4Reader().feed(buffer.getvalue())
    init = next(event for event in events if isinstance(event, InitSegment))
    samples = tuple(sample for event in events if isinstance(event, Fragment) for sample in event.samples)
    return Clip(init, samples)


@pytest.fixture(scope="session")
def clip() -> Clip:
    return encode_clip(3)


@pytest.fixture
def chromium_offer() -> str:
    # Debian Chromium's recvonly video+audio offer (mDNS host candidates).
    return (FIXTURES / "chromium_offer.sdp").read_text()


@pytest.fixture
def aiortc_offer() -> str:
    return (FIXTURES / "aiortc_offer.sdp").read_text()
