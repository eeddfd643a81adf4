"""H.264 access units in Annex-B form (as an RTP depacketizer hands them out) to the
model the hub takes: an `InitSegment` (avcC from the stream's SPS/PPS) and one-sample
`Fragment`s with AVCC data. Sans-IO: bytes and timestamps in, events out.

- Parameter sets go to the avcC (ISO/IEC 14496-15 5.3.3), not in the samples; new ones
  in band (a camera changing resolution) give a new init segment.
- An fMP4 sample needs its duration, which only the next access unit's decode time tells:
  each access unit goes out when the next one arrives (one frame of delay); the last one
  of a connection is not sent (a reconnect is a discontinuity anyway).
- Access unit delimiters (type 9) are dropped: fMP4 samples do not carry them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from gateway.media.fmp4.model import Fragment, InitSegment, Sample, TrackInfo
from gateway.media.fmp4.writer import write_init_segment
from gateway.media.h264 import (
    NAL_AUD,
    NAL_PPS,
    NAL_SPS,
    H264Error,
    build_avcc,
    parse_avcc,
    split_annexb,
    sps_dimensions,
)

TIMESCALE = 90_000  # RFC 6184 8.2.1: H.264 over RTP counts a 90 kHz clock
_LENGTH = struct.Struct(">I")
# A camera's frame rate before two frames have told it (25 fps).
DEFAULT_DURATION = TIMESCALE // 25


@dataclass(slots=True)
class _Pending:
    data: bytes
    dts: int
    pts: int
    keyframe: bool


class AnnexBTrack:
    """One H.264 stream's access units, fed in decode order with 90 kHz times."""

    def __init__(self, track_id: int = 1, parameter_sets: bytes = b""):
        self._track_id = track_id
        self._sps: bytes | None = None
        self._pps: bytes | None = None
        self.init: InitSegment | None = None
        self._init_sent = False
        self._pending: _Pending | None = None
        self._duration = DEFAULT_DURATION
        self._sequence = 0
        if parameter_sets:  # out of band: the SDP's sprop-parameter-sets (RFC 6184 8.1)
            self._take_parameter_sets(split_annexb(parameter_sets))

    def feed(self, access_unit: bytes, dts: int, pts: int, keyframe: bool) -> list[InitSegment | Fragment]:
        """The events this access unit completes: the previous one as a sample, then the
        init segment when it is the first or the parameter sets changed."""
        nals = split_annexb(access_unit)
        changed = self._take_parameter_sets(nals)
        # Samples before a change belong to the old init: they go out first.
        events: list[InitSegment | Fragment] = list(self._flush_pending(dts))
        if self.init is None:
            return events  # nothing decodable before the parameter sets
        if changed or not self._init_sent:
            events.append(self.init)
            self._init_sent = True
        body = b"".join(
            _LENGTH.pack(len(nal)) + nal for nal in nals if nal[0] & 0x1F not in (NAL_SPS, NAL_PPS, NAL_AUD)
        )
        if body:
            self._pending = _Pending(body, dts, pts, keyframe)
        return events

    def _flush_pending(self, next_dts: int) -> list[Fragment]:
        pending, self._pending = self._pending, None
        if pending is None:
            return []
        if next_dts > pending.dts:
            self._duration = next_dts - pending.dts
        self._sequence += 1
        sample = Sample(
            self._track_id, pending.dts, self._duration, pending.pts - pending.dts, pending.keyframe, pending.data
        )
        return [Fragment(self._sequence, (sample,), len(pending.data))]

    def _take_parameter_sets(self, nals: list[bytes]) -> bool:
        """Keep the first SPS and PPS seen; True when they changed the init segment."""
        sps = next((nal for nal in nals if nal[0] & 0x1F == NAL_SPS), None)
        pps = next((nal for nal in nals if nal[0] & 0x1F == NAL_PPS), None)
        changed = False
        if sps is not None and sps != self._sps:
            self._sps, changed = sps, True
        if pps is not None and pps != self._pps:
            self._pps, changed = pps, True
        if not changed or not self._sps or not self._pps:
            return False
        avcc = build_avcc(self._sps, self._pps)
        width, height = sps_dimensions(self._sps)
        track = TrackInfo(
            self._track_id,
            "video",
            parse_avcc(avcc).codec_string,
            TIMESCALE,
            width=width,
            height=height,
            codec_config=avcc,
        )
        self.init = InitSegment(write_init_segment((track,)), (track,))
        return True


__all__ = ["TIMESCALE", "AnnexBTrack", "H264Error"]
