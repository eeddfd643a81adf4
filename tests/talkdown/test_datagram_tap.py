"""The talk's SRTP taken off the socket: payloads in sequence order, everything else to aioice."""

import os
import struct

import pylibsrtp
import pytest
from aiortc import RTCPeerConnection
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from gateway.talkdown.datagram_tap import DatagramTapError, MicrophoneDatagrams, answered_codecs
from gateway.talkdown.stats import TalkCounters

OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)
KEY = os.urandom(30)


def sessions() -> tuple[pylibsrtp.Session, pylibsrtp.Session]:
    def session(direction):
        return pylibsrtp.Session(
            pylibsrtp.Policy(key=KEY, ssrc_type=direction, srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80)
        )

    return session(pylibsrtp.Policy.SSRC_ANY_OUTBOUND), session(pylibsrtp.Policy.SSRC_ANY_INBOUND)


def rtp(sequence: int, payload: bytes, payload_type: int = 111, extension: bytes = b"", padding: int = 0) -> bytes:
    first = 0x80 | (0x10 if extension else 0) | (0x20 if padding else 0)
    header = struct.pack("!BBHII", first, payload_type, sequence, sequence * 960, 0x1234)
    if extension:
        header += struct.pack("!HH", 0xBEDE, len(extension) // 4) + extension
    pad = bytes(padding - 1) + bytes([padding]) if padding else b""
    return header + payload + pad


class Tapped:
    def __init__(self):
        self.delivered, self.passed = [], []
        self.counters = TalkCounters()
        self.tap = MicrophoneDatagrams(lambda *frame: self.delivered.append(frame), {111: OPUS}, self.counters)
        self.tx, rx = sessions()
        self.tap._dtls = type("Dtls", (), {"_rx_srtp": rx})()
        self.receive = self.tap._receiver(lambda data, addr: self.passed.append(data))

    def send(self, plain: bytes) -> None:
        self.receive(self.tx.protect(plain), ("127.0.0.1", 9))


def test_payloads_come_out_in_order_without_extension_or_padding():
    tapped = Tapped()
    tapped.send(rtp(65534, b"first"))
    tapped.send(rtp(65535, b"second", extension=b"\x10\xff\x00\x00"))
    tapped.send(rtp(0, b"third", padding=3))  # the sequence number wraps
    assert tapped.delivered == [(OPUS, b"first", 65534 * 960), (OPUS, b"second", 65535 * 960), (OPUS, b"third", 0)]
    assert tapped.counters.rtp_packets == 3 and not tapped.passed


def test_late_packets_are_dropped_and_gaps_pass_for_the_decoder_to_conceal():
    tapped = Tapped()
    for sequence in (10, 12, 11, 13):  # 11 arrives after 12: too late, the decoder concealed it
        tapped.send(rtp(sequence, bytes([sequence])))
    assert [payload for _, payload, _ in tapped.delivered] == [b"\x0a", b"\x0c", b"\x0d"]
    assert tapped.counters.rtp_late == 1
    # aiortc's receiver statistics (its RTCP receiver reports) saw all four, as its own RTP path would.
    stream = tapped.tap._streams[0x1234]
    assert (stream.packets_received, stream.packets_lost, stream.max_seq) == (4, 0, 13)


def test_a_lost_packet_is_reported_as_lost():
    tapped = Tapped()
    for sequence in (65534, 0, 1):  # 65535 lost, across the wrap
        tapped.send(rtp(sequence, b"x"))
    stream = tapped.tap._streams[0x1234]
    assert (stream.packets_lost, stream.max_seq, stream.fraction_lost) == (1, 1, 64)  # 1/4 in 1/256ths


def test_forged_unknown_and_non_rtp_datagrams():
    tapped = Tapped()
    forged = bytearray(tapped.tx.protect(rtp(1, b"x")))
    forged[-1] ^= 1
    tapped.receive(bytes(forged), ("127.0.0.1", 9))  # fails SRTP authentication
    tapped.send(rtp(2, b"y", payload_type=101))  # telephone-event: not negotiated here
    assert not tapped.delivered and tapped.counters.rtp_rejected == 2
    stun = b"\x00\x01\x00\x00" + b"\x21\x12\xa4\x42" + bytes(12)
    dtls = b"\x16\xfe\xfd" + bytes(20)
    rtcp = tapped.tx.protect_rtcp(struct.pack("!BBHI", 0x80, 201, 1, 0x1234))
    for datagram in (stun, dtls, rtcp, b"\x80\x6f"):
        tapped.receive(datagram, ("127.0.0.1", 9))
    assert tapped.passed == [stun, dtls, rtcp, b"\x80\x6f"]  # aioice and aiortc take them as before


async def test_install_needs_ice_sockets_and_refuses_a_changed_aiortc():
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="recvonly")
    tap = MicrophoneDatagrams(lambda *frame: None, {}, TalkCounters())
    with pytest.raises(DatagramTapError, match="after setLocalDescription"):
        tap.install(pc)
    await pc.setLocalDescription(await pc.createOffer())
    codecs = answered_codecs(pc.localDescription.sdp)
    assert {codec.name for codec in codecs.values()} >= {"opus", "PCMU", "PCMA"}
    assert all(codecs[payload_type].payloadType == payload_type for payload_type in codecs)
    tap.install(pc)
    protocols = pc.getReceivers()[0].transport.transport._connection._protocols
    assert protocols and all("datagram_received" in vars(protocol) for protocol in protocols)
    tap.uninstall()
    assert not any("datagram_received" in vars(protocol) for protocol in protocols)  # aioice's own again
    del pc.getReceivers()[0].transport._rx_srtp
    with pytest.raises(DatagramTapError, match="RTCDtlsTransport has no _rx_srtp"):
        tap.install(pc)
    await pc.close()
