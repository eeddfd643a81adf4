"""Who is asking and about which camera: session lookup and camera ids for the routes."""

from __future__ import annotations

import hashlib

from aiohttp import web

from gateway.emulator.cameras import Camera
from gateway.emulator.envelope import WepError
from gateway.emulator.event_log import parse_iso_ms
from gateway.emulator.sessions import Session, SessionStore


def session_token(request: web.Request, body: dict | None = None) -> str | None:
    """Guide: the session goes in the `session` query parameter or the `x-avg-session`
    header; body routes (/logout, /media/rtmp) also carry it as "session"."""
    token = request.query.get("session") or request.headers.get("x-avg-session")
    if not token and isinstance(body, dict):
        value = body.get("session")
        token = value if isinstance(value, str) else None
    return token


def require_session(store: SessionStore, request: web.Request, body: dict | None = None) -> Session:
    token = session_token(request, body)
    if not token:
        raise WepError(401, "session is required")
    session = store.get(token)
    if session is None:
        raise WepError(401, "session is invalid or has expired")
    return session


def session_gid(session: Session) -> str:
    """A session's public id (the guide's lockSessionGid; the command logs' sessionGid):
    stable, and not the session token itself."""
    return hashlib.sha256(session.token.encode()).hexdigest()[:16]


def require_camera(cameras: dict[str, Camera], camera_id: str | None) -> Camera:
    if not camera_id:
        raise WepError(400, "cameraId is required")
    camera = cameras.get(camera_id)
    if camera is None:
        raise WepError(404, "camera not found.")
    return camera


async def json_body(request: web.Request) -> dict:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise WepError(400, "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise WepError(400, "request body must be a JSON object")
    return body


def query_list(request: web.Request, name: str) -> list[str]:
    """A list parameter, repeated (ids=a&ids=b) or comma-separated (ids=a,b)."""
    return [item for value in request.query.getall(name, []) for item in value.split(",") if item]


def query_ids(request: web.Request) -> list[str]:
    """`ids`, or the deprecated `id` ("only if the ids field is empty", guide /alarm, /entity);
    400 when neither is given."""
    ids = query_list(request, "ids") or ([request.query["id"]] if request.query.get("id") else [])
    if not ids:
        raise WepError(400, "ids is required")
    return ids


def query_time(request: web.Request, name: str, default: int) -> int:
    """An optional ISO 8601 query time as Unix milliseconds; 400 naming it when unreadable."""
    value = request.query.get(name)
    if not value:
        return default
    try:
        return parse_iso_ms(value)
    except ValueError:
        raise WepError(400, f"{name} must be an ISO 8601 time, not {value!r}") from None
