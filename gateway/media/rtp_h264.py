"""H.264 access units to RTP payloads (RFC 6184, packetization-mode 1), sans-IO.

Cut once per frame and shared by every WebRTC viewer (gateway/webrtc/video_sender.py):
only the RTP header differs from one viewer to the next.

- NAL units that fit go out whole (5.6), and runs of small ones (SPS, PPS, SEI) share
  one STAP-A (5.7.1), so an IDR's parameter sets cost one packet, not three;
- a NAL unit larger than a packet is cut into FU-A fragments (5.8) of equal size, the
  last one shorter, so a burst of one frame is regular on the wire.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

# libwebrtc's default: RTP payload plus headers, SRTP tag and UDP/IP stay well under a
# 1500-byte Ethernet MTU, with room for a VPN or TURN wrapper.
MAX_PAYLOAD = 1200

NAL_STAP_A = 24
NAL_FU_A = 28
_FU_START, _FU_END = 0x80, 0x40
_SIZE = struct.Struct("!H")


class PacketizeError(ValueError):
    """The access unit cannot be put in RTP payloads (an empty NAL unit, a payload too small)."""


def packetize(nals: Sequence[bytes], max_payload: int = MAX_PAYLOAD) -> list[bytes]:
    """The RTP payloads of one access unit, in decoding order (the marker goes on the last)."""
    if max_payload < 16:
        raise PacketizeError(f"an RTP payload of {max_payload} bytes cannot carry H.264")
    payloads: list[bytes] = []
    small: list[bytes] = []  # consecutive NAL units waiting to share a STAP-A
    small_size = 1  # the STAP-A NAL header
    for nal in nals:
        if not nal:
            raise PacketizeError("an access unit holds an empty NAL unit")
        if small and small_size + _SIZE.size + len(nal) > max_payload:
            payloads.append(_aggregate(small))
            small, small_size = [], 1
        if len(nal) <= max_payload:
            small.append(nal)
            small_size += _SIZE.size + len(nal)
        else:
            payloads.extend(_fragments(nal, max_payload))
    if small:
        payloads.append(_aggregate(small))
    return payloads


def _aggregate(nals: list[bytes]) -> bytes:
    """One NAL unit as is (5.6), or a STAP-A of several (5.7.1)."""
    if len(nals) == 1:
        return nals[0]
    forbidden = max(nal[0] & 0x80 for nal in nals)
    nri = max(nal[0] & 0x60 for nal in nals)  # 5.7.1: the highest NRI of the aggregated units
    parts = [bytes((forbidden | nri | NAL_STAP_A,))]
    for nal in nals:
        parts += (_SIZE.pack(len(nal)), nal)
    return b"".join(parts)


def _fragments(nal: bytes, max_payload: int) -> list[bytes]:
    """FU-A fragments (5.8): the NAL header's F and NRI in the indicator, its type in the FU header."""
    indicator = (nal[0] & 0xE0) | NAL_FU_A
    nal_type = nal[0] & 0x1F
    body = memoryview(nal)[1:]
    step = max_payload - 2
    count = -(-len(body) // step)
    fragments = []
    for index in range(count):
        header = nal_type | (_FU_START if index == 0 else 0) | (_FU_END if index == count - 1 else 0)
        fragments.append(bytes((indicator, header)) + body[index * step : (index + 1) * step])
    return fragments
