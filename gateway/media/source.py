"""A source: one upstream pull of one camera at one quality, published into a hub.

The source owns the upstream connection and nothing else: MPD, fMP4 stream, parse,
rewrite timestamps onto one continuous timeline, publish. On a drop, a 5xx, a stall or an
expired session it reconnects with capped exponential backoff and jitter while every
reader stays attached; the hub tells readers about the discontinuity.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections import Counter

from gateway.config import SourcesConfig
from gateway.media.fmp4 import Fmp4Reader, Fragment, InitSegment, Sample, TrackInfo, write_init_segment
from gateway.media.fmp4.boxes import BoxError
from gateway.media.hub import Hub
from gateway.wep.client import WepClient
from gateway.wep.errors import WepError
from gateway.wep.mpd import MpdError

log = logging.getLogger("gateway.source")

VIDEO_TRACK_ID = 1


class UpstreamEnded(Exception):
    """WEP closed a live stream that should go on forever."""


class Timeline:
    """Maps each connection's decode times onto the hub's continuous timeline.

    A reconnect starts a new upstream clock; the first sample after it is placed right
    after the last one published, so every output keeps monotonic timestamps.
    """

    def __init__(self) -> None:
        self._offset: int | None = None
        self._next_time: float | None = None  # seconds, end of the last published sample
        self._last_upstream: int | None = None

    def new_connection(self) -> None:
        self._offset = None
        self._last_upstream = None

    def place(self, sample: Sample, timescale: int, track_id: int) -> Sample:
        if self._last_upstream is not None and sample.decode_time < self._last_upstream:
            self._offset = None  # upstream clock went backwards: re-anchor, stay monotonic
        if self._offset is None:
            start = sample.decode_time if self._next_time is None else round(self._next_time * timescale)
            self._offset = start - sample.decode_time
        self._last_upstream = sample.decode_time
        decode_time = sample.decode_time + self._offset
        self._next_time = (decode_time + sample.duration) / timescale
        return dataclasses.replace(sample, decode_time=decode_time, track_id=track_id)


@dataclasses.dataclass
class SourceCounters:
    connections: int = 0
    reconnects: Counter = dataclasses.field(default_factory=Counter)  # by cause
    bytes_in: int = 0


def backoff_delay(attempt: int, initial: float, maximum: float) -> float:
    # Full jitter on the upper half: spreads reconnect storms after a WEP restart.
    ceiling = min(maximum, initial * (2**attempt))
    return random.uniform(ceiling / 2, ceiling)


class Source:
    def __init__(self, camera_id: str, quality: str, client: WepClient, config: SourcesConfig, hub: Hub):
        self.camera_id = camera_id
        self.quality = quality
        self.hub = hub
        self.counters = SourceCounters()
        self.connected = False
        self._client = client
        self._config = config
        self._video_timeline = Timeline()
        self._video_track: TrackInfo | None = None
        self._published_any = False

    async def run(self) -> None:
        attempt = 0
        while True:
            cause = await self._pull_once()
            if self.connected:
                attempt = 0  # it was streaming: the first retry comes quickly
            self.connected = False
            if self._published_any:
                self.hub.publish_discontinuity(cause)
            self.counters.reconnects[cause] += 1
            delay = backoff_delay(attempt, self._config.reconnect_initial_delay, self._config.reconnect_max_delay)
            attempt += 1
            log.info("reconnecting in %.1fs (%s)", delay, cause, extra={"camera": self.camera_id})
            await asyncio.sleep(delay)

    async def _pull_once(self) -> str:
        """One upstream connection, until it fails; returns the cause of its end."""
        try:
            presentation = await self._client.mpd(self.camera_id)
            representation = presentation.for_quality(self.quality)
            async with self._client.open_stream(
                self.camera_id, base_url=representation.base_url, read_timeout=self._config.stall_timeout
            ) as stream:
                self.counters.connections += 1
                self._video_timeline.new_connection()
                reader = Fmp4Reader()
                async for chunk in stream.chunks():
                    self.counters.bytes_in += len(chunk)
                    for event in reader.feed(chunk):
                        self._on_event(event)
            raise UpstreamEnded("upstream closed the stream")
        except UpstreamEnded:
            log.warning("upstream ended the stream", extra={"camera": self.camera_id})
            return "ended"
        except WepError as exc:
            cause = "stall" if "timeout" in str(exc).lower() else f"upstream_{exc.status}"
            log.warning("upstream failed: %s", exc, extra={"camera": self.camera_id})
            return cause
        except (BoxError, MpdError, ValueError) as exc:
            log.warning("upstream sent bad media: %s", exc, extra={"camera": self.camera_id})
            return "bad_media"
        except (OSError, asyncio.TimeoutError) as exc:
            log.warning("upstream connection lost: %s", exc.__class__.__name__, extra={"camera": self.camera_id})
            return "connection"

    def _on_event(self, event: InitSegment | Fragment) -> None:
        if isinstance(event, InitSegment):
            video = event.track("video")
            if video is None:
                raise ValueError("upstream init segment has no video track")
            self._video_track = video
            self.hub.publish_init(self.output_init(video))
            return
        if self._video_track is None:
            raise ValueError("fragment before init segment")
        for sample in event.samples:
            if sample.track_id != self._video_track.track_id:
                continue
            placed = self._video_timeline.place(sample, self._video_track.timescale, VIDEO_TRACK_ID)
            self.hub.publish(placed, "video")
            self._published_any = True
            self.connected = True

    @staticmethod
    def output_init(video: TrackInfo) -> InitSegment:
        tracks = (dataclasses.replace(video, track_id=VIDEO_TRACK_ID),)
        return InitSegment(write_init_segment(tracks), tracks)
