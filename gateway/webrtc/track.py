"""The passthrough video track: hub frames out as H.264 RTP payloads, as they are.

Each hub sample (AVCC) becomes the RTP payloads of its access unit (SPS/PPS in band
before every IDR, FU-A/STAP-A as RFC 6184 5.7-5.8 say: gateway/media/rtp_h264.py),
cut once per frame for all viewers, with its `pts` in the 90 kHz RTP clock (RFC 6184
5.1). Nothing is decoded or encoded. The viewer's VideoRtpSender (video_sender.py)
pulls them with `next_unit()` and sends them.

Each viewer is a hub reader with the hub's bounded queue: a viewer whose send path is
slow loses whole GOPs there (the hub's overflow policy), never the others' frames.
Nothing after that queue hides a per-viewer delay as /live's TCP send queue did
(gateway/live/pacer.py): a UDP socket fills only when the host's own link does (then
datagrams.py drops what has no room), never because one viewer's path is slow; a slow
path loses packets on the way, which the viewer answers with NACK or PLI.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from dataclasses import dataclass

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from gateway.media.fmp4 import InitSegment
from gateway.media.h264 import AvcConfig, H264Error, access_unit_nals, parse_avcc
from gateway.media.hub import Discontinuity, Frame, HubClosed, HubItem, HubReader
from gateway.media.rtp_h264 import PacketizeError, packetize
from gateway.webrtc.stats import WebrtcCounters

log = logging.getLogger("gateway.webrtc")

RTP_VIDEO_CLOCK = 90_000  # RFC 6184 5.1: H.264 RTP timestamps use a 90 kHz clock


class NotH264Error(ValueError):
    """The camera's video track is not H.264 (AVC), so it cannot be passed through."""


def avc_config(init: InitSegment) -> tuple[AvcConfig, int]:
    """The avcC record and timescale of an init segment's video track."""
    video = init.track("video")
    if video is None:
        raise NotH264Error("the stream has no video track")
    if not video.codec.lower().startswith(("avc1", "avc3")):
        raise NotH264Error(f"the camera sends {video.codec}, not H.264")
    try:
        return parse_avcc(video.codec_config), video.timescale
    except H264Error as exc:
        raise NotH264Error(f"the camera's avcC record is unusable: {exc}") from None


@dataclass(frozen=True)
class Packetized:
    """One access unit's RTP payloads, shared by every viewer of the hub."""

    payloads: tuple[bytes, ...]
    size: int  # payload bytes


@dataclass(frozen=True)
class RtpUnit:
    """What a viewer sends next: the shared payloads with this viewer's timestamp."""

    packetized: Packetized
    pts: int  # 90 kHz, on this viewer's RtpClock
    published_at: float  # the frame's arrival at the hub (time.monotonic)


class AccessUnits:
    """RTP payloads of one hub's frames, cut once and shared by its viewers.

    Every reader of a hub receives the same `Frame` objects, so the conversion is keyed
    by identity; the entry holds the frame, so its id cannot be reused while cached.
    `capacity` covers viewers a few hundred frames apart; a miss only costs a conversion.
    """

    def __init__(self, capacity: int = 256) -> None:
        self._capacity = capacity
        self._units: OrderedDict[int, tuple[Frame, Packetized]] = OrderedDict()
        self.conversions = 0

    def get(self, frame: Frame, config: AvcConfig) -> Packetized:
        entry = self._units.get(id(frame))
        if entry is not None and entry[0] is frame:
            return entry[1]
        nals = access_unit_nals(frame.sample.data, config, frame.sample.is_keyframe)
        payloads = tuple(packetize(nals))
        unit = Packetized(payloads, sum(map(len, payloads)))
        self.conversions += 1
        self._units[id(frame)] = (frame, unit)
        if len(self._units) > self._capacity:
            self._units.popitem(last=False)
        return unit


class RtpClock:
    """Sample times to RTP timestamps (90 kHz for video), re-anchored after an upstream gap.

    The source keeps its timeline continuous across reconnects (the next sample follows
    the last one), but the viewer saw a pause of wall time: the timestamps jump by that
    pause so the receiver's jitter buffer sees a gap, not a burst of late frames.
    """

    def __init__(self, timescale: int, clock_rate: int = RTP_VIDEO_CLOCK) -> None:
        self.timescale = timescale
        self.clock_rate = clock_rate
        self._offset = 0
        self._last: tuple[int, float] | None = None  # (rtp pts, published_at)
        self._rebase = False

    def gap(self) -> None:
        self._rebase = True

    def pts(self, frame: Frame) -> int:
        sample = frame.sample
        raw = (sample.decode_time + sample.composition_offset) * self.clock_rate // self.timescale
        if self._last is not None:
            last_pts, last_at = self._last
            if self._rebase or raw + self._offset < last_pts - 10 * self.clock_rate:
                elapsed = max(1, round((frame.published_at - last_at) * self.clock_rate))
                self._offset = last_pts + elapsed - raw
        self._rebase = False
        pts = raw + self._offset
        self._last = (pts, frame.published_at)
        return pts


