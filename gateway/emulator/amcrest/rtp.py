"""RTP and RTCP packets the emulator sends (RFC 3550), and the RFC 3640 AAC payload; sans-IO."""

from __future__ import annotations

import struct

_RTP_HEADER = struct.Struct("!BBHII")
_SR = struct.Struct("!BBHIIIIII")
_NTP_UNIX_OFFSET = 2_208_988_800  # seconds from 1900-01-01 (NTP era 0) to 1970-01-01

RTCP_SR = 200
RTCP_SDES = 202
SDES_CNAME = 1


def rtp_packet(payload_type: int, marker: bool, seq: int, timestamp: int, ssrc: int, payload: bytes) -> bytes:
    """RFC 3550 5.1: version 2, no padding, no extension, no CSRC."""
    return (
        _RTP_HEADER.pack(0x80, (0x80 if marker else 0) | payload_type, seq & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc)
        + payload
    )


def ntp_timestamp(unix_seconds: float) -> tuple[int, int]:
    """RFC 3550 4: 64-bit NTP time as (seconds, fraction)."""
    seconds = int(unix_seconds)
    fraction = int((unix_seconds - seconds) * (1 << 32)) & 0xFFFFFFFF
    return (seconds + _NTP_UNIX_OFFSET) & 0xFFFFFFFF, fraction


def sender_report(ssrc: int, unix_seconds: float, rtp_timestamp: int, packets: int, octets: int, cname: str) -> bytes:
    """A compound RTCP packet: SR (6.4.1, no report blocks) then SDES with the CNAME (6.5),
    as 6.1 requires of every compound packet. The SR ties `rtp_timestamp` to wall time,
    which is how a receiver lines audio up with video."""
    msw, lsw = ntp_timestamp(unix_seconds)
    sr = _SR.pack(0x80, RTCP_SR, 6, ssrc, msw, lsw, rtp_timestamp & 0xFFFFFFFF,
                  packets & 0xFFFFFFFF, octets & 0xFFFFFFFF)  # fmt: skip
    name = cname.encode()[:255]
    chunk = struct.pack("!IBB", ssrc, SDES_CNAME, len(name)) + name + b"\x00"  # item list ends with a 0 octet
    chunk += b"\x00" * (-len(chunk) % 4)
    sdes = struct.pack("!BBH", 0x81, RTCP_SDES, len(chunk) // 4) + chunk
    return sr + sdes


def aac_hbr_payload(access_unit: bytes) -> bytes:
    """RFC 3640 3.3.6 AAC-hbr, one access unit: AU-headers-length (16 bits: one header of
    sizelength 13 + indexlength 3), then the AU-header (size, index 0), then the AU."""
    if len(access_unit) >= 1 << 13:
        raise ValueError(f"an AAC access unit of {len(access_unit)} bytes does not fit sizelength=13")
    return struct.pack("!HH", 16, len(access_unit) << 3) + access_unit
