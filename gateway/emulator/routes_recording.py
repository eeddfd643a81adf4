"""GET /timeline, POST /camera/record/manual and GET /camera/manual-record-state (guide,
"Web Endpoint API Routes").

The guide documents every answer as "string"; the shapes here are the ones the gateway reads
(gateway/wep/recording_api.py): {"timelines": [{"cameraId", "scope", "recordings": [{"start",
"end"}], "motion": [{"start", "end"}]}]} and {"states": [{"cameraId", "startTime",
"maxDurationSec"}]}.
"""

from __future__ import annotations

import time

from aiohttp import web

from gateway.api.query import is_ascii_decimal
from gateway.emulator.access import json_body, query_list, query_time, require_session
from gateway.emulator.envelope import WepError, success
from gateway.emulator.event_log import iso_ms
from gateway.emulator.manual_record import MAX_DURATION_S
from gateway.emulator.recording_timeline import SCOPES, STORAGES, Span, at_scope, paired
from gateway.emulator.state import EMULATOR

WEEK_MS = 7 * 24 * 3600 * 1000
RECORD_ACTIONS = ("START", "STOP")
routes = web.RouteTableDef()


def _known_cameras(emu, camera_ids: list[str], name: str = "cameraIds") -> list[str]:
    if not camera_ids:
        raise WepError(400, f"{name} is required")
    if any(camera_id not in emu.cameras for camera_id in camera_ids):
        raise WepError(404, "camera not found.")
    return list(dict.fromkeys(camera_ids))


def _choice(request: web.Request, name: str, allowed, default: str | None = None) -> str:
    value = request.query.get(name, default)
    if value is None:
        raise WepError(400, f"{name} is required (one of {', '.join(allowed)})")
    if value not in allowed:
        raise WepError(400, f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _non_negative(text: str) -> bool:
    return is_ascii_decimal(text) and len(text) <= 20 and float(text) >= 0


def _check_umd_filters(request: web.Request) -> None:
    """umdRange (ms) and rareness (percent) filter UMD activity, which the emulator never
    raises: checked, then without effect."""
    umd_range, rareness = request.query.get("umdRange"), request.query.get("rareness")
    if umd_range is not None and not _non_negative(umd_range):
        raise WepError(400, f"umdRange must be a number of milliseconds >= 0, not {umd_range!r}")
    if rareness is not None and not (rareness.isascii() and rareness.isdigit() and int(rareness) <= 100):
        raise WepError(400, f"rareness must be a whole percentage from 0 to 100, not {rareness!r}")


def _spans(spans: list[Span]) -> list[dict]:
    return [{"start": iso_ms(start), "end": iso_ms(end)} for start, end in spans]


@routes.get("/timeline")
async def timeline(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    require_session(emu.sessions, request)
    camera_ids = _known_cameras(emu, query_list(request, "cameraIds"))
    scope = _choice(request, "scope", SCOPES)
    storage = _choice(request, "storage", STORAGES, "LAYER_1")
    _check_umd_filters(request)
    now_ms = int(time.time() * 1000)
    # Guide: start defaults to "1 week before the current date", end to "current time".
    window = query_time(request, "start", now_ms - WEEK_MS), query_time(request, "end", now_ms)
    if window[0] >= window[1]:
        raise WepError(400, "start must be earlier than end")
    # One storage layer: LAYER_1 (and ALL) holds every recording, LAYER_2 none.
    video = emu.recorded_spans(now_ms) if storage != "LAYER_2" else []
    timelines = []
    for camera_id in camera_ids:
        motion = paired(emu.site.log.marks(camera_id, "DEVICE_MOTION_START", "DEVICE_MOTION_STOP"), now_ms)
        timelines.append({"cameraId": camera_id, "scope": scope,
                          "recordings": _spans(at_scope(video, window, SCOPES[scope])),
                          "motion": _spans(at_scope(motion, window, SCOPES[scope]))})  # fmt: skip
    return success({"timelines": timelines})


@routes.post("/camera/record/manual")
async def record_manual(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    body = await json_body(request)
    require_session(emu.sessions, request, body)
    camera_ids = body.get("cameraIds")
    if not isinstance(camera_ids, list) or not all(isinstance(i, str) for i in camera_ids):
        raise WepError(400, "cameraIds must be a list of camera ids")
    camera_ids = _known_cameras(emu, camera_ids)
    action = body.get("action")
    if action not in RECORD_ACTIONS:
        raise WepError(400, f"action must be START or STOP, not {action!r}")
    seconds = body.get("maxDurationSec", MAX_DURATION_S)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= MAX_DURATION_S:
        raise WepError(400, f"maxDurationSec must be a whole number of seconds from 1 to {MAX_DURATION_S} (24 h), "
                            f"not {seconds!r}")  # fmt: skip
    if action == "START":
        emu.manual.start(camera_ids, seconds)
    else:
        emu.manual.stop(camera_ids)
    return success()


@routes.get("/camera/manual-record-state")
async def manual_record_state(request: web.Request) -> web.Response:
    """Guide: "a list of manual recording states of the cameras that are currently manually
    recording": the asked cameras that are not recording are left out."""
    emu = request.app[EMULATOR]
    require_session(emu.sessions, request)
    camera_ids = _known_cameras(emu, query_list(request, "cameraIds"))
    states = [r.to_json() for r in map(emu.manual.get, camera_ids) if r is not None]
    return success({"states": states})
