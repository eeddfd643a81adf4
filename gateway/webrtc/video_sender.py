"""Video RTP for many viewers: payloads cut once per frame, one lean send loop per viewer.

Why not aiortc's own RTP loop (RTCRtpSender._run_rtp): per packet it builds an RtpPacket,
reads the NTP time through datetime, packs the header extensions and awaits five
coroutine layers down to the socket, and it packetizes every frame again for every
viewer: ~25 us a packet. One IDR of 80 packets to 100 viewers is 8000 packets in one
burst, 200 ms before the last viewer's frame leaves (bench/bench_webrtc_fanout.py). Here
the payloads are shared (track.AccessUnits) and a packet costs a 12-byte header and one
libsrtp call, and a frame one or two system calls (datagrams.py): ~3 us a packet.

aiortc keeps everything else: ICE, DTLS and the SRTP keys, RTCP (receiver reports, the
sender reports built from the counters this loop updates, NACK and PLI reception), and
the audio sender. The loop is plugged into aiortc's RTCRtpSender through attributes it
has no public API for (listed in REQUIRED_ATTRIBUTES, checked when a session starts, so
an aiortc upgrade that moves them fails loudly instead of sending nothing).
"""

from __future__ import annotations

import asyncio
import secrets
import struct
import time

import pylibsrtp
from aiortc import RTCRtpSender
from aiortc.clock import current_ntp_time
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import HeaderExtensions

from gateway.webrtc.datagrams import DatagramSender
from gateway.webrtc.stats import WebrtcCounters
from gateway.webrtc.track import HubVideoTrack, RtpUnit

# RFC 3550 5.1 fixed header: V=2, P, X, CC | M, PT | sequence | timestamp | SSRC.
_HEADER = struct.Struct("!BBHLL")
_EXTENSION_HEADER = struct.Struct("!HH")
_RTP_VERSION = 0x80
_EXTENSION_BIT = 0x10
_MARKER = 0x80
# Retransmissions (RFC 4585 NACK) are served from the last packets sent. aiortc keeps 128;
# one 2 Mbps IDR alone is ~80, so a loss early in it would already be forgotten.
HISTORY_PACKETS = 512

_SENDER = "_RTCRtpSender__"
_NTP_TIMESTAMP, _RTP_TIMESTAMP = f"{_SENDER}ntp_timestamp", f"{_SENDER}rtp_timestamp"
_OCTET_COUNT, _PACKET_COUNT = f"{_SENDER}octet_count", f"{_SENDER}packet_count"
REQUIRED_ATTRIBUTES = {
    "RTCRtpSender": (
        "_ssrc",
        "_rtx_ssrc",
        "_send_keyframe",
        "_retransmit",
        "_run_rtp",
        f"{_SENDER}mid",
        f"{_SENDER}rtp_header_extensions_map",
        f"{_SENDER}rtx_payload_type",
        f"{_SENDER}rtp_started",
        f"{_SENDER}rtp_exited",
        _NTP_TIMESTAMP,
        _RTP_TIMESTAMP,
        _OCTET_COUNT,
        _PACKET_COUNT,
    ),
    "RTCDtlsTransport": ("_tx_srtp", "_send_rtp"),
    "RTCIceTransport": ("_connection",),
    "Connection": ("_nominated",),
}


