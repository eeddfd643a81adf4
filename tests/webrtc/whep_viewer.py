"""A WHEP viewer built on aiortc that counts H.264 frames and opus packets without decoding them.

aiortc's receiver reassembles each frame in its jitter buffer and hands it to a decoder
thread; `counting_decoders()` swaps `aiortc.rtcrtpreceiver.get_decoder` for one that only
looks at the NAL unit types of the reassembled Annex-B frame, and for opus one that keeps
the RTP payloads (the tests decode them themselves, apart from the gateway's code). Used
by the tests and by bench/bench_webrtc_fanout.py (many viewers per process, none decoding).
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from dataclasses import dataclass, field
from urllib.parse import urljoin

import aiohttp
import aiortc.rtcrtpreceiver
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from gateway.webrtc import sdp

NAL_IDR = 5


@dataclass
class FrameTally:
    frames: int = 0
    keyframes: int = 0
    bytes: int = 0
    first_is_keyframe: bool | None = None
    last_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, data: bytes) -> None:
        keyframe = _has_idr(data)
        with self.lock:
            if self.first_is_keyframe is None:
                self.first_is_keyframe = keyframe
            self.frames += 1
            self.keyframes += keyframe
            self.bytes += len(data)
            self.last_at = time.monotonic()


@dataclass
class OpusTally:
    """Opus RTP payloads as received (each one opus packet, RFC 7587 4.2), in arrival order."""

    packets: int = 0
    payloads: list = field(default_factory=list)  # (RTP timestamp, payload), the first MAX_KEPT
    first_at: float = 0.0
    last_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    MAX_KEPT = 3000  # 60 s of 20 ms packets: bounded for long-running benches

    def add(self, timestamp: int, data: bytes) -> None:
        with self.lock:
            now = time.monotonic()
            if not self.packets:
                self.first_at = now
            self.packets += 1
            self.last_at = now
            if len(self.payloads) < self.MAX_KEPT:
                self.payloads.append((timestamp, data))


def _has_idr(data: bytes) -> bool:
    # Reassembled frames are Annex-B with 4-byte start codes (aiortc's h264_depayload).
    return any(part and part[0] & 0x1F == NAL_IDR for part in data.split(b"\x00\x00\x00\x01"))


class _CountingDecoder:
    def __init__(self, tally: FrameTally):
        self._tally = tally

    def decode(self, encoded_frame) -> list:
        self._tally.add(encoded_frame.data)
        return []


class _KeepingOpusDecoder:
    def __init__(self, tally: OpusTally):
        self._tally = tally

    def decode(self, encoded_frame) -> list:
        self._tally.add(encoded_frame.timestamp, encoded_frame.data)
        return []


# The receiver's decoder thread -> its tally (the thread object: idents are reused once a thread ends).
_tallies: weakref.WeakKeyDictionary[threading.Thread, FrameTally | OpusTally] = weakref.WeakKeyDictionary()
_original_get_decoder = aiortc.rtcrtpreceiver.get_decoder


def _get_decoder(codec):
    mime_type = codec.mimeType.lower()
    if mime_type == "video/h264":
        return _CountingDecoder(_tallies.setdefault(threading.current_thread(), FrameTally()))
    if mime_type == "audio/opus":
        return _KeepingOpusDecoder(_tallies.setdefault(threading.current_thread(), OpusTally()))
    return _original_get_decoder(codec)


@contextlib.contextmanager
def counting_decoders():
    aiortc.rtcrtpreceiver.get_decoder = _get_decoder
    try:
        yield
    finally:
        aiortc.rtcrtpreceiver.get_decoder = _original_get_decoder


def without_rtx(offer: str) -> str:
    """The offer with its RTX payload types taken out (m= line, rtpmap, fmtp, rtcp-fb)."""
    rtx = {line.split(":", 1)[1].split()[0] for line in offer.splitlines() if " rtx/" in line}
    kept = []
    for line in offer.splitlines():
        if line.startswith("m=video"):
            line = " ".join(part for part in line.split(" ") if part not in rtx)
        elif line.startswith(("a=rtpmap:", "a=fmtp:", "a=rtcp-fb:")) and line.split(":", 1)[1].split()[0] in rtx:
            continue
        kept.append(line)
    return "\r\n".join(kept) + "\r\n"


class WhepViewer:
    """One WHEP session: POST an offer, apply the answer, count frames, DELETE at the end."""

    def __init__(
        self, http: aiohttp.ClientSession, url: str, audio: bool = False, lose_every: int = 0, rtx: bool = True
    ):
        self._http = http
        self._url = url
        self._audio = audio
        self._rtx = rtx  # False: the offer does not propose RTX (RFC 4588), as some WHEP players do
        self._lose_every = lose_every  # lose every Nth video packet once, as a lossy network would
        self.lost: set[int] = set()  # sequence numbers of the video packets lost on purpose
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.location: str | None = None
        self.answer = ""
        self._decoder_threads: dict[int, threading.Thread] = {}  # transceiver index -> decoder thread

    async def start(self) -> None:
        self.pc.addTransceiver("video", direction="recvonly")
        if self._audio:
            self.pc.addTransceiver("audio", direction="recvonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        offer = self.pc.localDescription.sdp if self._rtx else without_rtx(self.pc.localDescription.sdp)
        async with self._http.post(self._url, data=offer, headers={"Content-Type": "application/sdp"}) as response:
            body = await response.text()
            if response.status != 201:
                raise RuntimeError(f"WHEP POST answered {response.status}: {body}")
            self.location = urljoin(self._url, response.headers["Location"])
            self.answer = body
        await self.pc.setRemoteDescription(RTCSessionDescription(self.answer, "answer"))
        if self._lose_every:
            self._lose_packets(self.pc.getTransceivers()[0].receiver)

    def _lose_packets(self, receiver) -> None:
        """Drop first copies of some video packets on arrival, before SRTP, as a lossy network
        would (aiortc's NACK generator then asks for them). The RTP header is in the clear
        (RFC 3711 3.1); a copy sent again (RTX, or the same packet) passes."""
        ice = receiver.transport.transport
        receive = ice._recv
        h264 = next(int(pt) for pt, codec in sdp.video_codecs(self.answer).items() if codec.startswith("H264"))

        async def lossy() -> bytes:
            while True:
                data = await receive()
                rtp = len(data) >= 12 and 127 < data[0] < 192 and not 192 <= data[1] <= 208
                if rtp and data[1] & 0x7F == h264:
                    sequence = int.from_bytes(data[2:4], "big")
                    if sequence % self._lose_every == 0 and sequence not in self.lost:
                        self.lost.add(sequence)
                        continue
                return data

        ice._recv = lossy

    @property
    def tally(self) -> FrameTally:
        return self._tally_of(0, FrameTally)

    @property
    def opus(self) -> OpusTally:
        """What the audio receiver got (empty until opus flows, or without `audio=True`)."""
        return self._tally_of(1, OpusTally) if self._audio else OpusTally()

    def _tally_of(self, index: int, kind: type):
        if index not in self._decoder_threads:
            # aiortc starts one decoder thread per receiver once media flows (test tool: private name).
            receiver = self.pc.getTransceivers()[index].receiver
            thread = getattr(receiver, "_RTCRtpReceiver__decoder_thread", None)
            if thread is None:
                return kind()
            self._decoder_threads[index] = thread
        return _tallies.setdefault(self._decoder_threads[index], kind())

    async def stop(self, delete: bool = True) -> int | None:
        _ = self.tally, self.opus  # remember the threads before they end
        status = None
        if delete and self.location:
            async with self._http.delete(self.location) as response:
                status = response.status
        await self.pc.close()
        return status
