"""Every channel's encoded media, built once at start-up (in a thread) and then read-only."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from gateway.emulator.amcrest.audio_loops import AudioTrack, audio_track
from gateway.emulator.amcrest.settings import AmcrestSettings
from gateway.emulator.amcrest.video_loops import VideoParams, VideoTrack, h264_track, h265_track

SUBTYPES = (0, 1)  # 0: main stream (high size), 1: sub stream (low size)
ENCODE_WORKERS = 2


@dataclass(frozen=True, slots=True)
class ChannelMedia:
    channel: int  # 1-based
    video: dict[int, VideoTrack]  # by subtype
    audio: AudioTrack | None


def _video(settings: AmcrestSettings, channel: int, subtype: int) -> VideoTrack:
    width, height = settings.high_size if subtype == 0 else settings.low_size
    bitrate = settings.high_bitrate if subtype == 0 else settings.low_bitrate
    frames = int(settings.loop_seconds * settings.fps)
    params = VideoParams(channel - 1, width, height, settings.fps, frames, bitrate)
    if channel in settings.h265_channels:
        return h265_track(params, settings.cache_dir)
    return h264_track(params, settings.cache_dir)


def build_media(settings: AmcrestSettings) -> dict[int, ChannelMedia]:
    """Encode (or load from the cache) every channel; blocking, seconds of CPU."""
    channels = range(1, settings.channels + 1)
    with ThreadPoolExecutor(ENCODE_WORKERS, thread_name_prefix="amcrest-encode") as pool:
        video = {(c, s): pool.submit(_video, settings, c, s) for c in channels for s in SUBTYPES}
        audio = {c: pool.submit(audio_track, settings.audio, c - 1, settings.loop_seconds) for c in channels}
        return {c: ChannelMedia(c, {s: video[(c, s)].result() for s in SUBTYPES}, audio[c].result()) for c in channels}