class VideoRtpSender:
    """Sends one viewer's HubVideoTrack in place of aiortc's RTP loop (see the module docstring)."""

    def __init__(self, sender: RTCRtpSender, track: HubVideoTrack, counters: WebrtcCounters):
        check_aiortc(sender)
        self._sender = sender
        self._track = track
        self._counters = counters
        # (sequence number, header with extensions, payload) by sequence number modulo the size
        self._history: list[tuple[int, bytes, bytes] | None] = [None] * HISTORY_PACKETS
        self._rtx_sequence = secrets.randbits(16)
        self._datagrams: DatagramSender | None = None  # over the nominated pair's transport
        self.retransmissions = 0
        # aiortc starts the sender's RTP task with `self._run_rtp(codec)` once DTLS is up.
        sender._run_rtp = self._run  # type: ignore[method-assign]  # aiortc's RTP loop, replaced (pinned <1.17)
        sender._retransmit = self._retransmit  # type: ignore[method-assign, assignment]  # the same
        # aiortc would only flag the next *encoded* frame as a keyframe; the track counts
        # PLI/FIR and waits for the camera's next IDR (track.py says why).
        sender._send_keyframe = track.keyframe_requested  # type: ignore[method-assign]  # the same

    async def _run(self, codec: RTCRtpCodecParameters) -> None:
        sender = self._sender
        getattr(sender, f"{_SENDER}rtp_started").set()
        try:
            payload_type = codec.payloadType
            assert payload_type is not None  # a negotiated codec has its payload type
            sequence = secrets.randbits(16)
            timestamp_origin = secrets.randbits(32)
            while True:
                unit = await self._track.next_unit()
                sequence = self._send(unit, payload_type, sequence, (timestamp_origin + unit.pts) & 0xFFFFFFFF)
        except (asyncio.CancelledError, ConnectionError, MediaStreamError):
            pass
        finally:
            if self._datagrams is not None:
                self._datagrams.close()
            self._track.stop()
            getattr(sender, f"{_SENDER}rtp_exited").set()

    def _send(self, unit: RtpUnit, payload_type: int, sequence: int, timestamp: int) -> int:
        """One access unit to the viewer; the next sequence number."""
        sender = self._sender
        dtls = sender.transport
        if dtls.state != "connected":
            raise ConnectionError("the viewer's DTLS transport is not connected")
        pair = dtls.transport._connection._nominated.get(1)
        if pair is None:
            raise ConnectionError("the viewer's ICE connection has no nominated pair")
        # aioice sends through the pair's protocol transport the same way (StunProtocol.send_data).
        datagrams = self._datagrams
        if datagrams is None or datagrams.transport is not pair.protocol.transport:
            if datagrams is not None:
                datagrams.close()
            datagrams = self._datagrams = DatagramSender(pair.protocol.transport)
        protect = dtls._tx_srtp.protect
        ntp = current_ntp_time()
        extension = self._extension((ntp >> 14) & 0xFFFFFF)  # RFC 5285 one-byte form: mid, abs-send-time
        first = _RTP_VERSION | (_EXTENSION_BIT if extension else 0)
        ssrc = sender._ssrc
        payloads = unit.packetized.payloads
        last = len(payloads) - 1
        history = self._history
        packets = []
        for index, payload in enumerate(payloads):
            header = (
                _HEADER.pack(first, payload_type | (_MARKER if index == last else 0), sequence, timestamp, ssrc)
                + extension
            )
            history[sequence % HISTORY_PACKETS] = (sequence, header, payload)
            packets.append(protect(header + payload))
            sequence = (sequence + 1) & 0xFFFF
        # A datagram the kernel had no room for is lost like any on the network; NACK asks again.
        self._counters.video_packets_dropped += datagrams.send(packets, pair.remote_addr)
        # What aiortc's RTCP loop puts in the sender reports (RFC 3550 6.4.1).
        setattr(sender, _NTP_TIMESTAMP, ntp)
        setattr(sender, _RTP_TIMESTAMP, timestamp)
        setattr(sender, _OCTET_COUNT, getattr(sender, _OCTET_COUNT) + unit.packetized.size)
        setattr(sender, _PACKET_COUNT, getattr(sender, _PACKET_COUNT) + len(payloads))
        self._counters.video_packets_sent += len(payloads)
        self._counters.send_delay.record(time.monotonic() - unit.published_at)
        return sequence

    def _extension(self, abs_send_time: int) -> bytes:
        extensions_map = getattr(self._sender, f"{_SENDER}rtp_header_extensions_map")
        mid = getattr(self._sender, f"{_SENDER}mid")
        profile, value = extensions_map.set(HeaderExtensions(mid=mid, abs_send_time=abs_send_time))
        return _EXTENSION_HEADER.pack(profile, len(value) // 4) + value if value else b""

    async def _retransmit(self, sequence: int) -> None:
        """Answer a NACK (RFC 4585 6.2.1): the packet again, in an RTX packet when negotiated."""
        entry = self._history[sequence % HISTORY_PACKETS]
        if entry is None or entry[0] != sequence:
            return  # too old: the viewer's decoder waits for the next keyframe
        _, header, payload = entry
        sender = self._sender
        rtx_payload_type = getattr(sender, f"{_SENDER}rtx_payload_type")
        if rtx_payload_type is not None:
            # RFC 4588 4: own SSRC, payload type and sequence; the original sequence number
            # (OSN) leads the payload; timestamp, marker and extensions stay.
            marker = header[1] & _MARKER
            _, _, _, timestamp, _ = _HEADER.unpack_from(header)
            header = (
                _HEADER.pack(header[0], marker | rtx_payload_type, self._rtx_sequence, timestamp, sender._rtx_ssrc)
                + header[_HEADER.size :]
            )
            payload = struct.pack("!H", sequence) + payload
            self._rtx_sequence = (self._rtx_sequence + 1) & 0xFFFF
        self.retransmissions += 1
        self._counters.video_retransmissions += 1
        try:
            await sender.transport._send_rtp(header + payload)
        except (ConnectionError, pylibsrtp.Error):
            # Raised here it would end aiortc's RTCP handling for the whole connection.
            pass


def check_aiortc(sender: RTCRtpSender) -> None:
    """Raise if aiortc no longer has the attributes VideoRtpSender plugs into."""
    dtls = sender.transport
    ice = dtls.transport
    objects = {
        "RTCRtpSender": sender,
        "RTCDtlsTransport": dtls,
        "RTCIceTransport": ice,
        "Connection": getattr(ice, "_connection", None),
    }
    for kind, names in REQUIRED_ATTRIBUTES.items():
        missing = [name for name in names if not hasattr(objects[kind], name)]
        if missing:
            import aiortc

            raise RuntimeError(
                f"aiortc {aiortc.__version__} changed: {kind} has no {', '.join(missing)}; "
                "gateway/webrtc/video_sender.py must follow it"
            )
