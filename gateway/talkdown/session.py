"""Talk sessions: who is talking to which camera speaker, one talker per camera at a time.

A `TalkSession` is one talker holding one camera's speaker: it owns the `SpeakerUplink`
that carries its G.711 to the camera system. Talkers rank by source:

1. "microphone": a live operator (WHIP);
2. "file": a file played through the API;
3. "clip": a rule's clip (clip_playback.py).

A higher-ranked talker preempts the holder: the holder's queued audio is dropped at once
(the operator is heard now, not after it), its source stops between whole chunks, its
POSTs end cleanly, and it ends "preempted by a live talker". A microphone or a file that
ranks no higher than the holder gets `CameraBusy` (409, naming the holder's start time).
A clip never cuts in: it waits for the speaker (`wait_for_speaker`), first come first
served behind other clips, and is handed the speaker as the holder leaves.

`TalkSessions` ends sessions exactly once whatever ends them (DELETE, idle microphone,
failed connection, WEP refusing, file played, preemption, shutdown) and logs each with
camera, start, duration and bytes.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gateway.api.errors import ApiError
from gateway.config import TalkdownConfig
from gateway.talkdown.stats import TalkCounters
from gateway.talkdown.upstream import SpeakerUplink, UplinkFailed

if TYPE_CHECKING:
    from gateway.cameras import CameraDirectory
    from gateway.cluster.leases import Lease
    from gateway.cluster.speakers import ClusterSpeakers

log = logging.getLogger("gateway.talkdown")

# How long an ending session waits for WEP to answer its last POST.
CLOSE_TIMEOUT = 5.0

# Who may take a speaker from whom: a higher rank preempts a lower one.
RANK = {"clip": 0, "file": 1, "microphone": 2}
PREEMPTED_BY = {"microphone": "preempted by a live talker", "file": "preempted by a file being played"}


class CameraBusy(Exception):
    """The camera's speaker is held by a talker this one may not preempt (HTTP 409)."""

    def __init__(self, holder: TalkSession):
        super().__init__(
            f"camera {holder.camera_id!r} speaker is in use by another talker "
            f"({holder.source}) since {holder.started_iso}"
        )


class CameraBusyElsewhere(CameraBusy):
    """The speaker is held by a talker on another node of the cluster (HTTP 409)."""

    def __init__(self, message: str):
        Exception.__init__(self, message)


class SpeakerUnavailable(Exception):
    """In a cluster, Redis cannot say whether another node's talker holds the speaker
    (HTTP 503): never two talkers, so nobody talks until it can."""


