"""The microphone's RTP taken off the socket, before aioice's queue and aiortc's receiver.

Why: after the decode was made cheap (receiver_tap.py), aiortc's own receive path was
most of a talk's cost: every 20 ms packet is first tried as STUN (an exception), queued
by aioice, picked up by the DTLS task, parsed into an RtpPacket with its extensions,
routed, counted and put through a jitter buffer (bench/bench_talkdown.py, cProfile:
~270 us a packet, ~1.4 % of a core per talker). Here an SRTP packet of the talk is
unprotected with the session's own key where the datagram arrives, its header read
(RFC 3550 5.1), and its payload handed to the talk's decoder (EncodedAudioTap) at once.

What stays aiortc's: ICE (STUN), DTLS, SRTCP (sender reports, BYE), the receiver
reports sent back, and the end of the track. aiortc builds its receiver reports from the
receiver's per-SSRC StreamStatistics, which its own RTP path fills; the tap fills them
instead, so the browser still hears of loss and jitter (RFC 3550 6.4.2) and its opus
encoder can adapt (in-band FEC, which the answer allows and the decoder uses).

What is given up: the jitter buffer. A microphone on a LAN or the internet rarely
reorders; a packet older than one already decoded is dropped (counted), and a missing
one is concealed by the decoder (transcoders/opus.py), so a late packet costs one glitch
where the jitter buffer would have added latency to every packet after it.

aioice and aiortc have no public API for this; the private attributes used are listed in
REQUIRED_ATTRIBUTES and checked by `install()`, which raises rather than degrade.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from typing import Any

import pylibsrtp
from aiortc import RTCPeerConnection
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.sdp import SessionDescription

from gateway.talkdown.receiver_tap import ReceiverTapError
from gateway.talkdown.stats import TalkCounters

log = logging.getLogger("gateway.talkdown")

_FIXED_HEADER = struct.Struct("!BBHII")
REQUIRED_ATTRIBUTES = {
    "RTCRtpReceiver": ("_RTCRtpReceiver__remote_streams",),
    "RTCDtlsTransport": ("_rx_srtp",),
    "RTCIceTransport": ("_connection",),
    "Connection": ("_protocols",),
}


class DatagramTapError(ReceiverTapError):
    """aiortc or aioice no longer look as this module expects (private attributes changed)."""


def answered_codecs(answer: str) -> dict[int, RTCRtpCodecParameters]:
    """The audio codecs of our SDP answer, by payload type (what the browser may send)."""
    media = [m for m in SessionDescription.parse(answer).media if m.kind == "audio"]
    # aiortc's parser gives every codec of an m-line its payload type (a=rtpmap).
    return {codec.payloadType: codec for m in media for codec in m.rtp.codecs if codec.payloadType is not None}


class _SeenPacket:
    __slots__ = ("sequence_number", "timestamp")
    sequence_number: int
    timestamp: int


class MicrophoneDatagrams:
    """Feeds `deliver(codec, payload, RTP timestamp)` with the talk's RTP, in sequence order,
    from the socket."""

    def __init__(
        self,
        deliver: Callable[[RTCRtpCodecParameters, bytes, int], None],
        codecs: dict[int, RTCRtpCodecParameters],
        counters: TalkCounters,
    ):
        self._deliver = deliver
        self._codecs = codecs  # by payload type, as negotiated
        self._counters = counters
        self._dtls: Any = None  # aiortc's RTCDtlsTransport, whose private _rx_srtp is read
        self._protocols: list = []  # aioice's, whose datagram_received is ours while installed
        self._streams: dict[int, StreamStatistics] = {}  # the receiver's, by SSRC (its RTCP reports read them)
        self._seen = _SeenPacket()
        self._last_sequence: int | None = None  # of the newest packet delivered

    def install(self, pc: RTCPeerConnection) -> None:
        """Take the talk's RTP where aioice receives it. After setLocalDescription (the ICE
        sockets exist), before the browser can send media."""
        receiver = pc.getReceivers()[0]
        dtls = receiver.transport
        ice = dtls.transport
        connection: Any = getattr(ice, "_connection", None)  # aioice's, private: checked below
        for kind, owner in (
            ("RTCRtpReceiver", receiver),
            ("RTCDtlsTransport", dtls),
            ("RTCIceTransport", ice),
            ("Connection", connection),
        ):
            missing = [name for name in REQUIRED_ATTRIBUTES[kind] if not hasattr(owner, name)]
            if missing:
                raise DatagramTapError(f"{kind} has no {', '.join(missing)}: the talk datagram tap needs updating")
        if not connection._protocols:
            raise DatagramTapError("no ICE sockets yet: install the datagram tap after setLocalDescription")
        self._dtls = dtls
        self._streams = receiver._RTCRtpReceiver__remote_streams  # type: ignore[attr-defined]  # checked above
        self._protocols = list(connection._protocols)
        for protocol in self._protocols:
            protocol.datagram_received = self._receiver(protocol.datagram_received)

    def uninstall(self) -> None:
        """Give the sockets back to aioice (the talk ends: nothing more is delivered)."""
        for protocol in self._protocols:
            vars(protocol).pop("datagram_received", None)  # the class's own method shows again
        self._protocols = []

    def _receiver(self, aioice_receive: Callable[[bytes, tuple], None]) -> Callable[[bytes, tuple], None]:
        def datagram_received(data: bytes, addr: tuple) -> None:
            # RFC 7983 5: 128..191 first is RTP or RTCP; RFC 5761 4: RTCP types sit at 192..208 in
            # the second byte (aiortc's is_rtcp). STUN, DTLS and RTCP take their usual way.
            srtp = self._dtls._rx_srtp
            if srtp is None or len(data) < 12 or not 127 < data[0] < 192 or 192 <= data[1] <= 208:
                aioice_receive(data, addr)
                return
            self._packet(srtp, data)

        return datagram_received

    def _packet(self, srtp: pylibsrtp.Session, data: bytes) -> None:
        try:
            packet = srtp.unprotect(data)  # authenticated, replays refused (RFC 3711 3.3)
        except pylibsrtp.Error:
            self._counters.rtp_rejected += 1
            return
        first, second, sequence, timestamp, ssrc = _FIXED_HEADER.unpack_from(packet)
        start = _FIXED_HEADER.size + 4 * (first & 0x0F)  # CSRCs
        if first & 0x10 and len(packet) >= start + 4:  # header extension (RFC 3550 5.3.1)
            start += 4 + 4 * struct.unpack_from("!H", packet, start + 2)[0]
        end = len(packet) - (packet[-1] if first & 0x20 else 0)  # padding
        codec = self._codecs.get(second & 0x7F)
        if codec is None or not start < end:
            self._counters.rtp_rejected += 1
            return
        self._count(ssrc, sequence, timestamp, codec.clockRate)
        if not self._newer(sequence):
            self._counters.rtp_late += 1
            return
        self._counters.rtp_packets += 1
        self._deliver(codec, packet[start:end], timestamp)

    def _count(self, ssrc: int, sequence: int, timestamp: int, clock_rate: int) -> None:
        """Into the receiver's statistics, as aiortc's _handle_rtp_packet would (late packets too)."""
        stream = self._streams.get(ssrc)
        if stream is None:
            stream = self._streams[ssrc] = StreamStatistics(clock_rate)
        seen = self._seen  # reused: StreamStatistics.add reads these two fields and keeps nothing
        seen.sequence_number, seen.timestamp = sequence, timestamp
        stream.add(seen)  # type: ignore[arg-type]  # add() reads only these two fields

    def _newer(self, sequence: int) -> bool:
        """Whether the packet comes after the newest one delivered (RFC 3550 A.1: modulo
        2^16, ahead by less than half the range); it becomes the newest if so."""
        last = self._last_sequence
        if last is not None and not 0 < (sequence - last) & 0xFFFF < 0x8000:
            return False  # a duplicate, or behind the newest delivered
        self._last_sequence = sequence
        return True
