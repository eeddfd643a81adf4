"""GET/POST/PUT/DELETE /bookmark, GET /bookmarks and GET /bookmark/search (guide, "Web
Endpoint API Routes").

The guide documents the answers as "string"; here they are {"bookmark": {...}} (GET, POST,
PUT) and {"bookmarks": [...]} (GET /bookmarks, /bookmark/search); DELETE answers bare success.
"""

from __future__ import annotations

import time

from aiohttp import web

from gateway.emulator.access import json_body, query_list, query_time, require_session
from gateway.emulator.bookmarks import PROTECTION_TYPES, BookmarkError, UnknownBookmark, bookmark_fields
from gateway.emulator.envelope import WepError, success
from gateway.emulator.state import EMULATOR

MAX_DELETE_IDS = 16  # guide, DELETE /bookmark: "up to 16 bookmarks"
MAX_SEARCH_CAMERAS = 30  # guide, /bookmark/search cameraIds: "The maximum number ... is 30"
WEEK_MS = 7 * 24 * 3600 * 1000
routes = web.RouteTableDef()


def _not_found() -> WepError:
    return WepError(404, "bookmark not found.")


def _fields(emu, spec, new: bool) -> dict:
    try:
        fields = bookmark_fields(spec, new)
    except BookmarkError as exc:
        raise WepError(400, str(exc)) from None
    if any(camera_id not in emu.cameras for camera_id in fields.get("camera_ids", ())):
        raise WepError(404, "camera not found.")
    return fields


@routes.get("/bookmarks")
async def bookmarks(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    require_session(emu.sessions, request)
    return success({"bookmarks": [b.to_json() for b in emu.bookmark_book.all()]})


@routes.get("/bookmark")
async def bookmark(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    require_session(emu.sessions, request)
    bookmark_id = request.query.get("id")
    if not bookmark_id:
        raise WepError(400, "id is required")
    try:
        return success({"bookmark": emu.bookmark_book.get(bookmark_id).to_json()})
    except UnknownBookmark:
        raise _not_found() from None


@routes.post("/bookmark")
async def add_bookmark(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    body = await json_body(request)
    require_session(emu.sessions, request, body)
    try:
        added = emu.bookmark_book.add(_fields(emu, body.get("bookmark"), new=True))
    except BookmarkError as exc:
        raise WepError(400, str(exc)) from None
    return success({"bookmark": added.to_json()})


@routes.put("/bookmark")
async def update_bookmark(request: web.Request) -> web.Response:
    """Guide: "Only provide the values to be updated"."""
    emu = request.app[EMULATOR]
    body = await json_body(request)
    require_session(emu.sessions, request, body)
    spec = body.get("bookmark")
    bookmark_id = spec.get("id") if isinstance(spec, dict) else None
    if not isinstance(bookmark_id, str) or not bookmark_id:
        raise WepError(400, "bookmark.id is required")
    fields = _fields(emu, spec, new=False)
    try:
        changed = emu.bookmark_book.change(bookmark_id, fields)
    except BookmarkError as exc:
        raise WepError(400, str(exc)) from None
    except UnknownBookmark:
        raise _not_found() from None
    return success({"bookmark": changed.to_json()})


@routes.delete("/bookmark")
async def delete_bookmarks(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    body = await json_body(request)
    require_session(emu.sessions, request, body)
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise WepError(400, "ids must be a non-empty list of bookmark ids")
    if len(ids) > MAX_DELETE_IDS:
        raise WepError(400, f"ids: at most {MAX_DELETE_IDS} bookmark ids")
    emu.bookmark_book.delete(ids)
    return success()


@routes.get("/bookmark/search")
async def search_bookmarks(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    require_session(emu.sessions, request)
    camera_ids = tuple(dict.fromkeys(query_list(request, "cameraIds")))
    if len(camera_ids) > MAX_SEARCH_CAMERAS:
        raise WepError(400, f"cameraIds: at most {MAX_SEARCH_CAMERAS} camera ids")
    if any(camera_id not in emu.cameras for camera_id in camera_ids):
        raise WepError(404, "camera not found.")
    protection = request.query.get("type", "ALL")
    if protection not in PROTECTION_TYPES:
        raise WepError(400, f"type must be one of {', '.join(PROTECTION_TYPES)}, not {protection!r}")
    # Guide: `to` defaults to now, `from` to "1 week prior to the to parameter".
    to_ms = query_time(request, "to", int(time.time() * 1000))
    from_ms = query_time(request, "from", to_ms - WEEK_MS)
    if from_ms >= to_ms:
        raise WepError(400, "from must be earlier than to")
    found = emu.bookmark_book.search(from_ms, to_ms, camera_ids, request.query.get("name", ""), protection)
    return success({"bookmarks": [b.to_json() for b in found]})