@dataclass(eq=False)
class TalkSession:
    id: str
    camera_id: str
    source: str  # "microphone", "file" or "clip"
    uplink: SpeakerUplink
    started_at: float = field(default_factory=time.time)
    started_mono: float = field(default_factory=time.monotonic)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    end_reason: str | None = None
    preempted: bool = False  # a higher-ranked talker took the speaker: queued audio is dropped
    # Called first when the session ends: stop producing audio (close the peer connection).
    stop_source: Callable[[], Awaitable[None]] | None = None

    @property
    def started_iso(self) -> str:
        return datetime.fromtimestamp(self.started_at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

    @property
    def bytes_sent(self) -> int:
        return self.uplink.bytes_sent

    @property
    def seconds_sent(self) -> float:
        return self.uplink.bytes_sent / 8000  # PCMU: 8000 one-byte samples per second


class TalkSessions:
    def __init__(self, cameras: CameraDirectory, settings: TalkdownConfig, counters: TalkCounters | None = None):
        self._cameras = cameras  # each camera's speaker, through its backend
        self.settings = settings
        self.counters = counters or TalkCounters()
        self._by_camera: dict[str, TalkSession] = {}
        self._by_id: dict[str, TalkSession] = {}
        # Clips waiting for a camera's speaker, oldest first; each future gets its session.
        self._waiting: dict[str, deque[asyncio.Future[TalkSession]]] = {}
        self._ending: set[asyncio.Task] = set()  # ends started from sync code (preemption, failure)
        self._closed = False
        # In a cluster: the speaker lease per camera this node's talkers hold (one per
        # camera, whichever local talker has the speaker; given up when it stays free).
        self.claims: ClusterSpeakers | None = None
        self._claimed: dict[str, Lease] = {}

    def join_cluster(self, claims: ClusterSpeakers) -> None:
        self.claims = claims
        claims.preempt_local = self._preempt_for_peer

    def __len__(self) -> int:
        return len(self._by_id)

    @property
    def cameras(self) -> CameraDirectory:
        return self._cameras

    @property
    def closed(self) -> bool:
        return self._closed

    def get(self, session_id: str) -> TalkSession | None:
        return self._by_id.get(session_id)

    def holder(self, camera_id: str) -> TalkSession | None:
        return self._by_camera.get(camera_id)

    def waiting(self, camera_id: str) -> int:
        """Clips waiting for the camera's speaker."""
        return sum(not turn.done() for turn in self._waiting.get(camera_id, ()))

    def check_free(self, camera_id: str, source: str) -> None:
        """CameraBusy if the camera's speaker is held by a talker `source` may not preempt."""
        holder = self._by_camera.get(camera_id)
        if holder is not None and RANK[source] <= RANK[holder.source]:
            self.counters.refused_busy += 1
            raise CameraBusy(holder)

    def reserve(self, camera_id: str, source: str) -> TalkSession:
        """Take the camera's speaker for a new talker, preempting a lower-ranked holder;
        CameraBusy if the holder ranks as high or higher."""
        self.check_free(camera_id, source)
        holder = self._by_camera.get(camera_id)
        if holder is not None:
            self._preempt(holder, source)
        return self._take(camera_id, source)

    async def reserve_shared(self, camera_id: str, source: str) -> TalkSession:
        """reserve(), holding the cluster's speaker lease first when there is a cluster:
        CameraBusy also when a talker on another node keeps the speaker, SpeakerUnavailable
        when Redis cannot tell."""
        self.check_free(camera_id, source)
        await self._claim(camera_id, source)
        try:
            return self.reserve(camera_id, source)
        except CameraBusy:
            self._drop_claim_soon(camera_id)
            raise

    async def _claim(self, camera_id: str, source: str) -> None:
        if self.claims is None or camera_id in self._claimed:
            return
        from gateway.cluster.leases import ClusterUnavailable
        from gateway.cluster.speakers import SpeakerHeldElsewhere

        try:
            lease = await self.claims.claim(camera_id, source, lambda: self._claim_lapsed(camera_id))
        except SpeakerHeldElsewhere as exc:
            self.counters.refused_busy += 1
            raise CameraBusyElsewhere(str(exc)) from None
        except ClusterUnavailable:
            raise SpeakerUnavailable(
                f"camera {camera_id!r}: the cluster cannot say who holds the speaker (Redis unreachable)"
            ) from None
        self._claimed[camera_id] = lease

    def _drop_claim_soon(self, camera_id: str) -> None:
        """Give the cluster lease up once the speaker stays free (a preemption hands it on
        within the same turn of the loop)."""
        if camera_id in self._claimed:
            asyncio.get_running_loop().call_soon(self._drop_claim, camera_id)

    def _drop_claim(self, camera_id: str) -> None:
        if camera_id in self._by_camera or self.claims is None:
            return
        lease = self._claimed.pop(camera_id, None)
        if lease is not None:
            self.claims.release(lease)

    def _claim_lapsed(self, camera_id: str) -> None:
        """Redis stayed away past the lease: another node may talk now, so this one stops."""
        self._claimed.pop(camera_id, None)
        holder = self._by_camera.get(camera_id)
        if holder is not None:
            self._end_soon(holder, "the cluster's speaker lease lapsed (Redis unreachable)")

    def _preempt_for_peer(self, camera_id: str, source: str) -> bool:
        holder = self._by_camera.get(camera_id)
        if holder is None or RANK[source] <= RANK[holder.source]:
            return False
        self._preempt(holder, source)
        return True

    async def wait_for_speaker(self, camera_id: str, wait_s: float) -> TalkSession | None:
        """A clip's session once the speaker is free and the clips that came first have had
        it; None if that takes longer than `wait_s` (or the gateway is shutting down)."""
        deadline = time.monotonic() + wait_s
        session = await self._wait_locally(camera_id, wait_s)
        while session is not None and self.claims is not None and camera_id not in self._claimed:
            try:
                await self._claim(camera_id, "clip")
            except (CameraBusyElsewhere, SpeakerUnavailable) as exc:
                if time.monotonic() + 0.25 >= deadline:
                    self._end_soon(session, f"skipped: {exc}")
                    return None
                await asyncio.sleep(0.25)
        return session

    async def _wait_locally(self, camera_id: str, wait_s: float) -> TalkSession | None:
        waiting = self._waiting.setdefault(camera_id, deque())
        if self._closed:
            return None
        if camera_id not in self._by_camera and not waiting:
            return self._take(camera_id, "clip")
        turn: asyncio.Future[TalkSession] = asyncio.get_running_loop().create_future()
        waiting.append(turn)
        try:
            await asyncio.wait([turn], timeout=wait_s)
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled() and turn.exception() is None:
                self._end_soon(turn.result(), "the clip was cancelled")  # handed over as its caller left
            raise
        finally:
            if not turn.done():
                turn.cancel()
                waiting.remove(turn)
        if turn.cancelled():
            return None
        return turn.result()

    def _take(self, camera_id: str, source: str) -> TalkSession:
        session: TalkSession

        def failed(error: UplinkFailed) -> None:
            self._end_soon(session, str(error))

        sink = self._cameras.backend_of(camera_id).speaker(camera_id)
        uplink = SpeakerUplink(sink, camera_id, self.settings, self.counters, on_failed=failed)
        session = TalkSession(secrets.token_urlsafe(16), camera_id, source, uplink)
        self._by_camera[camera_id] = session
        self._by_id[session.id] = session
        self.counters.sessions_started += 1
        log.info("talk session started (%s)", source, extra={"camera": camera_id})
        return session

    def _preempt(self, holder: TalkSession, source: str) -> None:
        # The speaker changes hands now, with nothing awaited: the holder's unsent audio is
        # dropped and its body ends after the chunk in flight; its source stops and its
        # POSTs are answered in the background.
        self.counters.preempted += 1
        log.info(
            "talk session (%s, started %s) preempted by a %s talker",
            holder.source,
            holder.started_iso,
            source,
            extra={"camera": holder.camera_id},
        )
        holder.preempted = True
        holder.uplink.drop()
        self._release(holder, hand_on=False)
        self._end_soon(holder, PREEMPTED_BY[source])

    def _release(self, session: TalkSession, hand_on: bool = True) -> None:
        """Free the camera's speaker if `session` holds it; the first waiting clip gets it."""
        if self._by_camera.get(session.camera_id) is not session:
            return
        del self._by_camera[session.camera_id]
        self._drop_claim_soon(session.camera_id)
        waiting = self._waiting.get(session.camera_id)
        while hand_on and waiting:
            turn = waiting.popleft()
            if turn.done():
                continue
            try:
                turn.set_result(self._take(session.camera_id, "clip"))
            except ApiError as exc:  # the camera left the listing: that clip fails, not this end
                turn.set_exception(exc)
            break

    def _end_soon(self, session: TalkSession, reason: str) -> None:
        """End a session from sync code: its reason is settled now, the rest runs in a task."""
        if session.end_reason is None:
            session.end_reason = reason
            task = asyncio.get_running_loop().create_task(self._finish(session), name="talk end")
            self._ending.add(task)
            task.add_done_callback(self._ending.discard)

    async def end(self, session: TalkSession, reason: str) -> None:
        """End a session once (the first reason stands); returns when it has ended."""
        if session.end_reason is not None:
            await session.ended.wait()
            return
        session.end_reason = reason
        await self._finish(session)

    async def _finish(self, session: TalkSession) -> None:
        """Stop the source, flush its audio to WEP (drop it if preempted), free the camera, log."""
        try:
            if session.stop_source is not None:
                await session.stop_source()
            await session.uplink.close(CLOSE_TIMEOUT, drop_queued=session.preempted)
        finally:
            self._by_id.pop(session.id, None)
            self._release(session)
            self.counters.sessions_ended += 1
            session.ended.set()
            log.info(
                "talk session ended: %s; camera %s, %s, started %s, %.1f s talked over %.1f s, %d bytes, %d POSTs",
                session.end_reason,
                session.camera_id,
                session.source,
                session.started_iso,
                session.seconds_sent,
                time.monotonic() - session.started_mono,
                session.bytes_sent,
                session.uplink.posts,
                extra={"camera": session.camera_id},
            )

    async def close_all(self) -> None:
        self._closed = True
        for waiting in self._waiting.values():
            for turn in waiting:
                turn.cancel()
        await asyncio.gather(
            *(self.end(session, "gateway shutting down") for session in list(self._by_id.values())),
            *list(self._ending),
            return_exceptions=True,
        )
