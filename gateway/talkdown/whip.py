"""The WebRTC receive side of a talk: one browser microphone over aiortc, to PCMU.

aiortc decodes the opus RTP in its own decoder thread and hands 20 ms frames to
`track.recv()`; each frame is resampled to 8 kHz mono and mu-law encoded in the talk
executor (never on the event loop) and queued on the session's uplink at once, so a
frame waits for nothing but its own encoding. Nothing is padded: when the browser sends
nothing for `idle_timeout`, the talk ends.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Executor

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from gateway.talkdown.offer import offer_for_aiortc
from gateway.talkdown.session import TalkSession, TalkSessions
from gateway.webrtc.sdp import Offer, OfferError
from transcoders.pcmu import PcmuEncoder

log = logging.getLogger("gateway.talkdown")

# A resampled frame may come out a few samples short (the resampler's filter delay);
# such a chunk still goes out rather than waiting 20 ms for the next frame.
CHUNK_SLACK_BYTES = 16


class MicrophoneReceiver:
    def __init__(self, session: TalkSession, sessions: TalkSessions, executor: Executor):
        self._session = session
        self._sessions = sessions
        self._settings = sessions.settings
        self._executor = executor
        self._encoder = PcmuEncoder()
        # A cancelled pump's encode may still be running in the executor when stop()
        # flushes: the encoder is stateful and not thread-safe.
        self._encoder_lock = threading.Lock()
        self._pending = bytearray()
        self._pending_since = 0.0
        self._track: MediaStreamTrack | None = None
        self._track_arrived = asyncio.Event()
        self._connected = asyncio.Event()
        self._pump: asyncio.Task | None = None
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        session.stop_source = self.stop

    async def answer(self, offer: Offer) -> str:
        """The SDP answer (recvonly audio); OfferError if aiortc cannot take the offer."""
        pc = self.pc

        @pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio" and self._track is None:
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
        except Exception as exc:  # aiortc raises ValueError/OperationError/InvalidStateError
            raise OfferError(f"offer rejected: {exc}") from None
        return pc.localDescription.sdp

    def start(self) -> None:
        self._pump = asyncio.get_running_loop().create_task(self._run(), name=f"talk mic {self._session.camera_id}")

    async def _run(self) -> None:
        reason = "microphone track ended"
        try:
            try:
                async with asyncio.timeout(self._settings.connect_timeout):
                    await self._connected.wait()
                    await self._track_arrived.wait()
            except TimeoutError:
                reason = f"not connected within {self._settings.connect_timeout:.0f}s"
                return
            assert self._track is not None
            while True:
                try:
                    async with asyncio.timeout(self._settings.idle_timeout):
                        frame = await self._track.recv()
                except TimeoutError:
                    reason = f"no audio from the microphone for {self._settings.idle_timeout:.0f}s"
                    return
                except MediaStreamError:
                    return
                received_at = time.monotonic()
                self._sessions.counters.frames_received += 1
                pcmu = await asyncio.get_running_loop().run_in_executor(self._executor, self._encode, frame)
                self._queue(pcmu, received_at)
        except asyncio.CancelledError:
            reason = ""
            raise
        finally:
            if reason:
                self._end_soon(reason)

    def _encode(self, frame) -> bytes:
        with self._encoder_lock:
            return self._encoder.encode(frame)

    def _flush(self) -> bytes:
        with self._encoder_lock:
            return self._encoder.flush()

    def _queue(self, pcmu: bytes, received_at: float) -> None:
        if not self._pending:
            self._pending_since = received_at
        self._pending += pcmu
        if len(self._pending) >= self._settings.chunk_bytes - CHUNK_SLACK_BYTES:
            self._session.uplink.send(bytes(self._pending), self._pending_since)
            self._pending.clear()

    def _end_soon(self, reason: str) -> None:
        # Ending awaits stop(), which cancels the pump: never from inside the pump itself.
        if self._session.end_reason is None:
            asyncio.get_running_loop().create_task(self._sessions.end(self._session, reason), name="talk end")

    async def stop(self) -> None:
        """Stop receiving: the pump, then the resampler's tail, then the peer connection."""
        pump = self._pump
        if pump is not None and pump is not asyncio.current_task() and not pump.done():
            pump.cancel()
            await asyncio.wait([pump])
        tail = await asyncio.get_running_loop().run_in_executor(self._executor, self._flush)
        self._pending += tail
        if self._pending:
            self._session.uplink.send(bytes(self._pending), time.monotonic())
            self._pending.clear()
        await self.pc.close()
