"""H.265 access units to RTP payloads (RFC 7798), sans-IO.

A NAL unit that fits goes out as a single NAL unit packet (4.4.1); a larger one is cut
into fragmentation units (4.4.3, type 49): the payload header is the NAL unit header with
its type replaced by 49 (F, LayerId and TID kept), then an FU header with the S and E bits
and the original type, then a piece of the NAL unit's payload. DONL fields are absent
because sprop-max-don-diff is 0 (the default): packets are sent in decoding order.
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_PAYLOAD = 1200  # the same budget as gateway/media/rtp_h264.py

NAL_VPS = 32
NAL_SPS = 33
NAL_PPS = 34
NAL_FU = 49
_FU_START, _FU_END = 0x80, 0x40


class H265PacketizeError(ValueError):
    """The access unit cannot be put in RTP payloads."""


def nal_type(nal: bytes) -> int:
    """H.265 7.3.1.2: forbidden_zero_bit(1) nal_unit_type(6) nuh_layer_id(6) nuh_temporal_id_plus1(3)."""
    return (nal[0] >> 1) & 0x3F


def packetize(nals: Sequence[bytes], max_payload: int = MAX_PAYLOAD) -> list[bytes]:
    """The RTP payloads of one access unit, in decoding order (the marker goes on the last)."""
    if max_payload < 8:
        raise H265PacketizeError(f"an RTP payload of {max_payload} bytes cannot carry H.265")
    payloads: list[bytes] = []
    for nal in nals:
        if len(nal) < 3:
            raise H265PacketizeError(f"a NAL unit of {len(nal)} bytes has no payload after its 2-byte header")
        if len(nal) <= max_payload:
            payloads.append(bytes(nal))
        else:
            payloads.extend(_fragments(nal, max_payload))
    return payloads


def _fragments(nal: bytes, max_payload: int) -> list[bytes]:
    payload_header = bytes(((nal[0] & 0x81) | (NAL_FU << 1), nal[1]))
    kind = nal_type(nal)
    body = memoryview(nal)[2:]
    step = max_payload - 3
    count = -(-len(body) // step)
    fragments = []
    for index in range(count):
        fu_header = kind | (_FU_START if index == 0 else 0) | (_FU_END if index == count - 1 else 0)
        fragments.append(payload_header + bytes((fu_header,)) + body[index * step : (index + 1) * step])
    return fragments


def depacketize(payloads: Sequence[bytes]) -> list[bytes]:
    """The NAL units back from single NAL unit packets and FUs (for tests and checks)."""
    nals: list[bytes] = []
    pending: bytearray | None = None
    for payload in payloads:
        if nal_type(payload) != NAL_FU:
            if pending is not None:
                raise H265PacketizeError("a fragmentation unit ended without its E bit")
            nals.append(bytes(payload))
            continue
        fu_header = payload[2]
        if fu_header & _FU_START:
            if pending is not None:
                raise H265PacketizeError("a fragmentation unit started inside another")
            kind = fu_header & 0x3F
            pending = bytearray(((payload[0] & 0x81) | (kind << 1), payload[1]))
        elif pending is None:
            raise H265PacketizeError("a fragmentation unit continues with no start")
        pending += payload[3:]
        if fu_header & _FU_END:
            nals.append(bytes(pending))
            pending = None
    if pending is not None:
        raise H265PacketizeError("the last fragmentation unit has no E bit")
    return nals