async def next_hub_item(track: MediaStreamTrack, reader: HubReader) -> HubItem:
    """The track's next item from its hub reader; once the hub closes, the track ends and
    MediaStreamError tells aiortc so."""
    try:
        return await reader.get()
    except HubClosed:
        track.stop()
        raise MediaStreamError from None


class HubVideoTrack(MediaStreamTrack):
    """One viewer's video: a hub reader turned into RTP payloads for its VideoRtpSender.

    Keyframe requests (PLI/FIR, RFC 4585 6.3.1, RFC 5104 3.5.1): the source cannot be
    asked for an IDR and nothing here encodes, so a request is counted and answered by
    waiting for the camera's next keyframe (one GOP at most). Resending the GOP from the
    last keyframe would burst old pictures at a viewer that is already losing packets,
    and the sender already answers NACKs from its RTP history.
    """

    kind = "video"

    def __init__(self, reader: HubReader, init: InitSegment, units: AccessUnits, counters: WebrtcCounters):
        super().__init__()
        self._reader = reader
        self._units = units
        self._counters = counters
        self._config, timescale = avc_config(init)
        self._clock = RtpClock(timescale)
        self._backlog: deque[HubItem] | None = None  # filled on the first recv()
        self._need_keyframe = True
        self.frames_sent = 0
        self.keyframe_requests = 0

    def keyframe_requested(self) -> None:
        """Called for each PLI/FIR from the viewer; see the class docstring for why we wait."""
        self.keyframe_requests += 1
        self._counters.keyframe_requests += 1

    async def next_unit(self) -> RtpUnit:
        """The next access unit to send, starting at a keyframe; MediaStreamError once ended."""
        if self.readyState != "live":
            raise MediaStreamError
        if self._backlog is None:
            self._backlog = self._latest_gop()
        while True:
            item = self._backlog.popleft() if self._backlog else await next_hub_item(self, self._reader)
            unit = self._unit_for(item)
            if unit is not None:
                return unit

    async def recv(self):
        # aiortc's own RTP loop would packetize per viewer; VideoRtpSender replaces it.
        raise RuntimeError("HubVideoTrack is sent by gateway.webrtc.video_sender.VideoRtpSender")

    def _latest_gop(self) -> deque[HubItem]:
        """What the reader queued before the connection was up, from its newest keyframe.

        The hub primed the reader with the current GOP; if ICE and DTLS took long enough
        for a newer keyframe to arrive, older frames are not worth a burst.
        """
        items: list[HubItem] = []
        while (item := self._reader.get_nowait()) is not None:
            items.append(item)
        start = 0
        for index, item in enumerate(items):
            if isinstance(item, Frame) and item.is_keyframe:
                start = index
        kept = [item for index, item in enumerate(items) if index >= start or not isinstance(item, Frame)]
        self._counters.frames_skipped += len(items) - len(kept)
        return deque(kept)

    def _unit_for(self, item: HubItem) -> RtpUnit | None:
        if isinstance(item, InitSegment):
            self._config, timescale = avc_config(item)
            if timescale != self._clock.timescale:
                self._clock = RtpClock(timescale)
            self._need_keyframe = True
            return None
        if isinstance(item, Discontinuity):
            # A reconnected upstream restarts its reference chain: resume on an IDR.
            self._need_keyframe = True
            self._clock.gap()
            return None
        if item.kind != "video":
            return None
        if self._need_keyframe:
            if not item.is_keyframe:
                self._counters.frames_skipped += 1
                return None
            self._need_keyframe = False
        try:
            packetized = self._units.get(item, self._config)
        except (H264Error, PacketizeError) as exc:
            log.warning("skipped a malformed H.264 sample: %s", exc)
            self._need_keyframe = True
            return None
        self.frames_sent += 1
        self._counters.frames_sent += 1
        self._counters.bytes_sent += packetized.size
        return RtpUnit(packetized, self._clock.pts(item), item.published_at)

    def stop(self) -> None:
        self._reader.close()
        super().stop()
