"""Talkdown routes: a browser microphone (WHIP) or an uploaded file to a camera speaker.

- `POST /whip/{camera}/talk`: WHIP (RFC 9725) offer with one sendonly audio track in,
  `201 Created` + `Location` + SDP answer out; `DELETE` on the location ends the talk
  and closes the upstream POST cleanly. OPTIONS as for WHEP; CORS is the edge's.
- `POST /api/v1/cameras/{camera}/talkdown`: a WAV / Ogg (opus) / MP3 body, played in
  real time; answers when done with `{"camera", "duration", "bytes", "posts"}`.

Both check the camera's speaker (spkc) first, before any WebRTC or decoding work
(`speaker.speaker_problem`, which rule clips ask too), and take the camera's speaker: a
microphone preempts a file or a clip, a file preempts a clip; otherwise 409 naming the
holder's start time (session.py ranks the talkers).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from gateway.api.errors import ApiError
from gateway.backends.base import Camera
from gateway.cluster.speakers import ClusterSpeakers
from gateway.services import CAMERAS, CLUSTER, CONFIG
from gateway.talkdown import file_playback
from gateway.talkdown.offer import NoAudioCodecError, parse_talk_offer
from gateway.talkdown.session import RANK, CameraBusy, SpeakerUnavailable, TalkSession, TalkSessions
from gateway.talkdown.speaker import speaker_problem
from gateway.talkdown.whip import MicrophoneReceiver
from gateway.webrtc.routes import options, patch_session
from gateway.webrtc.sdp import MAX_OFFER_BYTES, OfferError
from transcoders.pcmu import UnsupportedAudio

# Set before start-up to override the defaults (tests; the lead's [talkdown] section later).
TALK_SESSIONS = web.AppKey("talk_sessions", TalkSessions)
# Whole-file decodes: one at a time, so uploads cannot take both cores.
TALK_DECODER = web.AppKey("talk_decoder", ThreadPoolExecutor)

READ_BLOCK = 64 * 1024


def _busy(exc: CameraBusy) -> ApiError:
    return ApiError(409, "speaker_busy", str(exc), {"Retry-After": "5"})


async def _reserve(sessions: TalkSessions, camera_id: str, source: str) -> TalkSession:
    """The camera's speaker for a talker of `source`, or the 409 (busy) or 503 (the cluster
    cannot say who holds it) that refuses it."""
    try:
        return await sessions.reserve_shared(camera_id, source)
    except SpeakerUnavailable as exc:
        raise ApiError(503, "cluster_unavailable", str(exc), {"Retry-After": "2"}) from None
    except CameraBusy as exc:
        raise _busy(exc) from None


async def _speaker_camera(request: web.Request) -> Camera:
    """The camera, if its backend says it has a speaker that takes G.711; 404/409/503 otherwise."""
    camera = await request.app[CAMERAS].get(request.match_info["camera"])
    problem = speaker_problem(camera)
    if problem is not None:
        if problem.status == 409:
            request.app[TALK_SESSIONS].counters.refused_no_speaker += 1
        headers = {"Retry-After": "10"} if problem.status == 503 else None
        raise ApiError(problem.status, problem.code, str(problem), headers)
    return camera


async def post_talk_offer(request: web.Request) -> web.Response:
    if request.content_type != "application/sdp":
        raise ApiError(
            415,
            "unsupported_media_type",
            "the offer must be sent as Content-Type: application/sdp",
            {"Accept-Post": "application/sdp"},
        )
    camera = await _speaker_camera(request)
    sessions = request.app[TALK_SESSIONS]
    try:
        sessions.check_free(camera.id, "microphone")
    except CameraBusy as exc:
        raise _busy(exc) from None
    raw = await request.read()
    if len(raw) > MAX_OFFER_BYTES:
        raise ApiError(413, "too_large", f"the offer is larger than {MAX_OFFER_BYTES} bytes")
    try:
        offer = parse_talk_offer(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "bad_offer", "the offer is not UTF-8 text") from None
    except OfferError as exc:
        raise ApiError(400, "bad_offer", str(exc)) from None
    except NoAudioCodecError as exc:
        raise ApiError(406, "no_common_codec", str(exc)) from None
    session = await _reserve(sessions, camera.id, "microphone")  # 409 if taken while the offer was read
    receiver = MicrophoneReceiver(session, sessions)
    try:
        answer = await receiver.answer(offer)
    except BaseException as exc:
        await sessions.end(session, "offer rejected by aiortc")
        if isinstance(exc, OfferError):
            raise ApiError(400, "bad_offer", str(exc)) from None
        raise
    receiver.start()
    return web.Response(
        status=201,
        text=answer,
        content_type="application/sdp",
        headers={"Location": f"/whip/{camera.id}/talk/{session.id}", "Cache-Control": "no-store"},
    )


async def delete_talk(request: web.Request) -> web.Response:
    sessions = request.app[TALK_SESSIONS]
    session = sessions.get(request.match_info["session"])
    if session is None or session.camera_id != request.match_info["camera"]:
        raise ApiError(404, "not_found", "no such talk session")
    await sessions.end(session, "deleted by the talker")
    return web.Response(status=200)


async def _read_upload(request: web.Request, limit: int) -> bytes:
    too_large = ApiError(413, "too_large", f"the audio file is larger than {limit} bytes")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    body = bytearray()
    while block := await request.content.read(READ_BLOCK):
        body += block
        if len(body) > limit:
            raise too_large
    if not body:
        raise ApiError(400, "empty_file", "the request has no audio file in its body")
    return bytes(body)


async def post_talkdown_file(request: web.Request) -> web.Response:
    camera = await _speaker_camera(request)
    sessions = request.app[TALK_SESSIONS]
    settings = sessions.settings
    try:
        sessions.check_free(camera.id, "file")
    except CameraBusy as exc:
        raise _busy(exc) from None
    data = await _read_upload(request, request.app[CONFIG].limits.max_upload_bytes)
    try:
        pcmu = await asyncio.get_running_loop().run_in_executor(
            request.app[TALK_DECODER], file_playback.decode_upload, data, settings.max_file_seconds
        )
    except file_playback.DamagedAudio as exc:
        raise ApiError(400, "damaged_audio", str(exc)) from None
    except UnsupportedAudio as exc:
        raise ApiError(415, "unsupported_audio", str(exc)) from None
    session = await _reserve(sessions, camera.id, "file")

    def still_wanted() -> bool:
        transport = request.transport
        return transport is not None and not transport.is_closing()

    reason = await file_playback.play(sessions, session, pcmu, still_wanted)
    if session.uplink.failure is not None:
        raise ApiError(502, "upstream_rejected", str(session.uplink.failure))
    return web.json_response(
        {
            "camera": camera.id,
            "duration": round(session.seconds_sent, 3),
            "bytes": session.bytes_sent,
            "posts": session.uplink.posts,
            "ended": reason,
        }
    )


async def _talk_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[CONFIG].talkdown
    app[TALK_DECODER] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="talk-file")
    app[TALK_SESSIONS] = TalkSessions(app[CAMERAS], settings)
    if CLUSTER in app:  # one talker per speaker across the nodes
        app[TALK_SESSIONS].join_cluster(ClusterSpeakers(app[CLUSTER], RANK))
    try:
        yield
    finally:
        await app[TALK_SESSIONS].close_all()
        app[TALK_DECODER].shutdown(wait=False, cancel_futures=True)


async def _end_sessions(app: web.Application) -> None:
    """on_shutdown: talk ends now (a file being played answers its request), not after the grace."""
    if TALK_SESSIONS in app:
        await app[TALK_SESSIONS].close_all()


def add_routes(app: web.Application) -> None:
    # Runs after the gateway's services context (appended first), so the backends exist.
    app.cleanup_ctx.append(_talk_ctx)
    app.on_shutdown.append(_end_sessions)
    app.router.add_post("/whip/{camera}/talk", post_talk_offer)
    app.router.add_route("OPTIONS", "/whip/{camera}/talk", options)
    app.router.add_delete("/whip/{camera}/talk/{session}", delete_talk)
    app.router.add_patch("/whip/{camera}/talk/{session}", patch_session)
    app.router.add_route("OPTIONS", "/whip/{camera}/talk/{session}", options)
    app.router.add_post("/api/v1/cameras/{camera}/talkdown", post_talkdown_file)
