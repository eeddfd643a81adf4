"""RFC 6184 packetization, read back by aiortc's depayloader (an independent peer)."""

import pytest
from aiortc.codecs.h264 import H264PayloadDescriptor
from hypothesis import given
from hypothesis import strategies as st

from gateway.media.h264 import split_annexb
from gateway.media.rtp_h264 import MAX_PAYLOAD, NAL_FU_A, NAL_STAP_A, PacketizeError, packetize


def nal(kind: int, size: int, nri: int = 0x60) -> bytes:
    # A body that never ends in 0x00 (H.264 7.4.1), so Annex-B splitting gives it back whole.
    return bytes((nri | kind,)) + bytes((index % 251) + 1 for index in range(size - 1))


def depacketize(payloads: list[bytes]) -> list[bytes]:
    return split_annexb(b"".join(H264PayloadDescriptor.parse(payload)[1] for payload in payloads))


def test_parameter_sets_share_one_stap_a_and_a_large_slice_is_cut_into_equal_fu_a():
    sps, pps, idr = nal(7, 25), nal(8, 5), nal(5, 5000)
    payloads = packetize([sps, pps, idr])
    assert payloads[0][0] & 0x1F == NAL_STAP_A
    assert payloads[0] == bytes((0x60 | NAL_STAP_A,)) + b"\x00\x19" + sps + b"\x00\x05" + pps
    fragments = payloads[1:]
    assert all(p[0] == 0x60 | NAL_FU_A for p in fragments)
    assert [p[1] & 0xC0 for p in fragments] == [0x80, 0, 0, 0, 0x40]  # start, middles, end
    assert all(p[1] & 0x1F == 5 for p in fragments)
    assert [len(p) for p in fragments[:-1]] == [MAX_PAYLOAD] * 4 and len(fragments[-1]) < MAX_PAYLOAD
    assert depacketize(payloads) == [sps, pps, idr]


def test_a_nal_that_fits_goes_alone_and_stap_a_takes_the_highest_nri():
    assert packetize([nal(1, 700, nri=0x20)]) == [nal(1, 700, nri=0x20)]
    sei, slice_ = nal(6, 10, nri=0), nal(1, 100, nri=0x40)
    assert packetize([sei, slice_])[0][0] == 0x40 | NAL_STAP_A


def test_an_aggregate_is_closed_before_it_outgrows_a_packet():
    units = [nal(1, 500), nal(1, 500), nal(1, 500)]
    payloads = packetize(units, max_payload=1100)
    assert len(payloads) == 2 and all(len(p) <= 1100 for p in payloads)
    assert depacketize(payloads) == units


def test_bad_input_is_refused_with_a_reason():
    with pytest.raises(PacketizeError, match="empty NAL unit"):
        packetize([nal(7, 10), b""])
    with pytest.raises(PacketizeError, match="cannot carry"):
        packetize([nal(1, 100)], max_payload=8)


@given(
    st.lists(st.tuples(st.sampled_from([1, 5, 6, 7, 8, 9]), st.integers(2, 6000)), min_size=1, max_size=12),
    st.integers(100, 1400),
)
def test_any_access_unit_round_trips_within_the_payload_bound(shape, max_payload):
    # (2 bytes at least: aiortc's depayloader refuses a lone 1-byte NAL unit as a payload.)
    units = [nal(kind, size) for kind, size in shape]
    payloads = packetize(units, max_payload)
    assert all(0 < len(p) <= max_payload for p in payloads)
    assert depacketize(payloads) == units
