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


@dataclass
class CodecSpy:
    """What the process did with video codecs while the spy was installed."""

    h264_decoders: int = 0
    h264_encodes: int = 0  # frames that went through libx264
    h264_packs: int = 0  # pre-encoded access units packetized by aiortc (per viewer; the gateway does it once)
    vp8_coders: int = 0
    codec_contexts: list = None  # av.CodecContext.create() calls made by aiortc's H.264 codec


@pytest.fixture
def codec_spy(monkeypatch) -> CodecSpy:
    """Counts every video decode/encode entry point aiortc has, in this process."""
    from aiortc.codecs import h264, vpx

    spy = CodecSpy(codec_contexts=[])
    decoder_init, encode_frame, pack = h264.H264Decoder.__init__, h264.H264Encoder._encode_frame, h264.H264Encoder.pack

    def counting_decoder_init(self):
        spy.h264_decoders += 1
        decoder_init(self)

    def counting_encode(self, frame, force_keyframe):
        spy.h264_encodes += 1
        return encode_frame(self, frame, force_keyframe)

    def counting_pack(self, packet):
        spy.h264_packs += 1
        return pack(self, packet)

    def counting_vp8(original):
        def init(self, *args, **kwargs):
            spy.vp8_coders += 1
            original(self, *args, **kwargs)

        return init

    class AvProxy:
        # aiortc's H.264 codec reaches FFmpeg through `av.CodecContext.create`; av's types are
        # C types that cannot be patched, so the module's `av` name is swapped instead.
        def __getattr__(self, name):
            return getattr(av, name)

        class CodecContext:
            @staticmethod
            def create(name, mode=None):
                spy.codec_contexts.append((name, mode))
                return av.CodecContext.create(name, mode)

    monkeypatch.setattr(h264.H264Decoder, "__init__", counting_decoder_init)
    monkeypatch.setattr(h264.H264Encoder, "_encode_frame", counting_encode)
    monkeypatch.setattr(h264.H264Encoder, "pack", counting_pack)
    monkeypatch.setattr(vpx.Vp8Decoder, "__init__", counting_vp8(vpx.Vp8Decoder.__init__))
    monkeypatch.setattr(vpx.Vp8Encoder, "__init__", counting_vp8(vpx.Vp8Encoder.__init__))
    monkeypatch.setattr(h264, "av", AvProxy())
    return spy


@dataclass
class AudioCodecSpy:
    """What the gateway's code did with audio codecs while the spy was installed."""

    contexts: list  # (codec name, mode) of every av.CodecContext.create() by gateway/aiortc code
    transcoders: int = 0  # OpusToAac instances (the HLS/RTMP AAC path: one opus decoder each)
    opus_coders: int = 0  # aiortc OpusDecoder/OpusEncoder constructed
    opus_packs: int = 0  # opus packets handed to RTP as-is (gateway.webrtc.opus_track.OpusPassthrough)

    def opus_contexts(self) -> int:
        return sum(1 for name, _ in self.contexts if "opus" in name)


# Modules whose PyAV use the audio spy sees: the gateway (not its emulator, which stands in
# for the camera), its transcoders and aiortc.
_SPIED_PREFIXES = ("gateway.", "transcoders.", "aiortc.")


@pytest.fixture
def audio_codec_spy(monkeypatch) -> AudioCodecSpy:
    """Counts every audio codec the gateway's code constructs in this process, by name.

    av's types are C types that cannot be patched, so each loaded module's `av` (or
    `CodecContext`) name is swapped for a recording proxy. The test's own PyAV calls are
    made from the test module and are not counted.
    """
    import sys

    from aiortc.codecs import opus

    from gateway.webrtc import opus_track
    from transcoders import aac

    spy = AudioCodecSpy(contexts=[])

    class RecordingCodecContext:
        @staticmethod
        def create(name, mode=None):
            spy.contexts.append((name if isinstance(name, str) else name.name, mode))
            return av.CodecContext.create(name, mode)

    class AvProxy:
        CodecContext = RecordingCodecContext

        def __getattr__(self, name):
            return getattr(av, name)

    proxy = AvProxy()
    for name, module in list(sys.modules.items()):
        if not name.startswith(_SPIED_PREFIXES) or name.startswith("gateway.emulator") or module is None:
            continue
        if getattr(module, "av", None) is av:
            monkeypatch.setattr(module, "av", proxy)
        if getattr(module, "CodecContext", None) is av.CodecContext:
            monkeypatch.setattr(module, "CodecContext", RecordingCodecContext)

    def counting(original, field_name):
        def wrapper(self, *args, **kwargs):
            setattr(spy, field_name, getattr(spy, field_name) + 1)
            return original(self, *args, **kwargs)

        return wrapper

    monkeypatch.setattr(aac.OpusToAac, "__init__", counting(aac.OpusToAac.__init__, "transcoders"))
    monkeypatch.setattr(opus.OpusDecoder, "__init__", counting(opus.OpusDecoder.__init__, "opus_coders"))
    monkeypatch.setattr(opus.OpusEncoder, "__init__", counting(opus.OpusEncoder.__init__, "opus_coders"))
    monkeypatch.setattr(opus_track.OpusPassthrough, "pack", counting(opus_track.OpusPassthrough.pack, "opus_packs"))
    return spy
