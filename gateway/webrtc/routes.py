"""WHEP routes (draft-ietf-wish-whep): `POST /whep/{camera}` with an SDP offer gives
`201 Created`, the SDP answer and a `Location`; `DELETE` on that location ends it.
Trickle ICE and ICE restarts (PATCH) are not offered: clients send a complete offer."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from gateway.api.errors import ApiError
from gateway.services import CAMERAS, SOURCES
from gateway.webrtc import sdp
from gateway.webrtc.track import NotH264Error
from gateway.webrtc.whep import SessionUnavailable, WhepSessions

WHEP_SESSIONS = web.AppKey("whep_sessions", WhepSessions)

# CORS for players on other origins is the edge's ([server] cors_origins, gateway/auth/cors.py).


async def post_offer(request: web.Request) -> web.Response:
    if request.content_type != "application/sdp":
        raise ApiError(
            415,
            "unsupported_media_type",
            "the offer must be sent as Content-Type: application/sdp",
            {"Accept-Post": "application/sdp"},
        )
    camera, quality = await request.app[CAMERAS].quality(request.match_info["camera"], request.query.get("quality"))
    raw = await request.read()
    if len(raw) > sdp.MAX_OFFER_BYTES:
        raise ApiError(413, "offer_too_large", f"the offer is larger than {sdp.MAX_OFFER_BYTES} bytes")
    try:
        offer = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "bad_offer", "the offer is not UTF-8 text") from None
    sessions = request.app[WHEP_SESSIONS]
    try:
        session, answer = await sessions.create(camera.id, quality, offer)
    except sdp.OfferError as exc:
        sessions.counters.offers_rejected += 1
        raise ApiError(400, "bad_offer", str(exc)) from None
    except (sdp.NoH264Error, NotH264Error) as exc:
        sessions.counters.offers_rejected += 1
        raise ApiError(406, "no_common_codec", str(exc)) from None
    except SessionUnavailable as exc:
        raise ApiError(503, "unavailable", str(exc), {"Retry-After": "2"}) from None
    location = f"/whep/{camera.id}/{session.id}"
    return web.Response(
        status=201,
        text=answer,
        content_type="application/sdp",
        headers={"Location": location, "Cache-Control": "no-store"},
    )


async def delete_session(request: web.Request) -> web.Response:
    sessions = request.app[WHEP_SESSIONS]
    session = sessions.get(request.match_info["session"])
    if session is None or session.camera_id != request.match_info["camera"]:
        raise ApiError(404, "not_found", "no such WHEP session")
    await sessions.close(session.id)
    return web.Response(status=200)


async def patch_session(request: web.Request) -> web.Response:
    raise ApiError(
        405,
        "method_not_allowed",
        "trickle ICE and ICE restarts are not supported: send a complete offer",
        {"Allow": "DELETE, OPTIONS"},
    )


async def options(request: web.Request) -> web.Response:
    return web.Response(status=204, headers={"Accept-Post": "application/sdp"})


async def _sessions_ctx(app: web.Application) -> AsyncIterator[None]:
    app[WHEP_SESSIONS] = WhepSessions(app[SOURCES])
    try:
        yield
    finally:
        await app[WHEP_SESSIONS].close_all()


async def _close_sessions(app: web.Application) -> None:
    """on_shutdown: the peers hear the end now, not after the shutdown grace."""
    if WHEP_SESSIONS in app:
        await app[WHEP_SESSIONS].close_all()


def add_routes(app: web.Application) -> None:
    # Runs after the gateway's services context (appended first), so SOURCES exists.
    app.cleanup_ctx.append(_sessions_ctx)
    app.on_shutdown.append(_close_sessions)
    app.router.add_post("/whep/{camera}", post_offer)
    app.router.add_route("OPTIONS", "/whep/{camera}", options)
    app.router.add_delete("/whep/{camera}/{session}", delete_session)
    app.router.add_patch("/whep/{camera}/{session}", patch_session)
    app.router.add_route("OPTIONS", "/whep/{camera}/{session}", options)
