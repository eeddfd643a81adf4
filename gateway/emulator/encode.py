"""Start-up encoding of the emulator's media loops (PyAV, run in a thread).

Everything the emulator serves is encoded here once: an H.264 fMP4 loop per camera and
quality, an opus/webm loop and an AAC loop (for RTMP) per camera with a microphone.
Results are optionally cached on disk under a key of every parameter that shapes the
bytes, so a second start (or the next test session) skips the encode.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from gateway.emulator.test_pattern import render_frame

log = logging.getLogger(__name__)

# Bump when the picture, tone or encoder settings change: invalidates disk caches.
ENCODING_VERSION = 1
VIDEO_TIMESCALE = 90000
OPUS_RATE = 48000
AAC_RATE = 44100


@dataclass(frozen=True, slots=True)
class VideoSpec:
    camera_index: int
    width: int
    height: int
    fps: int
    frames: int
    bitrate: int
    fragment: str  # "frame" | "gop"
    keyframes: tuple[int, ...] = ()  # frame indexes forced to be IDR; () = every second

    def cache_key(self) -> str:
        key = f"v{ENCODING_VERSION}-video-{self.camera_index}-{self.width}x{self.height}-{self.fps}fps-{self.frames}f-{self.bitrate}-{self.fragment}"
        return key + (f"-k{','.join(map(str, self.keyframes))}" if self.keyframes else "")


def _cached(cache_dir: str | None, key: str, make) -> bytes:
    if cache_dir is None:
        return make()
    name = hashlib.sha256(key.encode()).hexdigest()[:24] + ".bin"
    path = Path(cache_dir) / name
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    blob = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(blob)
    tmp.replace(path)  # atomic: concurrent emulators never read half a file
    return blob


def x264_options(fps: int, bitrate: int, preset: str = "veryfast", extra: str = "", keyint: int = 0) -> dict[str, str]:
    """Main profile, no B-frames (live cameras send in decode order), a closed GOP of
    exactly one second so every second starts with an IDR a reader can join at (`keyint`
    frames instead when given: the caller then forces its own IDRs)."""
    keyint = keyint or fps
    return {
        "preset": preset,
        "profile": "main",
        "tune": "zerolatency",
        "x264-params": f"bframes=0:keyint={keyint}:min-keyint={keyint}:scenecut=0"
        f":vbv-maxrate={bitrate // 1000}:vbv-bufsize={bitrate // 1000}:threads=1{extra}",
    }


def encode_video(spec: VideoSpec, cache_dir: str | None = None) -> bytes:
    """A fragmented MP4 (init + moof/mdat) of `spec.frames` frames, H.264 Main, no B-frames."""
    return _cached(cache_dir, spec.cache_key(), lambda: _encode_video(spec))


def _encode_video(spec: VideoSpec) -> bytes:
    # DESIGN "Measured facts": frag_keyframe+empty_moov+default_base_moof, plus
    # frag_every_frame for one moof+mdat per frame; without it, one per GOP.
    movflags = "frag_keyframe+empty_moov+default_base_moof"
    if spec.fragment == "frame":
        movflags += "+frag_every_frame"
    out = io.BytesIO()
    with av.open(out, "w", format="mp4", options={"movflags": movflags}) as container:
        stream = container.add_stream("libx264", rate=spec.fps)
        stream.width, stream.height = spec.width, spec.height
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = spec.bitrate
        stream.time_base = Fraction(1, VIDEO_TIMESCALE)
        # Forced keyframes (settings.gops): x264 makes an IDR of a frame typed I (closed GOPs),
        # and keyint past the loop keeps it from adding any of its own.
        keyint = spec.frames + 1 if spec.keyframes else 0
        stream.codec_context.options = x264_options(spec.fps, spec.bitrate, keyint=keyint)
        step = VIDEO_TIMESCALE // spec.fps
        forced = set(spec.keyframes)
        for i in range(spec.frames):
            rgb = render_frame(spec.camera_index, i, spec.frames, spec.width, spec.height)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            if i in forced:
                frame.pict_type = av.video.frame.PictureType.I
            frame.pts = i * step
            frame.time_base = Fraction(1, VIDEO_TIMESCALE)
            for packet in stream.encode(frame):
                packet.duration = step  # the last sample's duration closes the loop exactly
                container.mux(packet)
        for packet in stream.encode(None):
            packet.duration = step
            container.mux(packet)
    return out.getvalue()


def tone(camera_index: int, seconds: float, rate: int) -> np.ndarray:
    """Mono float32 tone pattern: 0.8 s on, 0.2 s off each second, pitch by camera."""
    freq = 440.0 + 110.0 * camera_index
    t = np.arange(int(seconds * rate), dtype=np.float64) / rate
    gate = (t % 1.0) < 0.8
    return (0.3 * np.sin(2 * np.pi * freq * t) * gate).astype(np.float32)


def _encode_audio(camera_index: int, seconds: float, codec: str, fmt: str, rate: int, options) -> bytes:
    out = io.BytesIO()
    with av.open(out, "w", format=fmt, options=options) as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        assert isinstance(stream, av.AudioStream)  # `codec` is an audio encoder's name
        stream.bit_rate = 64000
        ctx = stream.codec_context
        samples = tone(camera_index, seconds, rate)
        frame_size = ctx.frame_size or 960
        fmt_name = ctx.format.name
        for start in range(0, len(samples) - frame_size + 1, frame_size):
            chunk = samples[start : start + frame_size]
            if fmt_name.endswith("p"):
                frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
            else:
                frame = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def encode_opus_webm(camera_index: int, seconds: float, cache_dir: str | None = None) -> bytes:
    """Live-style webm (unknown sizes, no cues) of the camera's tone, opus 48 kHz mono."""
    key = f"v{ENCODING_VERSION}-opus-{camera_index}-{seconds}"
    # matroska muxer: live=1 writes unknown-size Segment and no Cues (a live stream);
    # short clusters keep pacing fine-grained.
    options = {"live": "1", "cluster_time_limit": "200"}
    return _cached(cache_dir, key, lambda: _encode_audio(camera_index, seconds, "libopus", "webm", OPUS_RATE, options))


def encode_aac_mp4(camera_index: int, seconds: float, cache_dir: str | None = None) -> bytes:
    """AAC-LC of the camera's tone in a plain MP4 (for its AudioSpecificConfig), for RTMP."""
    key = f"v{ENCODING_VERSION}-aac-{camera_index}-{seconds}"
    return _cached(cache_dir, key, lambda: _encode_audio(camera_index, seconds, "aac", "mp4", AAC_RATE, {}))
