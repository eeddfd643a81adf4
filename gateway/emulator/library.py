"""Every camera's encoded media, built once at start-up (in a thread) and then read-only."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from gateway.emulator.cameras import Camera
from gateway.emulator.encode import VideoSpec, encode_aac_mp4, encode_opus_webm, encode_video
from gateway.emulator.fmp4_loop import VideoLoop, split_loop
from gateway.emulator.mpd import VideoRep
from gateway.emulator.settings import EmulatorSettings
from gateway.emulator.webm_loop import WebmLoop, split_webm

QUALITIES = ("high", "low")
TILES = 4


@dataclass(frozen=True, slots=True)
class Rendition:
    quality: str
    loop: VideoLoop
    mp4: bytes  # the encoded loop as a file, for RTMP remuxing
    width: int
    height: int
    codecs: str  # RFC 6381, from the avcC
    bandwidth: int  # measured over the loop, bits/s


@dataclass(frozen=True, slots=True)
class CameraMedia:
    camera: Camera
    video: dict[str, Rendition]
    audio: WebmLoop | None
    aac_mp4: bytes | None


def ctx_for(camera_id: str, kind: str) -> str:
    """Opaque `ctx` naming one representation ("high", "low", "tile0".., "audio")."""
    return hashlib.sha256(f"wep-emulator-ctx:{camera_id}:{kind}".encode()).hexdigest()[:24]


def _codecs(init: bytes) -> str:
    at = init.find(b"avcC")
    if at < 0:
        raise ValueError("init segment has no avcC")
    profile, compat, level = init[at + 5 : at + 8]
    return f"avc1.{profile:02X}{compat:02X}{level:02X}"


def _rendition(settings: EmulatorSettings, camera: Camera, quality: str) -> Rendition:
    width, height = settings.high_size if quality == "high" else settings.low_size
    bitrate = settings.high_bitrate if quality == "high" else settings.low_bitrate
    frames = int(settings.loop_seconds * settings.fps)
    spec = VideoSpec(camera.index, width, height, settings.fps, frames, bitrate, settings.fragment, keyframes(settings))
    mp4 = encode_video(spec, settings.cache_dir)
    loop = split_loop(mp4)
    size = sum(len(f.data) for f in loop.fragments)
    bandwidth = int(size * 8 * loop.timescale / loop.loop_ticks)
    return Rendition(quality, loop, mp4, width, height, _codecs(loop.init), bandwidth)


def keyframes(settings: EmulatorSettings) -> tuple[int, ...]:
    """The frames that start a GOP in one pass of the loop (settings.gops); () for 1 s GOPs."""
    starts, at = [], 0.0
    for gop in settings.gops:
        starts.append(round(at * settings.fps))
        at += gop
    return tuple(starts)


def build_library(settings: EmulatorSettings, cameras: list[Camera]) -> dict[str, CameraMedia]:
    """Encode (or load from the cache) everything; blocking, seconds of CPU."""
    with ThreadPoolExecutor(settings.encode_workers, thread_name_prefix="emu-encode") as pool:
        video = {(c.id, q): pool.submit(_rendition, settings, c, q) for c in cameras for q in QUALITIES}
        audio = {
            c.id: (
                pool.submit(encode_opus_webm, c.index, settings.loop_seconds, settings.cache_dir),
                pool.submit(encode_aac_mp4, c.index, settings.loop_seconds, settings.cache_dir),
            )
            for c in cameras
            if c.has_audio
        }
        library = {}
        for c in cameras:
            opus, aac = audio.get(c.id, (None, None))
            library[c.id] = CameraMedia(
                camera=c,
                video={q: video[(c.id, q)].result() for q in QUALITIES},
                audio=split_webm(opus.result()) if opus else None,
                aac_mp4=aac.result() if aac else None,
            )
    return library


def main_reps(media: CameraMedia) -> list[VideoRep]:
    return [
        VideoRep(str(n + 2), ctx_for(media.camera.id, r.quality), r.width, r.height, r.bandwidth, r.codecs)
        for n, r in enumerate(media.video[q] for q in QUALITIES)
    ]


def tile_reps(media: CameraMedia) -> list[VideoRep]:
    low = media.video["low"]
    return [
        VideoRep(str(n + 4), ctx_for(media.camera.id, f"tile{n}"), low.width, low.height, low.bandwidth, low.codecs)
        for n in range(TILES)
    ]


def ctx_table(library: dict[str, CameraMedia]) -> dict[str, tuple[str, str]]:
    """ctx -> (camera id, quality or "audio"); tiles are served by the low stream."""
    table = {}
    for camera_id, media in library.items():
        for q in QUALITIES:
            table[ctx_for(camera_id, q)] = (camera_id, q)
        for n in range(TILES):
            table[ctx_for(camera_id, f"tile{n}")] = (camera_id, "low")
        if media.audio is not None:
            table[ctx_for(camera_id, "audio")] = (camera_id, "audio")
    return table
