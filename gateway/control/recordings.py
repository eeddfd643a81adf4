"""What a camera system keeps, for the console's timeline (DESIGN.md "Camera control"):

    GET  /api/v1/cameras/{camera}/timeline?from=&to=&scope=   recorded ranges and motion marks, cached
    GET  /api/v1/cameras/{camera}/bookmarks                    the camera's bookmarks
    POST /api/v1/cameras/{camera}/bookmarks                    {"name", "time", "duration_s", "description"}
    GET  /api/v1/cameras/{camera}/record                       {"recording", "since"}
    POST /api/v1/cameras/{camera}/record                       {"action": "start"|"stop", "seconds"}

Reading takes the token action `view`, writing `record`. A timeline asked again within
`TIMELINE_TTL` (the scrubber redraws often) is answered from memory; its times are rounded
to the scope, so repeated requests for "the last hour" share one answer.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import overload

from aiohttp import web

from gateway.api.bodies import json_fields
from gateway.api.errors import bad_request
from gateway.backends.base import Capability, Timeline
from gateway.events.model import EventError, iso, parse_time
from gateway.services import CAMERAS
from gateway.wep.recording_api import MAX_RECORD_SECONDS, SCOPES

TIMELINE_TTL = 10.0
TIMELINE_ENTRIES = 256
MAX_SPAN = timedelta(days=31)
DEFAULT_SPAN = timedelta(hours=1)
MAX_INTERVALS = 2000  # the finest scope that keeps a span under this many intervals is chosen
MAX_BODY = 4096
SCOPE_SECONDS = {
    "TENTH_SECOND": 0.1,
    "1_SECOND": 1,
    "10_SECONDS": 10,
    "100_SECONDS": 100,
    "1000_SECONDS": 1000,
    "10000_SECONDS": 10_000,
    "100000_SECONDS": 100_000,
    "1000000_SECONDS": 1_000_000,
}


class TimelineCache:
    def __init__(self) -> None:
        self._entries: OrderedDict[tuple, tuple[float, Timeline]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple) -> Timeline | None:
        found = self._entries.get(key)
        if found is None or time.monotonic() - found[0] > TIMELINE_TTL:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return found[1]

    def put(self, key: tuple, timeline: Timeline) -> None:
        self._entries[key] = (time.monotonic(), timeline)
        self._entries.move_to_end(key)
        while len(self._entries) > TIMELINE_ENTRIES:
            self._entries.popitem(last=False)


TIMELINES = web.AppKey("timelines", TimelineCache)


@overload
def _time(value: str, name: str) -> datetime: ...
@overload
def _time(value: str | None, name: str) -> datetime | None: ...
def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value.replace(" ", "+"))
    except EventError:
        raise bad_request(f"{name} must be an ISO 8601 time such as 2024-05-01T12:00:00Z, got {value[:60]!r}") from None


def timeline_window(query: dict[str, str], now: datetime) -> tuple[datetime, datetime, str]:
    """from, to and scope of a timeline query, checked and rounded to the scope."""
    end = _time(query.get("to"), "to") or now
    start = _time(query.get("from"), "from") or end - DEFAULT_SPAN
    if not start < end:
        raise bad_request("from must be before to")
    if end - start > MAX_SPAN:
        raise bad_request(f"a timeline spans at most {MAX_SPAN.days} days")
    scope = query.get("scope")
    if scope is None:
        span = (end - start).total_seconds()
        scope = next((s for s in SCOPES if span / SCOPE_SECONDS[s] <= MAX_INTERVALS), SCOPES[-1])
    elif scope not in SCOPES:
        raise bad_request(f"scope must be one of {', '.join(SCOPES)}")
    step = max(1.0, SCOPE_SECONDS[scope])
    start = datetime.fromtimestamp(start.timestamp() // step * step, UTC)
    end = datetime.fromtimestamp(-(-end.timestamp() // step) * step, UTC)
    return start, end, scope


async def timeline(request: web.Request) -> web.Response:
    start, end, scope = timeline_window(dict(request.query), datetime.now(UTC))
    directory = request.app[CAMERAS]
    camera = await directory.usable(request.match_info["camera"], Capability.RECORDED)
    cache = request.app[TIMELINES]
    key = (camera.id, start, end, scope)
    found = cache.get(key)
    if found is None:
        found = await directory.backend_of(camera.id).timeline(camera.id, iso(start), iso(end), scope)
        cache.put(key, found)
    return web.json_response(
        {
            "camera": camera.id,
            "from": iso(start),
            "to": iso(end),
            "scope": scope,
            "recordings": [{"from": a, "to": b} for a, b in found.recordings],
            "motion": [{"from": a, "to": b} for a, b in found.motion],
        },
        headers={"Cache-Control": "private, max-age=5"},
    )


async def bookmarks(request: web.Request) -> web.Response:
    directory = request.app[CAMERAS]
    camera = await directory.usable(request.match_info["camera"], Capability.RECORDED)
    found = await directory.backend_of(camera.id).bookmarks(camera.id)
    return web.json_response({"bookmarks": [_bookmark(b) for b in sorted(found, key=lambda b: b.start, reverse=True)]})


async def add_bookmark(request: web.Request) -> web.Response:
    body = await json_fields(request, {"name", "time", "duration_s", "description"}, MAX_BODY)
    name, description = body.get("name"), body.get("description", "")
    if not isinstance(name, str) or not 0 < len(name.strip()) <= 200:
        raise bad_request("name must be a string of 1 to 200 characters")
    if not isinstance(description, str) or len(description) > 2000:
        raise bad_request("description must be a string of at most 2000 characters")
    if not isinstance(body.get("time"), str):
        raise bad_request("time must be an ISO 8601 time such as 2024-05-01T12:00:00Z")
    at = _time(body["time"], "time")
    duration = body.get("duration_s", 10)
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not 0 <= duration <= 86400:
        raise bad_request("duration_s must be a number of seconds from 0 to 86400")
    directory = request.app[CAMERAS]
    camera = await directory.usable(request.match_info["camera"], Capability.RECORDED)
    made = await directory.backend_of(camera.id).add_bookmark(
        camera.id, name.strip(), iso(at), iso(at + timedelta(seconds=duration)), description
    )
    return web.json_response(_bookmark(made), status=201)


async def record_state(request: web.Request) -> web.Response:
    directory = request.app[CAMERAS]
    camera = await directory.usable(request.match_info["camera"], Capability.RECORDED)
    since = await directory.backend_of(camera.id).record_state(camera.id)
    return web.json_response({"recording": since is not None, "since": since or None})


async def record(request: web.Request) -> web.Response:
    body = await json_fields(request, {"action", "seconds"}, MAX_BODY)
    action, seconds = body.get("action"), body.get("seconds", 300)
    if action not in ("start", "stop"):
        raise bad_request('action must be "start" or "stop"')
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= MAX_RECORD_SECONDS:
        raise bad_request(f"seconds must be a whole number from 1 to {MAX_RECORD_SECONDS}")
    directory = request.app[CAMERAS]
    camera = await directory.usable(request.match_info["camera"], Capability.RECORDED)
    backend = directory.backend_of(camera.id)
    await backend.record(camera.id, action == "start", seconds)
    since = await backend.record_state(camera.id)
    return web.json_response({"recording": since is not None, "since": since or None})


def _bookmark(bookmark) -> dict:
    duration = (parse_time(bookmark.end) - parse_time(bookmark.start)).total_seconds()
    return {
        "id": bookmark.id,
        "name": bookmark.name,
        "time": bookmark.start,
        "duration_s": duration,
        "description": bookmark.description,
    }


def add_routes(app: web.Application) -> None:
    app[TIMELINES] = TimelineCache()
    base = "/api/v1/cameras/{camera}"
    app.router.add_get(f"{base}/timeline", timeline)
    app.router.add_get(f"{base}/bookmarks", bookmarks)
    app.router.add_post(f"{base}/bookmarks", add_bookmark)
    app.router.add_get(f"{base}/record", record_state)
    app.router.add_post(f"{base}/record", record)
