"""RTP/RTCP packet layouts (RFC 3550) and the AAC-hbr payload (RFC 3640)."""

from __future__ import annotations

import struct

import pytest

from gateway.emulator.amcrest.rtp import aac_hbr_payload, ntp_timestamp, rtp_packet, sender_report


def test_rtp_header():
    packet = rtp_packet(96, True, 0x1_0005, 0x1_2345_6789, 0xDEADBEEF, b"abc")
    assert packet == bytes.fromhex("80e0000523456789deadbeef") + b"abc"
    assert rtp_packet(8, False, 1, 2, 3, b"")[:2] == b"\x80\x08"


def test_ntp_time():
    assert ntp_timestamp(0.0) == (2_208_988_800, 0)
    assert ntp_timestamp(1.5) == (2_208_988_801, 1 << 31)


def test_sender_report_then_sdes_cname():
    data = sender_report(0x01020304, 1.25, 90000, 10, 1000, "cam")
    v_p_rc, pt, length, ssrc, msw, lsw, rtp_ts, packets, octets = struct.unpack_from("!BBHIIIIII", data)
    assert (v_p_rc, pt, length, ssrc) == (0x80, 200, 6, 0x01020304)  # 6.4.1: 7 words, no report blocks
    assert (msw, lsw, rtp_ts, packets, octets) == (2_208_988_801, 1 << 30, 90000, 10, 1000)
    sdes = data[28:]
    assert sdes[:2] == b"\x81\xca" and len(sdes) % 4 == 0
    assert struct.unpack_from("!H", sdes, 2)[0] == len(sdes) // 4 - 1
    assert sdes[4:8] == b"\x01\x02\x03\x04" and sdes[8:10] == b"\x01\x03" and sdes[10:13] == b"cam"
    assert sdes[13] == 0  # the item list's end


def test_aac_hbr_one_access_unit():
    assert aac_hbr_payload(b"\x21" * 300) == b"\x00\x10" + struct.pack("!H", 300 << 3) + b"\x21" * 300
    with pytest.raises(ValueError, match="8192 bytes does not fit sizelength=13"):
        aac_hbr_payload(bytes(8192))
