"""RFC 7798 packetization: single NAL unit packets and fragmentation units."""

from __future__ import annotations

import pytest

from gateway.emulator.amcrest.rtp_h265 import H265PacketizeError, depacketize, nal_type, packetize


def nal(kind: int, size: int, layer: int = 0, tid: int = 1) -> bytes:
    header = bytes(((kind << 1) | (layer >> 5), ((layer & 0x1F) << 3) | tid))
    return header + bytes((i * 7 + kind) % 256 for i in range(size - 2))


def test_small_nal_units_go_out_whole():
    nals = [nal(32, 24), nal(33, 40), nal(34, 8), nal(19, 1200)]
    assert packetize(nals) == nals


def test_a_large_nal_unit_becomes_fragmentation_units():
    idr = nal(19, 3000, layer=0, tid=1)
    payloads = packetize([idr], max_payload=1200)
    assert [len(p) for p in payloads] == [1200, 1200, 3000 - 2 - 2 * 1197 + 3]
    for index, payload in enumerate(payloads):
        assert nal_type(payload) == 49  # 4.4.3: the payload header's type is FU
        assert payload[1] == idr[1]  # LayerId and TID as the fragmented NAL unit's
        fu_header = payload[2]
        assert fu_header & 0x3F == 19
        assert bool(fu_header & 0x80) == (index == 0)  # S
        assert bool(fu_header & 0x40) == (index == len(payloads) - 1)  # E
    assert b"".join(p[3:] for p in payloads) == idr[2:]
    assert depacketize(payloads) == [idr]


def test_layer_and_temporal_id_survive_fragmentation():
    unit = nal(1, 5000, layer=5, tid=3)
    payloads = packetize([unit], max_payload=500)
    assert all(p[0] & 0x01 == unit[0] & 0x01 and p[1] == unit[1] for p in payloads)
    assert depacketize(payloads) == [unit]


@pytest.mark.parametrize("max_payload", [8, 100, 1199, 1200, 1201, 1400])
def test_round_trip_and_size_bound(max_payload):
    nals = [nal(32, 23), nal(33, 45), nal(34, 7), nal(39, 30), nal(19, 2999), nal(1, 1201)]
    payloads = packetize(nals, max_payload)
    assert max(len(p) for p in payloads) <= max_payload
    assert depacketize(payloads) == nals


def test_errors():
    with pytest.raises(H265PacketizeError, match="a NAL unit of 2 bytes has no payload"):
        packetize([b"\x26\x01"])
    with pytest.raises(H265PacketizeError, match=r"an RTP payload of 4 bytes cannot carry H\.265"):
        packetize([nal(1, 10)], max_payload=4)
    first, *_ = packetize([nal(1, 3000)])
    with pytest.raises(H265PacketizeError, match="the last fragmentation unit has no E bit"):
        depacketize([first])
