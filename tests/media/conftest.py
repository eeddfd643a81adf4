"""fMP4 fixtures made by PyAV (FFmpeg's mp4 muxer), and what PyAV demuxes from them."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import av
import numpy as np
import pytest

WIDTH, HEIGHT, FPS, SECONDS, GOP = 320, 240, 15, 2, 15
FRAGMENTED = "frag_keyframe+empty_moov+default_base_moof"


@dataclass(frozen=True)
class RefPacket:
    """A packet as PyAV's demuxer sees it, in the track's timescale."""

    track_id: int
    dts: int
    pts: int
    duration: int
    keyframe: bool
    data: bytes


@dataclass(frozen=True)
class Fmp4Fixture:
    name: str
    data: bytes = field(repr=False)
    width: int
    height: int
    packets: tuple[RefPacket, ...] = field(repr=False)  # per track in decode order, tracks one after the other

    def track_packets(self, track_id: int) -> list[RefPacket]:
        return [packet for packet in self.packets if packet.track_id == track_id]


def encode_fmp4(movflags: str, audio_codec: str | None = None, seconds: int = SECONDS, bframes: bool = True) -> bytes:
    """A small moving test picture (and a 440 Hz tone) muxed as fragmented MP4."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4", options={"movflags": movflags}) as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.codec_context.gop_size = GOP
        video.options = {"preset": "veryfast", "bf": "2" if bframes else "0", "sc_threshold": "0"}
        audio = None
        if audio_codec:
            audio = container.add_stream(audio_codec, rate=48000)
            audio.layout = "mono"
        for index in range(seconds * FPS):
            picture = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
            picture[:, (index * 7) % WIDTH] = 255
            picture[(index * 5) % HEIGHT, :, 1] = 200
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if audio is not None:
            frame_size = audio.codec_context.frame_size or 960
            for start in range(0, seconds * 48000, frame_size):
                tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(start, start + frame_size) / 48000)
                frame = av.AudioFrame.from_ndarray(tone.astype(np.float32).reshape(1, -1), format="flt", layout="mono")
                frame.sample_rate, frame.pts = 48000, start
                container.mux(audio.encode(frame))
            container.mux(audio.encode(None))
    return buffer.getvalue()


def demux_reference(data: bytes) -> tuple[RefPacket, ...]:
    packets: list[RefPacket] = []
    with av.open(io.BytesIO(data), "r", format="mp4") as container:
        for packet in container.demux():
            if packet.size == 0:
                continue
            packets.append(
                RefPacket(
                    packet.stream.index + 1,  # FFmpeg's mp4 muxer numbers tracks from 1 in stream order
                    packet.dts,
                    packet.pts,
                    packet.duration,
                    packet.is_keyframe,
                    bytes(packet),
                )
            )
    packets.sort(key=lambda packet: (packet.track_id, packet.dts))
    return tuple(packets)


_VARIANTS = {
    "per-gop": (FRAGMENTED, None),
    "per-frame": (FRAGMENTED + "+frag_every_frame", None),
    "aac": (FRAGMENTED, "aac"),
    "opus": (FRAGMENTED, "libopus"),
}


@pytest.fixture(scope="session", params=sorted(_VARIANTS))
def fmp4_fixture(request: pytest.FixtureRequest) -> Fmp4Fixture:
    return _fixture(request.param)


@pytest.fixture(scope="session")
def per_frame_fixture() -> Fmp4Fixture:
    return _fixture("per-frame")


@pytest.fixture(scope="session")
def aac_fixture() -> Fmp4Fixture:
    return _fixture("aac")


_CACHE: dict[str, Fmp4Fixture] = {}


def _fixture(name: str) -> Fmp4Fixture:
    if name not in _CACHE:
        data = encode_fmp4(*_VARIANTS[name])
        _CACHE[name] = Fmp4Fixture(name, data, WIDTH, HEIGHT, demux_reference(data))
    return _CACHE[name]


@pytest.fixture(scope="session")
def pyav_demux():
    """PyAV's demux of some fMP4 bytes, as RefPackets (FFmpeg as the third-party reader)."""
    return demux_reference
