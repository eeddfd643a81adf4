"""The passthrough audio track: the camera's opus packets out as they came, for aiortc.

aiortc's RTCRtpSender awaits `track.recv()`; given an `av.Packet` instead of a frame, it
skips the encoder and calls `OpusEncoder.pack()`, which sends the packet's bytes as one
RTP payload (RFC 7587 4.2: one opus packet per RTP packet) at its `pts` converted to the
48 kHz RTP clock (RFC 7587 4.1). Nothing is decoded or encoded, and no encoder is even
made: aiortc would build an `OpusEncoder` (a libopus encoder and a resampler) for every
sender just to call its `pack()`, so `use_passthrough()` gives the sender `OpusPassthrough`.

Each viewer reads the camera's opus hub through its own small queue: audio more than
`OPUS_QUEUE_PACKETS` late is worth nothing to a live viewer, so one whose send path
stalls loses what is queued (counted by the hub and the reader) and goes on with the
next packet; every opus packet decodes on its own (RFC 6716 2).
"""

from __future__ import annotations

import fractions

import av
from aiortc import RTCRtpSender
from aiortc.codecs.base import Encoder
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack, convert_timebase

from gateway.media.audio import OPUS_CLOCK
from gateway.media.hub import Discontinuity, Frame, HubReader
from gateway.webrtc.stats import WebrtcCounters
from gateway.webrtc.track import RtpClock, next_hub_item

OPUS_TIME_BASE = fractions.Fraction(1, OPUS_CLOCK)
OPUS_QUEUE_PACKETS = 50  # 1 s of the usual 20 ms packets


class HubOpusTrack(MediaStreamTrack):
    """One viewer's audio: an opus hub reader turned into pre-encoded packets for aiortc."""

    kind = "audio"

    def __init__(self, reader: HubReader, counters: WebrtcCounters):
        super().__init__()
        self._reader = reader
        self._counters = counters
        self._clock = RtpClock(OPUS_CLOCK, OPUS_CLOCK)
        self._started = False
        self.packets_sent = 0

    @property
    def packets_dropped(self) -> int:
        """Packets this viewer lost to its queue bound."""
        return self._reader.frames_dropped

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        if not self._started:
            self._started = True
            self._skip_backlog()
        while True:
            item = await next_hub_item(self, self._reader)
            if isinstance(item, Discontinuity):
                # A new upstream connection: a new webm clock. RTP time follows wall time.
                self._clock.gap()
            elif isinstance(item, Frame) and item.kind == "audio":
                return self._packet_for(item)

    def _skip_backlog(self) -> None:
        """Drop what was queued while ICE and DTLS came up: playing it would only add delay."""
        skipped = 0
        while (item := self._reader.get_nowait()) is not None:
            skipped += isinstance(item, Frame)
        self._counters.audio_packets_skipped += skipped

    def _packet_for(self, frame: Frame) -> av.Packet:
        packet = av.Packet(frame.sample.data)
        packet.pts = self._clock.pts(frame)
        packet.time_base = OPUS_TIME_BASE
        self.packets_sent += 1
        self._counters.audio_packets_sent += 1
        self._counters.audio_bytes_sent += len(frame.sample.data)
        return packet

    def stop(self) -> None:
        self._reader.close()
        super().stop()


class OpusPassthrough(Encoder):
    """What aiortc's `OpusEncoder.pack()` does, without the encoder it would allocate."""

    def encode(self, frame: av.frame.Frame, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        raise TypeError("the opus passthrough sends packets as they are; it has no encoder")

    def pack(self, packet: av.Packet) -> tuple[list[bytes], int]:
        assert packet.pts is not None  # the hub's samples are all timed
        return [bytes(packet)], convert_timebase(packet.pts, packet.time_base, OPUS_TIME_BASE)


def use_passthrough(sender: RTCRtpSender) -> None:
    """Give a sender of a HubOpusTrack the passthrough packer before its RTP loop starts.

    aiortc 1.16 makes the sender's encoder on the first packet only if none is set
    (rtcrtpsender.py `_next_encoded_frame`); the attribute is private to RTCRtpSender.
    """
    if not hasattr(sender, "_RTCRtpSender__encoder"):
        raise RuntimeError("aiortc's RTCRtpSender has no encoder slot: check the aiortc version")
    sender._RTCRtpSender__encoder = OpusPassthrough()
