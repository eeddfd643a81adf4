"""The WebRTC receive side of a talk: one browser microphone over aiortc, to PCMU.

aiortc does ICE and DTLS; the microphone's SRTP packets are taken where the datagram
arrives (`datagram_tap`), decoded straight to 8 kHz mu-law on the event loop
(`receiver_tap`: libopus at 8 kHz, ~25 us a frame) and queued on the session's uplink at
once, so a frame waits for nothing but `chunk_ms` worth of audio. Nothing is padded: when
the browser sends nothing for `idle_timeout`, the talk ends.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from gateway.talkdown.datagram_tap import MicrophoneDatagrams, answered_codecs
from gateway.talkdown.offer import microphone_answer, offer_for_aiortc
from gateway.talkdown.receiver_tap import EncodedAudioTap, ReceiverTapError, tap
from gateway.talkdown.session import TalkSession, TalkSessions
from gateway.webrtc.sdp import Offer, OfferError

log = logging.getLogger("gateway.talkdown")

# A G.711 peer's frames, resampled, may come out a few samples short; such a chunk still
# goes out rather than waiting 20 ms for the next frame. (Opus frames are exact.)
CHUNK_SLACK_BYTES = 16


class MicrophoneReceiver:
    def __init__(self, session: TalkSession, sessions: TalkSessions):
        self._session = session
        self._sessions = sessions
        self._settings = sessions.settings
        self._chunk_bytes = self._settings.chunk_bytes - CHUNK_SLACK_BYTES
        self._tap = EncodedAudioTap(self._queue, self._track_ended)
        self._tap_error: ReceiverTapError | None = None
        self.datagrams: MicrophoneDatagrams | None = None
        self._pending = bytearray()
        self._pending_since = 0.0
        self._heard_at = 0.0  # time.monotonic() of the last frame from the microphone
        self._track: MediaStreamTrack | None = None
        self._track_arrived = asyncio.Event()
        self._connected = asyncio.Event()
        self._ended = asyncio.Event()
        self._ended_reason = "microphone track ended"
        self._pump: asyncio.Task | None = None
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        session.stop_source = self.stop

    async def answer(self, offer: Offer) -> str:
        """The SDP answer (recvonly audio); OfferError if aiortc cannot take the offer."""
        pc = self.pc

        @pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            # Emitted by setRemoteDescription, before the receiver starts (and its decoder
            # thread with it): the moment to put the tap in place.
            if track.kind == "audio" and self._track is None:
                receiver = next(receiver for receiver in pc.getReceivers() if receiver.track is track)
                try:
                    tap(receiver, self._tap)
                except ReceiverTapError as exc:
                    self._tap_error = exc
                    return
                self._track = track
                self._track_arrived.set()

        @pc.on("connectionstatechange")
        def _on_state() -> None:
            if pc.connectionState == "connected":
                self._connected.set()
            elif pc.connectionState in ("failed", "closed"):
                self._end_soon(f"connection {pc.connectionState}")

        try:
            await pc.setRemoteDescription(RTCSessionDescription(offer_for_aiortc(offer), "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:  # noqa: BLE001  aiortc raises ValueError/OperationError/InvalidStateError
            raise OfferError(f"offer rejected: {exc}") from None
        if self._tap_error is not None:
            raise self._tap_error  # a gateway bug after an aiortc upgrade (500), not a bad offer
        # One packet from the browser is one upstream chunk, opus FEC allowed (microphone_answer says why).
        answer = microphone_answer(pc.localDescription.sdp, self._settings.chunk_ms)
        self.datagrams = MicrophoneDatagrams(self._tap.audio, answered_codecs(answer), self._sessions.counters)
        self.datagrams.install(pc)  # DatagramTapError (a ReceiverTapError): 500 as above
        return answer

    def start(self) -> None:
        self._pump = asyncio.get_running_loop().create_task(self._run(), name=f"talk mic {self._session.camera_id}")

    async def _run(self) -> None:
        # Audio arrives by callback (_queue); this task only watches for the connection, the
        # end of the track and an idle microphone, waking once per idle_timeout at most.
        reason = ""
        try:
            try:
                async with asyncio.timeout(self._settings.connect_timeout):
                    await self._connected.wait()
                    await self._track_arrived.wait()
            except TimeoutError:
                reason = f"not connected within {self._settings.connect_timeout:.0f}s"
                return
            self._heard_at = max(self._heard_at, time.monotonic())
            while not self._ended.is_set():
                remaining = self._heard_at + self._settings.idle_timeout - time.monotonic()
                if remaining <= 0:
                    reason = f"no audio from the microphone for {self._settings.idle_timeout:.0f}s"
                    return
                try:
                    async with asyncio.timeout(remaining):
                        await self._ended.wait()
                except TimeoutError:
                    pass
            reason = self._ended_reason
        finally:
            if reason:
                self._end_soon(reason)

    def _track_ended(self, reason: str) -> None:
        self._ended_reason = reason
        self._ended.set()

    def _queue(self, pcmu: bytes, received_at: float) -> None:
        self._sessions.counters.frames_received += 1
        self._heard_at = received_at
        if not self._pending and len(pcmu) >= self._chunk_bytes:
            self._session.uplink.send(pcmu, received_at)  # a packet of chunk_ms (a=ptime): the usual case
            return
        if not self._pending:
            self._pending_since = received_at
        self._pending += pcmu
        if len(self._pending) >= self._chunk_bytes:
            self._session.uplink.send(bytes(self._pending), self._pending_since)
            self._pending.clear()

    def _end_soon(self, reason: str) -> None:
        # Ending awaits stop(), which cancels the pump: never from inside the pump itself.
        if self._session.end_reason is None:
            asyncio.get_running_loop().create_task(self._sessions.end(self._session, reason), name="talk end")

    async def stop(self) -> None:
        """Stop receiving: the pump, then the audio not yet sent, then the peer connection."""
        pump = self._pump
        if pump is not None and pump is not asyncio.current_task() and not pump.done():
            pump.cancel()
            await asyncio.wait([pump])
        if self.datagrams is not None:
            self.datagrams.uninstall()  # first: a packet counted as taken is then always decoded
        self._tap.stop()
        if self._pending:
            self._session.uplink.send(bytes(self._pending), self._pending_since)
            self._pending.clear()
        await self.pc.close()
