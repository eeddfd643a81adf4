"""The camera's audio for a recording: the recorded audio from the same `t` as the video
(WEP: `GET /media?format=webm&t=...`, opus), transcoded to AAC-LC as live audio is
(transcoders/aac.py, in an executor: never on the loop), handed to the recording.

One pull per upstream video connection of the recording, started and stopped with it:
a video reconnect asks again from where the video resumes. Placing the AAC frames on the
recording's timeline is the recording's work (gateway/hls/recorded.py); this module only
pulls and transcodes. Audio that fails is logged and given up: the recording goes on with
video, as live video goes on when the camera's audio does not come.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from gateway.backends.base import AudioFrame, AudioTrack, Backend, UpstreamFailure
from gateway.media.audio import AAC_CODEC, AUDIO_TRACK_ID
from gateway.media.fmp4 import TrackInfo
from gateway.media.webm import WebmError
from transcoders.aac import AacFrame, OpusToAac, UnsupportedOpus

log = logging.getLogger("gateway.hls")


def aac_track(transcoder: OpusToAac) -> TrackInfo:
    """The AAC track a recording's init segment lists, as live hubs list it."""
    return TrackInfo(
        AUDIO_TRACK_ID,
        "audio",
        AAC_CODEC,
        transcoder.sample_rate,
        sample_rate=transcoder.sample_rate,
        channels=transcoder.channels,
        codec_config=transcoder.audio_specific_config,
    )


class RecordedAudio:
    """One recorded audio connection. `track_ready` is set once the AAC track is known
    (or the pull gave up: then `track` stays None); `deliver` gets AAC frames in order,
    their pts in samples on the upstream's own audio clock."""

    def __init__(self, camera_id: str, deliver: Callable[[AacFrame], None]):
        self.camera_id = camera_id
        self.track: TrackInfo | None = None
        self.track_ready = asyncio.Event()
        self.frames = 0
        self._deliver = deliver

    async def run(self, backend: Backend, t: str, stall_timeout: float) -> None:
        try:
            async with backend.open_audio(self.camera_id, stall_timeout, t=t) as feed:
                transcoder: OpusToAac | None = None
                async for batch in feed.batches():
                    packets: list[AudioFrame] = []
                    for event in batch:
                        if isinstance(event, AudioTrack):
                            transcoder = self._transcoder(event, transcoder)
                        elif transcoder is not None:
                            packets.append(event)
                    if packets and transcoder is not None:
                        await self._transcode(transcoder, packets)
        except UpstreamFailure as exc:
            log.warning("recorded audio failed: %s", exc, extra={"camera": self.camera_id})
        except (WebmError, UnsupportedOpus) as exc:
            log.warning("recorded audio unreadable: %s", exc, extra={"camera": self.camera_id})
        except (TimeoutError, OSError) as exc:
            log.warning("recorded audio lost: %s", exc.__class__.__name__, extra={"camera": self.camera_id})
        finally:
            self.track_ready.set()  # nobody waits on audio that is not coming

    def _transcoder(self, track: AudioTrack, running: OpusToAac | None) -> OpusToAac | None:
        if track.codec != "opus":
            # WEP's audio is webm/opus (its MPD); anything else is not carried on this path.
            log.warning(
                "recorded audio is %s, not opus: recording video only", track.codec, extra={"camera": self.camera_id}
            )
            return None
        if running is not None:
            return running
        transcoder = OpusToAac(track.config, min(track.channels, 2))
        self.track = aac_track(transcoder)
        self.track_ready.set()
        return transcoder

    async def _transcode(self, transcoder: OpusToAac, packets: list[AudioFrame]) -> None:
        loop = asyncio.get_running_loop()
        frames = await loop.run_in_executor(
            None, lambda: [out for packet in packets for out in transcoder.feed(packet)]
        )
        for frame in frames:
            self.frames += 1
            self._deliver(frame)
