"""WHEP sessions: one aiortc peer connection per viewer, fed by a hub reader.

Life of a session (draft-ietf-wish-whep): the offer comes in, the reader is subscribed
(starting the source on demand), the answer goes out, and the session lives until the
viewer DELETEs it, ICE/DTLS fails, or it never connects within `connect_timeout`.
Every path ends in `_close()`, which closes the peer connection and, through the
tracks, the hub readers, so an abandoned viewer never holds a source open.

Audio: when the offer's audio section accepts opus and the camera has a microphone (its
source joined the camera's audio pull), the session also reads the camera's opus hub and
sends the packets as they are; otherwise aiortc answers the audio section inactive.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import weakref
from dataclasses import dataclass, field

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from gateway.media.fmp4 import InitSegment
from gateway.media.hub import Hub, HubClosed, HubReader
from gateway.media.source import AUDIO_WAIT
from gateway.media.sources import SourceRegistry
from gateway.webrtc import sdp
from gateway.webrtc.opus_track import OPUS_QUEUE_PACKETS, HubOpusTrack, use_passthrough
from gateway.webrtc.stats import WebrtcCounters
from gateway.webrtc.track import AccessUnits, HubVideoTrack, avc_config
from gateway.webrtc.video_sender import VideoRtpSender

log = logging.getLogger("gateway.webrtc")


@dataclass(frozen=True)
class WhepSettings:
    connect_timeout: float = 10.0  # ICE + DTLS must complete within this, or the session goes
    first_frame_timeout: float = 15.0  # the source must deliver its init segment within this
    max_sessions: int = 500


class SessionUnavailable(Exception):
    """The session cannot be made now (no video yet, too many viewers): HTTP 503."""


@dataclass
class WhepSession:
    id: str
    camera_id: str
    quality: str
    pc: RTCPeerConnection
    track: HubVideoTrack
    audio: HubOpusTrack | None = None
    video: VideoRtpSender | None = None  # set once the offer is accepted
    created_at: float = field(default_factory=time.monotonic)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    watchdog: asyncio.Task | None = None


class WhepSessions:
    def __init__(self, sources: SourceRegistry, settings: WhepSettings | None = None):
        self._sources = sources
        self.settings = settings or WhepSettings()
        self.counters = WebrtcCounters()
        self._sessions: dict[str, WhepSession] = {}
        self._units: weakref.WeakKeyDictionary[Hub, AccessUnits] = weakref.WeakKeyDictionary()

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: str) -> WhepSession | None:
        return self._sessions.get(session_id)

    async def create(self, camera_id: str, quality: str, offer_text: str) -> tuple[WhepSession, str]:
        """Answer an offer: returns the session and the SDP answer.

        Raises sdp.OfferError (400), sdp.NoH264Error / NotH264Error (406),
        SessionUnavailable (503).
        """
        offer = sdp.parse_offer(offer_text)
        if len(self._sessions) >= self.settings.max_sessions:
            raise SessionUnavailable(f"the gateway serves {self.settings.max_sessions} WebRTC viewers already")
        hub = self._sources.hub(camera_id, quality)
        try:
            reader = hub.subscribe()
        except HubClosed:
            raise SessionUnavailable("the camera's stream is closing; try again") from None
        try:
            init = await self._first_init(reader)
            config, _ = avc_config(init)
            choice = sdp.choose_h264(offer.video, config.profile_level_id)
            if not choice.matches_stream:
                self.counters.profile_mismatches += 1
                log.warning(
                    "no offered H.264 profile covers the stream's %s; sending on %s",
                    config.profile_level_id,
                    choice.profile_level_id,
                    extra={"camera": camera_id},
                )
            track = HubVideoTrack(reader, init, self._units_for(hub), self.counters)
        except BaseException:
            reader.close()
            raise
        try:
            # After the first init: by then the source has joined the camera's audio, if any.
            audio = await self._opus_track(camera_id, offer)
        except BaseException:
            track.stop()
            raise
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        session = WhepSession(secrets.token_urlsafe(16), camera_id, quality, pc, track, audio)
        try:
            answer = await self._negotiate(session, offer, choice)
        except BaseException:
            track.stop()
            if audio is not None:
                audio.stop()
            await pc.close()
            raise
        self._sessions[session.id] = session
        self.counters.sessions_started += 1
        session.watchdog = asyncio.get_running_loop().create_task(self._watch(session), name=f"whep {session.id[:6]}")
        if audio is not None:
            self.counters.audio_sessions += 1
        log.info(
            "WebRTC viewer joined (%s, %s, %s)",
            quality,
            choice.profile_level_id,
            "opus" if audio is not None else "no audio",
            extra={"camera": camera_id},
        )
        return session, answer

    async def _opus_track(self, camera_id: str, offer: sdp.Offer) -> HubOpusTrack | None:
        """The camera's audio for this viewer, if both sides have it (see the module docstring)."""
        if offer.audio is None or sdp.choose_opus(offer.audio) is None:
            return None
        audio = self._sources.camera_audio(camera_id)
        if audio is None:
            return None  # no microphone (no audio AdaptationSet) or audio turned off
        if not audio.track_ready.is_set():
            # The source waits as long for the audio track before its first init segment.
            try:
                await asyncio.wait_for(audio.track_ready.wait(), AUDIO_WAIT)
            except TimeoutError:
                log.warning("no camera audio yet: WebRTC video only", extra={"camera": camera_id})
                return None
        try:
            reader = audio.opus_hub.subscribe(queue_frames=OPUS_QUEUE_PACKETS)
        except HubClosed:
            return None
        return HubOpusTrack(reader, self.counters)

    async def _first_init(self, reader: HubReader) -> InitSegment:
        # A new reader's first item is the hub's init segment (or, for a source that
        # is just starting, the one it publishes first).
        deadline = time.monotonic() + self.settings.first_frame_timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                item = await asyncio.wait_for(reader.get(), max(remaining, 0.001))
            except (TimeoutError, HubClosed):
                raise SessionUnavailable("no video from the camera yet") from None
            if isinstance(item, InitSegment):
                return item

    def _units_for(self, hub: Hub) -> AccessUnits:
        units = self._units.get(hub)
        if units is None:
            units = self._units[hub] = AccessUnits()
        return units

    async def _negotiate(self, session: WhepSession, offer: sdp.Offer, choice: sdp.H264Choice) -> str:
        pc = session.pc
        opus = sdp.choose_opus(offer.audio) if session.audio is not None and offer.audio is not None else None
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp.offer_for_aiortc(offer, choice, opus), "offer"))
        except Exception as exc:  # noqa: BLE001  aiortc raises ValueError/OperationError/InvalidStateError
            raise sdp.OfferError(f"offer rejected: {exc}") from None
        session.video = VideoRtpSender(pc.addTrack(session.track), session.track, self.counters)
        if session.audio is not None:
            # The first audio transceiver, the offer's first audio section (sdp.Offer.audio).
            use_passthrough(pc.addTrack(session.audio))

        @pc.on("connectionstatechange")
        def _on_state() -> None:
            state = pc.connectionState
            if state == "connected":
                session.connected.set()
            elif state in ("failed", "closed"):
                if state == "failed":
                    self.counters.connection_failures += 1
                session.ended.set()

        session.track.on("ended", session.ended.set)
        await pc.setLocalDescription(await pc.createAnswer())
        return sdp.answer_for_viewer(pc.localDescription.sdp, choice)

    async def _watch(self, session: WhepSession) -> None:
        reason = "ended"
        try:
            try:
                await asyncio.wait_for(_first_of(session.connected, session.ended), self.settings.connect_timeout)
            except TimeoutError:
                self.counters.connect_timeouts += 1
                reason = f"not connected within {self.settings.connect_timeout:.0f}s"
                return
            await session.ended.wait()
            reason = f"connection {session.pc.connectionState}"
        finally:
            await self._close(session, reason)

    async def close(self, session_id: str) -> bool:
        session = self._sessions.get(session_id)
        if session is None:
            return False
        await self._close(session, "deleted by the viewer")
        return True

    async def _close(self, session: WhepSession, reason: str) -> None:
        if self._sessions.pop(session.id, None) is None:
            return
        self.counters.sessions_closed += 1
        session.ended.set()
        session.track.stop()
        if session.audio is not None:
            session.audio.stop()
        await session.pc.close()
        if session.watchdog is not None and session.watchdog is not asyncio.current_task():
            session.watchdog.cancel()
        log.info(
            "WebRTC viewer left: %s (%d frames sent, %d retransmitted packets, %d keyframe requests%s)",
            reason,
            session.track.frames_sent,
            session.video.retransmissions if session.video else 0,
            session.track.keyframe_requests,
            ""
            if session.audio is None
            else f", {session.audio.packets_sent} opus packets sent, {session.audio.packets_dropped} dropped",
            extra={"camera": session.camera_id},
        )

    async def close_all(self) -> None:
        for session in list(self._sessions.values()):
            await self._close(session, "gateway shutting down")


async def _first_of(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
