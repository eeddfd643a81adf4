"""The public HTTP API as an OpenAPI 3.1 document, served at `GET /api/v1/openapi.json`.

Built here in Python so each operation sits next to its neighbours and a test
(tests/api/test_openapi.py) can check it against `app.router` in both directions: every
route is described, and every described operation is a route. The limits in the schemas
are the handlers' own constants, imported, so the two cannot drift apart; schemathesis
(tests/api/schemathesis_run.py) checks every answer against them.

Every operation lists each status its handler and the edge can answer (no `4XX` catch-all):
the refusals its security implies (`_refusals`), 413 when it takes a body, and 503 (over a
viewer limit, the request timeout, an unreachable upstream), besides its own. Objects are
closed (`additionalProperties: false`) where a handler refuses other fields, and in answers,
so a field the description does not name fails schemathesis's check.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from gateway.auth.revocations import MAX_JTI
from gateway.auth.routes import MAX_UNIX
from gateway.auth.tokens import ACTIONS, DEFAULT_ACTIONS, DEFAULT_TTL, MAX_SUBJECT, MAX_TTL
from gateway.events.alarms import MAX_NOTE
from gateway.events.model import FAMILIES, NOTIFY_FAMILY, OTHER_FAMILY
from gateway.events.query import DEFAULT_LIMIT, MAX_LIMIT
from gateway.rtmp.push import MEDIA, MODES, QUALITIES
from gateway.rtmp.state import PushState
from gateway.rtmp.url import MAX_URL_LENGTH
from gateway.rules import model as rule_model
from gateway.rules.clips import MAX_NAME as MAX_CLIP_NAME
from gateway.rules.scripts import EVENT_TYPES, MAX_ID
from gateway.snapshots.request import MAX_IMAGE_REF_PATH, MAX_SIDE, MIN_SIDE
from gateway.wep.recording_api import MAX_RECORD_SECONDS, SCOPES

VIEWER: list[dict[str, list[str]]] = [{"viewerToken": []}, {"viewerTokenQuery": []}]
ADMIN: list[dict[str, list[str]]] = [{"adminKey": []}]
SCRIPTS = [*ADMIN, {"viewerToken": []}]  # the admin key or a token with the `admin` action
METRICS = [{}, *ADMIN]  # open, or the admin key with [metrics] require_admin_key
OPEN: list = []
PEER: list[dict[str, list[str]]] = [{"peerSecret": []}]  # another node of the cluster

ERROR_SCHEMA = {"$ref": "#/components/schemas/Error"}
JSON_OK = {"type": "object"}
# JSON Schema cannot say str.isprintable(); this keeps out the control characters at least.
PRINTABLE = "^[^\\x00-\\x1f\\x7f]*$"
WHEN = {"type": "string", "format": "date-time"}

# Status -> the shared response (components.responses) an operation lists for it.
_SHARED = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Gone",
    413: "TooLarge",
    415: "UnsupportedMediaType",
    422: "Unprocessable",
    501: "NotImplemented",
    502: "UpstreamError",
    503: "Unavailable",
    504: "UpstreamTimeout",
}


def _refusals(security: list) -> tuple[int, ...]:
    """What the access check answers before the handler (gateway/auth/middleware.py)."""
    if security == VIEWER:
        return 401, 403, 410  # no or a bad token; another camera or action; a guest link gone
    if security == ADMIN:
        return 401, 403  # not the admin key; admin routes off without [auth] admin_key
    if security == SCRIPTS:
        return (401,)  # every refusal is a 401, as the scripts API's seed answers
    if security == METRICS:
        return 401, 403
    if security == PEER:
        return (401,)
    return ()


def _path_params(path: str) -> list[dict]:
    names = [part[: part.index("}")] for part in path.split("{")[1:]]
    integer_id = path.startswith(_INTEGER_IDS)
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": _RULE_ID if name == "id" and integer_id else _PATH_SCHEMAS.get(name, {"type": "string"}),
        }
        for name in names
    ]


# aiohttp's {name} matches one non-empty segment.
_PATH_SCHEMAS = {
    "quality": {"enum": list(QUALITIES)},
    "n": {"type": "integer", "minimum": 0, "maximum": 999_999},
    "camera": {"type": "string", "minLength": 1},
}
# A rule's id (a script's is its rule's): SQLite's INTEGER PRIMARY KEY; other ids are strings.
_INTEGER_IDS = ("/api/v1/rules/{id}", "/api/admin/v1/scripts/{id}")
_RULE_ID = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}


def _query(name: str, description: str, schema: dict | None = None, *, required: bool = False) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _op(
    summary: str,
    security: list,
    responses: dict,
    *,
    params: list | None = None,
    body: dict | None = None,
    tag: str,
    errors: tuple[int, ...] = (),
) -> dict:
    """An operation; `responses` are its own answers, `errors` the shared refusals it gives."""
    codes = {*_refusals(security), *errors, 503, *((413,) if body else ())}
    shared = {str(code): {"$ref": f"#/components/responses/{_SHARED[code]}"} for code in sorted(codes)}
    operation: dict[str, Any] = {
        "summary": summary,
        "tags": [tag],
        "security": security,
        "responses": {**shared, **responses},
    }
    if params:
        operation["parameters"] = params
    if body:
        operation["requestBody"] = body
    return operation


def _content(media_type: str, schema: dict | None = None) -> dict:
    return {"content": {media_type: {"schema": schema or {"type": "string", "format": "binary"}}}}


def _ok(description: str, media_type: str, schema: dict | None = None) -> dict:
    return {"description": description, **_content(media_type, schema)}


def _json(description: str, schema: dict) -> dict:
    return _ok(description, "application/json", schema)


def _body(schema: dict, *, required: bool = True) -> dict:
    return {"required": required, **_content("application/json", schema)}


def _object(properties: dict, required: list[str] | None = None, *, closed: bool = True, **extra) -> dict:
    """An object schema; `closed`: no other fields (a request's handler refuses them with a 400
    naming them; an answer has none)."""
    schema: dict[str, Any] = {"type": "object", "properties": properties, **extra}
    if required:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    return schema


def _error(description: str) -> dict:
    return {"description": description, **_content("application/json", ERROR_SCHEMA)}


SDP_BODY = {"required": True, **_content("application/sdp", {"type": "string"})}
SDP_CREATED = {
    "201": {
        "description": "session created; Location names it",
        **_content("application/sdp", {"type": "string"}),
        "headers": {"Location": {"schema": {"type": "string"}}},
    }
}
TOKEN_Q = _query("token", "viewer token, for players that cannot set Authorization (never the admin key)")
QUALITY_Q = _query("quality", "high (default) or low", {"enum": list(QUALITIES)})


def _header(name: str, description: str, schema: dict | None = None) -> dict:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


IF_NONE_MATCH = _header("If-None-Match", "ETags (or *) the client holds: 304 when one is current (RFC 9110 13.1.2)")
OPERATOR_H = _header(
    "X-Operator-Id",
    "the page's per-tab id: who steers, when viewer tokens are off ([auth] viewer_auth = false); otherwise the token's",
    {"type": "string", "maxLength": 64},
)
CORS_OPTIONS = {
    "summary": "CORS preflight / WHEP-WHIP discovery",
    "tags": ["webrtc"],
    "security": OPEN,
    "responses": {
        "204": {"description": "allowed methods and Accept-Post"},
        "403": _error("a preflight from an origin not in [server] cors_origins"),
        "503": {"$ref": "#/components/responses/Unavailable"},
    },
}
READINESS = _object(
    {
        "status": {"enum": ["ready", "not_ready"]},
        "reason": {"type": "string"},
        "events": _object({"status": {"enum": ["ok", "degraded"]}, "reason": {"type": "string"}}, ["status"]),
    },
    ["status", "events"],
)
STATIC_TYPES = ("text/html", "text/javascript", "text/css", "image/svg+xml")


def operations() -> dict[str, dict[str, dict]]:
    """path -> method (lower case) -> operation, without the path parameters."""
    return {
        "/": {"get": _op("viewer page", OPEN, {"200": _ok("HTML", "text/html")}, tag="web")},
        "/static/{name}": {
            "get": _op(
                "viewer page assets (flat files of the page only)",
                OPEN,
                {
                    "200": {
                        "description": "the file",
                        "content": {t: {"schema": {"type": "string"}} for t in STATIC_TYPES},
                    },
                    "304": {"description": "not modified (If-Modified-Since)"},
                },
                errors=(404,),
                tag="web",
            )
        },
        "/healthz": {
            "get": _op(
                "liveness", OPEN, {"200": _json("alive", _object({"status": {"const": "ok"}}, ["status"]))}, tag="ops"
            )
        },
        "/readyz": {
            "get": _op(
                "readiness: logged in to the camera systems; events degraded is reported, not a reason to be unready",
                OPEN,
                {
                    "200": _json("ready", READINESS),
                    "503": {
                        "description": "not ready (see reason; Retry-After), or over a limit",
                        **_content("application/json", {"anyOf": [READINESS, ERROR_SCHEMA]}),
                    },
                },
                tag="ops",
            )
        },
        "/metrics": {
            "get": _op(
                "Prometheus metrics ([metrics] require_admin_key puts it behind the admin key)",
                METRICS,
                {"200": _ok("text format 0.0.4", "text/plain", {"type": "string"})},
                tag="ops",
            )
        },
        "/api/v1/openapi.json": {"get": _op("this document", OPEN, {"200": _json("OpenAPI", JSON_OK)}, tag="ops")},
        "/api/v1/cameras": {
            "get": _op(
                "cameras the token covers",
                VIEWER,
                {"200": _json("cameras", {"$ref": "#/components/schemas/Cameras"})},
                params=[TOKEN_Q],
                errors=(502,),
                tag="cameras",
            )
        },
        **_media_operations(),
        "/api/v1/pushes": {
            "get": _op(
                "RTMP pushes",
                ADMIN,
                {
                    "200": _json(
                        "pushes",
                        _object(
                            {"pushes": {"type": "array", "items": {"$ref": "#/components/schemas/Push"}}}, ["pushes"]
                        ),
                    )
                },
                tag="pushes",
            ),
            "post": _op(
                "start an RTMP push: 404 for an unknown camera, 409 when [pushes] allows no more",
                ADMIN,
                {"201": _json("the push (Location names it)", {"$ref": "#/components/schemas/Push"})},
                body=_body({"$ref": "#/components/schemas/PushRequest"}),
                errors=(400, 404, 409, 502),
                tag="pushes",
            ),
        },
        "/api/v1/pushes/{id}": {
            "get": _op(
                "one push",
                ADMIN,
                {"200": _json("the push", {"$ref": "#/components/schemas/Push"})},
                errors=(404,),
                tag="pushes",
            ),
            "delete": _op(
                "stop a push",
                ADMIN,
                {"200": _json("the push, stopped", {"$ref": "#/components/schemas/Push"})},
                errors=(404,),
                tag="pushes",
            ),
        },
        **_event_operations(),
        **_control_operations(),
        **_link_operations(),
        **_rule_operations(),
        **_clip_operations(),
        **_script_operations(),
        "/api/v1/tokens": {
            "post": _op(
                f"mint a viewer token; `actions` left out: {list(DEFAULT_ACTIONS)}, `ttl`: {DEFAULT_TTL} s",
                ADMIN,
                {"201": _json("token", {"$ref": "#/components/schemas/Token"})},
                body=_body({"$ref": "#/components/schemas/TokenRequest"}),
                errors=(400,),
                tag="auth",
            )
        },
        "/api/v1/cluster": {
            "get": _op(
                "the cluster's nodes: how each is reached, the camera leases it holds (it pulls them from "
                "their camera systems), its viewers and CPU load; 404 on a gateway without [cluster] redis_url",
                ADMIN,
                {"200": _json("the cluster", {"$ref": "#/components/schemas/Cluster"})},
                errors=(404,),
                tag="cluster",
            )
        },
        "/internal/v1/live/{camera}/{quality}": {
            "get": _op(
                "for the cluster's nodes only: this node's hub of a camera it owns, as progressive fMP4 (prft "
                "boxes carry the camera's capture time); 409 when another node owns the camera",
                PEER,
                {"200": _ok("init segment, then one moof+mdat per frame", "video/mp4")},
                errors=(404, 409),
                tag="cluster",
            )
        },
        "/api/v1/tokens/revoke": {
            "post": _op(
                "revoke a viewer token before it expires: by the token, or by its jti (with its expires_at); "
                "requests with it get 401 token_revoked and what it has open (/live, event stream, WHEP and "
                "talk sessions) is closed. Idempotent; an expired token is revoked all the same (204). "
                "400: not a token of this gateway (invalid_token), or one without a jti (not_revocable)",
                ADMIN,
                {"204": {"description": "revoked (also when it was already, or has expired)"}},
                body=_body({"$ref": "#/components/schemas/TokenRevocation"}),
                errors=(400,),
                tag="auth",
            )
        },
    }


def _media_operations() -> dict[str, dict[str, dict]]:
    """Video, snapshots and talk: the viewer routes of a camera."""
    talked = _json(
        "played: how long, how many bytes and upstream posts, and why it ended",
        _object(
            {
                "camera": {"type": "string"},
                "duration": {"type": "number", "minimum": 0},
                "bytes": {"type": "integer", "minimum": 0},
                "posts": {"type": "integer", "minimum": 0},
                "ended": {"type": "string"},
            },
            ["camera", "duration", "bytes", "posts", "ended"],
        ),
    )
    jpeg = {"200": _ok("JPEG", "image/jpeg"), "304": {"description": "not modified (If-None-Match names the ETag)"}}
    playlist = {"200": _ok("playlist", "application/vnd.apple.mpegurl", {"type": "string"})}
    return {
        "/api/v1/cameras/{camera}/snapshot.jpg": {
            "get": _op(
                "JPEG snapshot (action snapshot), cached; 400 for a camera that has none",
                VIEWER,
                jpeg,
                params=[
                    TOKEN_Q,
                    IF_NONE_MATCH,
                    _query(
                        "t",
                        "live (default), or an ISO 8601 time with a zone (basic or extended form), optionally "
                        "followed by ,c|l|g|e: closest (default), before, after, exact",
                        {"type": "string", "maxLength": 64},
                    ),
                    _query(
                        "roi",
                        "left,top,right,bottom, normalized: 0 <= left < right <= 1, 0 <= top < bottom <= 1",
                        {"type": "string", "pattern": "^[^,]+,[^,]+,[^,]+,[^,]+$"},
                    ),
                    _query(
                        "size",
                        f"WIDTHxHEIGHT (or W,H), each side {MIN_SIDE} to {MAX_SIDE}",
                        {"type": "string", "pattern": "^[0-9]{1,5}[x,][0-9]{1,5}$"},
                    ),
                ],
                errors=(400, 404, 502),
                tag="snapshots",
            )
        },
        "/api/v1/cameras/{camera}/image-ref": {
            "get": _op(
                "JPEG of an event's image reference (action snapshot), cached",
                VIEWER,
                jpeg,
                params=[
                    TOKEN_Q,
                    IF_NONE_MATCH,
                    _query(
                        "path",
                        "the imageRef path of an event",
                        {"type": "string", "minLength": 1, "maxLength": MAX_IMAGE_REF_PATH, "pattern": PRINTABLE},
                        required=True,
                    ),
                    _query(
                        "type",
                        "the imageRef type of an event",
                        {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
                        required=True,
                    ),
                ],
                errors=(400, 404, 502),
                tag="snapshots",
            )
        },
        "/api/v1/cameras/{camera}/talkdown": {
            "post": _op(
                "play an audio file on the camera speaker (action talk); answers when played. 409: no speaker, or it "
                "is taken; 415: not audio; 400: empty or damaged",
                VIEWER,
                {"200": talked},
                params=[TOKEN_Q],
                body={
                    "required": True,
                    "content": {
                        t: {"schema": {"type": "string", "format": "binary"}}
                        for t in ("audio/wav", "audio/ogg", "audio/mpeg")
                    },
                },
                errors=(400, 404, 409, 415, 502),
                tag="talk",
            )
        },
        "/hls/{camera}/index.m3u8": {
            "get": _op(
                "HLS multivariant playlist (action view)",
                VIEWER,
                playlist,
                params=[TOKEN_Q],
                errors=(404, 502),
                tag="hls",
            )
        },
        "/hls/{camera}/{quality}/playlist.m3u8": {
            "get": _op(
                "LL-HLS media playlist (action view); a blocking reload waits at most [hls] blocking_timeout, and "
                "is a 400 when too far ahead of the live edge",
                VIEWER,
                playlist,
                params=[
                    TOKEN_Q,
                    _query("_HLS_msn", "blocking reload: media sequence number", {"type": "integer", "minimum": 0}),
                    _query(
                        "_HLS_part", "blocking reload: part index (with _HLS_msn)", {"type": "integer", "minimum": 0}
                    ),
                    _query(
                        "_HLS_skip",
                        "YES or v2: delta update (other values: the whole playlist)",
                        {"enum": ["YES", "v2"]},
                    ),
                    _query(
                        "t",
                        "recorded video from this ISO 8601 time ([,c|l|g|e] match criteria): an HLS EVENT "
                        "playlist instead of the live one; 'live' or absent: live",
                        {"type": "string", "maxLength": 64},
                    ),
                ],
                errors=(400, 404, 502),
                tag="hls",
            )
        },
        "/hls/{camera}/{quality}/{name}": {
            "get": _op(
                "init{v}.mp4, seg{msn}.m4s, part{id}.m4s; r{id}-init{v}.mp4, r{id}-seg{msn}.m4s of a recording "
                "(action view); 404 outside the playlist window",
                VIEWER,
                {"200": _ok("fMP4", "video/mp4")},
                params=[TOKEN_Q],
                errors=(400, 404, 502),
                tag="hls",
            )
        },
        "/live/{camera}.mp4": {
            "get": _op(
                "progressive fMP4 stream (action view)",
                VIEWER,
                {"200": _ok("init then fragments, until the client leaves", "video/mp4")},
                params=[TOKEN_Q, QUALITY_Q],
                errors=(400, 404, 502),
                tag="live",
            )
        },
        "/whep/{camera}": {
            "post": _op(
                "WHEP offer (action view): 406 without H.264, 415 unless application/sdp",
                VIEWER,
                SDP_CREATED,
                params=[TOKEN_Q, QUALITY_Q],
                body=SDP_BODY,
                errors=(400, 404, 406, 415, 502),
                tag="webrtc",
            ),
            "options": CORS_OPTIONS,
        },
        "/whep/{camera}/{session}": {
            "delete": _op(
                "end a WHEP session (the session id is the credential)",
                OPEN,
                {"200": {"description": "ended"}},
                errors=(404,),
                tag="webrtc",
            ),
            "patch": _op("trickle ICE / ICE restart: not supported (405)", OPEN, {}, errors=(405,), tag="webrtc"),
            "options": CORS_OPTIONS,
        },
        "/whip/{camera}/talk": {
            "post": _op(
                "WHIP microphone offer to the camera speaker (action talk): 409 when the camera has no "
                "speaker or another microphone holds it",
                VIEWER,
                SDP_CREATED,
                params=[TOKEN_Q],
                body=SDP_BODY,
                errors=(400, 404, 406, 409, 415, 502),
                tag="talk",
            ),
            "options": CORS_OPTIONS,
        },
        "/whip/{camera}/talk/{session}": {
            "delete": _op(
                "end a talk session (the session id is the credential)",
                OPEN,
                {"200": {"description": "ended"}},
                errors=(404,),
                tag="talk",
            ),
            "patch": _op("trickle ICE / ICE restart: not supported (405)", OPEN, {}, errors=(405,), tag="talk"),
            "options": CORS_OPTIONS,
        },
    }


NOTE = {"type": "string", "maxLength": MAX_NOTE}
# One event of /api/v1/events/stream (OpenAPI 3.1 reads a text/event-stream schema per event).
SSE_EVENT = _object(
    {
        "event": {"enum": sorted({family for _, family in FAMILIES} | {NOTIFY_FAMILY, OTHER_FAMILY})},
        "id": {"type": "string", "pattern": "^.+-[0-9]{1,18}$", "description": "<boot>-<seq>: Last-Event-ID resumes"},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "description": "the event as GET /api/v1/events lists it (Event), with notify: true when highlighted",
        },
        "retry": {"type": "integer"},
    },
    ["event", "id", "data"],
    closed=False,
)


def _event_operations() -> dict[str, dict[str, dict]]:
    alarm = _json("the alarm after the action", {"$ref": "#/components/schemas/Alarm"})
    # 409/504: the source's own answer to the action; 400: an action its source does not take.
    acted = (400, 404, 409, 502, 504)
    alarm_action = {
        action: {
            "post": _op(
                f'{action} an alarm (action alarms), audited with the token\'s sub; no body, or {{"note"}}',
                VIEWER,
                {"200": alarm},
                params=[TOKEN_Q],
                body=_body(_object({"note": NOTE}), required=False),
                errors=acted,
                tag="alarms",
            )
        }
        for action in ("acknowledge", "claim", "dismiss", "end")
    }
    alarm_action["verify"] = {
        "post": _op(
            "verify an Alta alarm: acknowledgment_code 101 (none), 201 (valid) or 202 (false); audited with the sub",
            VIEWER,
            {"200": alarm},
            params=[TOKEN_Q],
            body=_body(_object({"result": {"enum": ["none", "valid", "false"]}, "note": NOTE}, ["result"])),
            errors=acted,
            tag="alarms",
        )
    }
    zone = _object(
        {"id": {"type": "string"}, "name": {"type": "string"}, "armed": {"type": ["boolean", "null"]}},
        ["id", "name", "armed"],
    )
    armed = _json("done", _object({"zone": {"type": "string"}, "armed": {"type": "boolean"}}, ["zone", "armed"]))
    zone_id = (400, 404, 502)  # 404: Alta not configured, or its answer for an unknown zone
    queued = _object({"queued": {"type": "boolean"}}, ["queued"])
    history = _object(
        {
            "alarm": {"type": "string"},
            "history": {
                "type": "array",
                "items": _object(
                    {
                        "alarm": {"type": "string"},
                        "action": {"type": "string"},
                        "by": {"type": ["string", "null"]},
                        "note": {"type": ["string", "null"]},
                        "time": WHEN,
                        "outcome": {"type": "string"},
                    },
                    ["alarm", "action", "by", "note", "time", "outcome"],
                ),
            },
        },
        ["alarm", "history"],
    )
    return {
        "/wep/webhook": {
            "post": _op(
                "WEP webhook notifications (HELLO, HEARTBEAT, NOTIFICATION), verified by the "
                "registration's token: 401 otherwise; 404 without [events] public_url",
                OPEN,
                {"200": _json("queued", _object({"status": {"const": "ok"}}, ["status"]))},
                body=_body(JSON_OK),
                errors=(400, 401, 404),
                tag="events",
            )
        },
        "/api/v1/events/stream": {
            "get": _op(
                "Server-Sent Events: one `event:` per type family (motion, analytics, alarm, device, user, rule, "
                "system; notify for a rule's highlighted firing), `id:` per event; resume with Last-Event-ID",
                VIEWER,
                {
                    "200": _ok(
                        "the event stream, until the client leaves (schema: each event)", "text/event-stream", SSE_EVENT
                    )
                },
                params=[
                    TOKEN_Q,
                    _header(
                        "Last-Event-ID",
                        "resume after this event (EventSource sends it when it "
                        "reconnects); an id that is not this gateway's starts from now",
                    ),
                    _query("last_event_id", "as the Last-Event-ID header, for clients that cannot set it"),
                ],
                tag="events",
            )
        },
        "/api/v1/events": {
            "get": _op(
                "recent events from memory, older ones from WEP's event search; newest first. Other query parameters "
                "are a 400",
                VIEWER,
                {
                    "200": _json(
                        "events; incomplete says why older ones are missing",
                        _object(
                            {
                                "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
                                "incomplete": {"type": "string"},
                            },
                            ["events"],
                        ),
                    )
                },
                params=[
                    TOKEN_Q,
                    _query("camera", "one camera id (403 outside the token's)"),
                    _query(
                        "type",
                        "event types, comma-separated (DEVICE_MOTION_START,...)",
                        {"type": "string", "pattern": "^[A-Z0-9_, ]*$"},
                    ),
                    _query("from", "ISO 8601 time; older than memory: WEP is searched", WHEN),
                    _query("to", "ISO 8601 time, not before from", WHEN),
                    _query(
                        "limit",
                        f"1 to {MAX_LIMIT}, default {DEFAULT_LIMIT}",
                        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                    ),
                ],
                errors=(400,),
                tag="events",
            )
        },
        "/api/v1/alarms": {
            "get": _op(
                "alarms of every source that concern the token's cameras (action alarms); unavailable: the sources "
                "that could not be asked",
                VIEWER,
                {
                    "200": _json(
                        "alarms",
                        _object(
                            {
                                "alarms": {"type": "array", "items": {"$ref": "#/components/schemas/Alarm"}},
                                "unavailable": {
                                    "type": "array",
                                    "items": _object(
                                        {"source": {"type": "string"}, "reason": {"type": "string"}},
                                        ["source", "reason"],
                                    ),
                                },
                            },
                            ["alarms"],
                        ),
                    )
                },
                params=[TOKEN_Q],
                tag="alarms",
            )
        },
        **{f"/api/v1/alarms/{{id}}/{action}": operation for action, operation in alarm_action.items()},
        "/alta/webhook/{secret}": {
            "post": _op(
                "Alta's alarm action (the path's secret is [alta] webhook_secret; 404 otherwise): a JSON object or "
                "form fields with the zone and device under [alta] zone_key and device_key (at the top or one level "
                "down); looked up after the answer. 503 {queued: false} when the lookups are backed up",
                OPEN,
                {
                    "200": _json("queued", queued),
                    "503": {
                        "description": "not queued (the lookups are backed up), or over a limit",
                        **_content("application/json", {"anyOf": [queued, ERROR_SCHEMA]}),
                    },
                },
                body={
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "description": "the keys are [alta] zone_key and device_key",
                                "properties": {
                                    "alarmZoneId": {"type": ["string", "integer"]},
                                    "deviceId": {"type": ["string", "integer"]},
                                },
                            }
                        },
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "properties": {"alarmZoneId": {"type": "string"}, "deviceId": {"type": "string"}},
                            }
                        },
                    },
                },
                errors=(400, 404),
                tag="alarms",
            )
        },
        "/api/v1/alta/zones": {
            "get": _op(
                "Alta's alarm zones (admin); 404 when Alta is not configured",
                ADMIN,
                {"200": _json("zones", _object({"zones": {"type": "array", "items": zone}}, ["zones"]))},
                errors=(404, 502),
                tag="alarms",
            )
        },
        "/api/v1/alta/zones/{id}/arm": {
            "post": _op("arm an Alta alarm zone (admin)", ADMIN, {"200": armed}, errors=zone_id, tag="alarms")
        },
        "/api/v1/alta/zones/{id}/disarm": {
            "post": _op("disarm an Alta alarm zone (admin)", ADMIN, {"200": armed}, errors=zone_id, tag="alarms")
        },
        "/api/v1/alarms/{id}/history": {
            "get": _op(
                "who did what to the alarm, newest first (action alarms)",
                VIEWER,
                {"200": _json("history", history)},
                params=[TOKEN_Q],
                errors=(404, 502),
                tag="alarms",
            )
        },
    }


def _link_operations() -> dict[str, dict[str, dict]]:
    link = _object(
        {
            "ref": {"type": "string", "description": "first 16 hex characters of the id's SHA-256"},
            "camera": {"type": "string"},
            "live": {"type": "boolean"},
            "from": {"type": ["string", "null"], "format": "date-time"},
            "to": {"type": ["string", "null"], "format": "date-time"},
            "created_at": WHEN,
            "expires_at": WHEN,
            "revoked": {"type": "boolean"},
            "state": {"enum": ["active", "revoked", "expired"]},
            "created_by": {"type": "string"},
        },
        ["ref", "camera", "live", "from", "to", "created_at", "expires_at", "revoked", "state", "created_by"],
        description="a guest link as listed: its ref, never its id",
    )
    request = _object(
        {
            "camera": {"type": "string", "minLength": 1, "maxLength": 256},
            "live": {"type": "boolean", "default": False, "description": "true: live video (and no from/to)"},
            "from": {**WHEN, "description": "a recorded window's start (with to; at most 24 h, not in the future)"},
            "to": {**WHEN, "description": "a recorded window's end"},
            "ttl": {
                "type": "integer",
                "minimum": 1,
                "description": "seconds ([links] default_ttl, at most max_ttl; "
                "a token's link never outlives the token)",
            },
        },
        ["camera"],
        description='{"camera", "live": true}, or {"camera", "from", "to"}',
        oneOf=[
            {
                "required": ["live"],
                "properties": {"live": {"const": True}},
                "not": {"anyOf": [{"required": ["from"]}, {"required": ["to"]}]},
            },
            {"required": ["from", "to"], "properties": {"live": {"const": False}}},
        ],
    )
    created = _object(
        {
            "id": {"type": "string", "description": "the credential: shown only here and in url"},
            "ref": {"type": "string"},
            "url": {"type": "string", "description": "ends in /g/{id}"},
            "camera": {"type": "string"},
            "live": {"type": "boolean"},
            "from": WHEN,
            "to": WHEN,
            "expires_at": WHEN,
        },
        ["id", "ref", "url", "camera", "live", "expires_at"],
    )
    page = {
        "200": _ok("HTML", "text/html"),
        "404": _ok("no such link: a page saying so", "text/html"),
        "410": _ok("the link was revoked or has expired: a page saying so", "text/html"),
    }
    return {
        "/api/v1/links": {
            "get": _op(
                "guest links (action share: the token's own; admin key: all)",
                VIEWER,
                {"200": _json("links", _object({"links": {"type": "array", "items": link}}, ["links"]))},
                params=[TOKEN_Q],
                tag="links",
            ),
            "post": _op(
                "make a guest link to one camera, live or a recorded window (action share, for a camera "
                "the token may view: 403 otherwise)",
                VIEWER,
                {"201": _json("the link", created)},
                params=[TOKEN_Q],
                body=_body(request),
                errors=(400, 404, 502),
                tag="links",
            ),
        },
        "/api/v1/links/{id}": {
            "delete": _op(
                "revoke a guest link by id or ref: refused from then on, open streams closed within 2 s",
                VIEWER,
                {"200": _json("the revoked link", link)},
                params=[TOKEN_Q],
                errors=(404,),
                tag="links",
            )
        },
        "/g/{id}": {
            "get": _op(
                "the guest page of a link (the id is the credential; its video requests present it as a viewer token)",
                OPEN,
                page,
                tag="links",
            )
        },
        "/g/{id}/state": {
            "get": _op(
                "the guest page's state: newline-delimited JSON, {link} first, {alive} "
                "now and then, {gone: revoked|expired} when it ends",
                OPEN,
                {"200": _ok("state stream", "application/x-ndjson", {"type": "string"})},
                errors=(404, 410),
                tag="links",
            )
        },
    }


def _control_operations() -> dict[str, dict[str, dict]]:
    done = {"200": _json("done", _object({"ok": {"const": True}}, ["ok"]))}
    busy = {"409": _error("another operator steers this camera (named in the message; Retry-After)")}
    # 400: a bad body, or a camera without PTZ; 501: the camera system has no such command;
    # 404/409 also as the camera system answers (no such preset or output).
    steer = (400, 404, 501, 502)
    unit = {"type": "number", "minimum": -1, "maximum": 1}
    share = {"type": "number", "minimum": 0, "maximum": 1}
    # Optional: the operator's command number; an older one than already taken is not sent.
    seq = {
        "type": "integer",
        "minimum": 0,
        "maximum": 2**53,
        "description": "increasing per operator; older commands are dropped (answered stale: true)",
    }
    moving = _json(
        "the move taken, or stale: an older command than one already taken, not sent",
        _object(
            {"moving": {"type": "boolean"}, "stops_after_s": {"type": "number"}, "stale": {"const": True}}, ["moving"]
        ),
    )
    roi = {
        "type": "array",
        "items": share,
        "minItems": 4,
        "maxItems": 4,
        "description": "[left, top, right, bottom], left < right and top < bottom",
    }
    base = "/api/v1/cameras/{camera}"
    ptz: dict[str, Any] = {"params": [TOKEN_Q, OPERATOR_H], "tag": "control"}
    bookmark = _object(
        {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "time": {"type": "string"},
            "duration_s": {"type": "number"},
            "description": {"type": "string"},
        },
        ["id", "name", "time", "duration_s", "description"],
    )
    recording = _json(
        "whether the camera records on demand, since when",
        _object({"recording": {"type": "boolean"}, "since": {"type": ["string", "null"]}}, ["recording", "since"]),
    )
    span = {
        "type": "object",
        "required": ["from", "to"],
        "properties": {"from": {"type": "string"}, "to": {"type": "string"}},
    }
    timeline = _object(
        {
            "camera": {"type": "string"},
            "from": WHEN,
            "to": WHEN,
            "scope": {"enum": list(SCOPES)},
            "recordings": {"type": "array", "items": span},
            "motion": {"type": "array", "items": span},
        },
        ["camera", "from", "to", "scope", "recordings", "motion"],
    )
    return {
        f"{base}/ptz": {
            "post": _op(
                "continuous move (action ptz), at least one of pan, tilt, zoom; stops by itself 1 s after the last "
                "command",
                VIEWER,
                {"200": moving, **busy},
                body=_body(
                    _object(
                        {"pan": unit, "tilt": unit, "zoom": unit, "seq": seq},
                        anyOf=[{"required": ["pan"]}, {"required": ["tilt"]}, {"required": ["zoom"]}],
                    )
                ),
                errors=steer,
                **ptz,
            )
        },
        f"{base}/ptz/stop": {
            "post": _op(
                "stop moving (action ptz)",
                VIEWER,
                {"200": moving, **busy},
                body=_body(_object({"seq": seq}), required=False),
                errors=steer,
                **ptz,
            )
        },
        f"{base}/ptz/home": {
            "post": _op("go to the home position (action ptz)", VIEWER, {**done, **busy}, errors=steer, **ptz)
        },
        f"{base}/ptz/center": {
            "post": _op(
                "centre on a normalised point of the picture (action ptz)",
                VIEWER,
                {**done, **busy},
                body=_body(_object({"x": share, "y": share}, ["x", "y"])),
                errors=steer,
                **ptz,
            )
        },
        f"{base}/ptz/zoom-to": {
            "post": _op(
                "zoom to a normalised region of the picture (action ptz)",
                VIEWER,
                {**done, **busy},
                body=_body(_object({"roi": roi}, ["roi"])),
                errors=steer,
                **ptz,
            )
        },
        f"{base}/presets": {
            "get": _op(
                "the camera's PTZ presets (action ptz)",
                VIEWER,
                {
                    "200": _json(
                        "presets",
                        _object(
                            {
                                "presets": {
                                    "type": "array",
                                    "items": _object(
                                        {"number": {"type": "integer"}, "name": {"type": "string"}}, ["number", "name"]
                                    ),
                                }
                            },
                            ["presets"],
                        ),
                    )
                },
                errors=(400, 404, 502),
                **ptz,
            )
        },
        f"{base}/presets/{{n}}/goto": {
            "post": _op(
                "go to preset n (action ptz); 404 for a preset the camera does not have",
                VIEWER,
                {
                    "200": _json(
                        "done", _object({"ok": {"const": True}, "preset": {"type": "integer"}}, ["ok", "preset"])
                    ),
                    **busy,
                },
                errors=steer,
                **ptz,
            )
        },
        f"{base}/outputs/{{n}}": {
            "post": _op(
                "set digital output n, from 1 (action outputs)",
                VIEWER,
                {
                    "200": _json(
                        "done",
                        _object(
                            {"output": {"type": "integer", "minimum": 1}, "state": {"enum": ["on", "off", "pulse"]}},
                            ["output", "state"],
                        ),
                    ),
                    "409": _error("the camera system refused: the output is busy"),
                },
                body=_body(_object({"state": {"enum": ["on", "off", "pulse"]}}, ["state"])),
                errors=steer,
                params=[TOKEN_Q],
                tag="control",
            )
        },
        f"{base}/timeline": {
            "get": _op(
                "recorded ranges and motion marks (action view), cached; at most 31 days",
                VIEWER,
                {"200": _json("timeline, rounded to the scope", timeline)},
                params=[
                    TOKEN_Q,
                    _query("from", "ISO 8601 (default: an hour before to), before to", WHEN),
                    _query("to", "ISO 8601 (default: now)", WHEN),
                    _query("scope", "interval length (default: chosen from the span)", {"enum": list(SCOPES)}),
                ],
                errors=(400, 404, 502),
                tag="recordings",
            )
        },
        f"{base}/bookmarks": {
            "get": _op(
                "the camera's bookmarks, newest first (action view)",
                VIEWER,
                {
                    "200": _json(
                        "bookmarks", _object({"bookmarks": {"type": "array", "items": bookmark}}, ["bookmarks"])
                    )
                },
                params=[TOKEN_Q],
                errors=(400, 404, 502),
                tag="recordings",
            ),
            "post": _op(
                "bookmark a moment (action record)",
                VIEWER,
                {"201": _json("the bookmark", bookmark)},
                params=[TOKEN_Q],
                body=_body(
                    _object(
                        {
                            "name": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": 200,
                                "description": "not only blanks",
                            },
                            "time": WHEN,
                            "duration_s": {"type": "number", "minimum": 0, "maximum": 86400, "default": 10},
                            "description": {"type": "string", "maxLength": 2000, "default": ""},
                        },
                        ["name", "time"],
                    )
                ),
                errors=(400, 404, 502),
                tag="recordings",
            ),
        },
        f"{base}/record": {
            "get": _op(
                "whether the camera records on demand now (action view)",
                VIEWER,
                {"200": recording},
                params=[TOKEN_Q],
                errors=(400, 404, 502),
                tag="recordings",
            ),
            "post": _op(
                "start or stop recording on demand (action record)",
                VIEWER,
                {"200": recording},
                params=[TOKEN_Q],
                body=_body(
                    _object(
                        {
                            "action": {"enum": ["start", "stop"]},
                            "seconds": {"type": "integer", "minimum": 1, "maximum": MAX_RECORD_SECONDS, "default": 300},
                        },
                        ["action"],
                    )
                ),
                errors=(400, 404, 502),
                tag="recordings",
            ),
        },
    }


def _rule_operations() -> dict[str, dict[str, dict]]:
    rule = _json("a rule", {"$ref": "#/components/schemas/Rule"})
    body = _body({"$ref": "#/components/schemas/RuleRequest"})
    limit = _query("limit", "1 to 1000, default 100", {"type": "integer", "minimum": 1, "maximum": 1000})
    return {
        "/api/v1/rules": {
            "get": _op(
                "automation rules",
                ADMIN,
                {
                    "200": _json(
                        "rules",
                        _object(
                            {"rules": {"type": "array", "items": {"$ref": "#/components/schemas/Rule"}}}, ["rules"]
                        ),
                    )
                },
                tag="rules",
            ),
            "post": _op(
                "add a rule: every bad field is a 400 naming it (cameras and clips must exist)",
                ADMIN,
                {"201": rule},
                body=body,
                errors=(400,),
                tag="rules",
            ),
        },
        "/api/v1/rules/{id}": {
            "get": _op("one rule, with its counters", ADMIN, {"200": rule}, errors=(400, 404), tag="rules"),
            "put": _op(
                "replace a rule (a masked webhook secret sent back keeps the stored one)",
                ADMIN,
                {"200": rule},
                body=body,
                errors=(400, 404),
                tag="rules",
            ),
            "delete": _op(
                "delete a rule and its history",
                ADMIN,
                {"204": {"description": "deleted"}},
                errors=(400, 404),
                tag="rules",
            ),
        },
        "/api/v1/rules/{id}/history": {
            "get": _op(
                "the rule's firings, newest first: the event, each action's outcome and duration",
                ADMIN,
                {
                    "200": _json(
                        "firings",
                        _object(
                            {"rule": {"type": "integer"}, "firings": {"type": "array", "items": JSON_OK}},
                            ["rule", "firings"],
                        ),
                    )
                },
                params=[limit],
                errors=(400, 404),
                tag="rules",
            )
        },
    }


def _clip_operations() -> dict[str, dict[str, dict]]:
    clip = {"$ref": "#/components/schemas/Clip"}
    audio = {"type": "string", "format": "binary"}
    name = {"type": "string", "minLength": 1, "maxLength": MAX_CLIP_NAME, "pattern": PRINTABLE}
    upload = {
        "required": True,
        "content": {
            **{
                media: {"schema": audio}
                for media in ("audio/wav", "audio/ogg", "audio/mpeg", "application/octet-stream")
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"name": {**name, "description": "the clip's name (or ?name=)"}, "file": audio},
                }
            },
        },
    }
    return {
        "/api/v1/clips": {
            "get": _op(
                "named audio clips for the talkdown action, oldest first",
                ADMIN,
                {"200": _json("clips", _object({"clips": {"type": "array", "items": clip}}, ["clips"]))},
                tag="rules",
            ),
            "post": _op(
                "add a clip: a WAV / Ogg / MP3 file as the body (?name=) or a multipart form (name, file), "
                "decoded once to 8 kHz mu-law; 409 if the name is taken, 415 if it is not audio",
                ADMIN,
                {"201": _json("the clip", clip)},
                params=[
                    _query(
                        "name",
                        f"the clip's name, 1 to {MAX_CLIP_NAME} printable characters "
                        "(unique): required with a raw body",
                        name,
                    )
                ],
                body=upload,
                errors=(400, 409, 415),
                tag="rules",
            ),
        },
        "/api/v1/clips/{id}": {
            "delete": _op(
                "delete a clip (rules naming it then skip their talkdown)",
                ADMIN,
                {"200": _json("the deleted clip", clip)},
                errors=(404,),
                tag="rules",
            )
        },
    }


def _script_operations() -> dict[str, dict[str, dict]]:
    """The VMS scripts API (gateway/rules/scripts_routes.py): the seed's shapes, bare lists."""
    refused = {
        "401": _error("Authorization token is not provided or is invalid (also: a token without the admin action)"),
        "422": _error("a bad body: every bad field named"),
    }
    when = {
        "type": "string",
        "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$",
        "description": "UTC",
    }
    event_keys = ["id", "name", "description", "color", "analytic_type"]
    event = _object(
        {
            "id": {"type": "integer"},
            "name": {"type": ["string", "null"]},
            "description": {"type": ["string", "null"]},
            "color": {"type": ["string", "null"]},
            "analytic_type": {"type": ["string", "null"]},
        },
        event_keys,
        description="null fields: an event id this gateway no longer knows",
    )
    event_type = _object(
        {
            "id": {"type": "integer", "enum": [entry.id for entry in EVENT_TYPES]},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "color": {"type": "string"},
            "analytic_type": {"type": "string"},
            "type": {"type": "string", "description": "the WEP topic a script on it matches"},
        },
        [*event_keys, "type"],
    )
    actions = RULE_REQUEST["properties"]["actions"]
    shown_actions = {
        "type": "array",
        "items": RULE_ACTION_SHOWN,
        "description": "rule actions; webhook secrets shown as ********",
    }
    reaction = _object(
        {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "actions": shown_actions,
            "created_at": when,
            "updated_at": when,
        },
        ["id", "name", "actions", "created_at", "updated_at"],
    )
    user = _object(
        {
            "id": {"type": "integer"},
            "name": {"type": "string", "description": "the token subject"},
            "login": {"type": "string"},
            "created_at": when,
            "updated_at": when,
            "expired_at": {"type": "null"},
            "is_licence_limit_reached": {"const": False},
            "ptz_priority": {"type": "integer"},
            "access_token_id": {"type": "null"},
        },
        [
            "id",
            "name",
            "login",
            "created_at",
            "updated_at",
            "expired_at",
            "is_licence_limit_reached",
            "ptz_priority",
            "access_token_id",
        ],
    )
    schedule = RULE_REQUEST["properties"]["when"]["properties"]["schedule"]
    script = _object(
        {
            "id": {"type": "integer", "description": "the rule's id: GET /api/v1/rules/{id} shows it"},
            "event": event,
            "reaction": {"anyOf": [reaction, {"type": "null"}]},
            "users": {"type": "array", "items": user},
            "schedule": SCHEDULE_SHOWN,
            "created_at": when,
            "updated_at": when,
        },
        ["id", "event", "reaction", "users", "schedule", "created_at", "updated_at"],
    )
    ids = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
    script_body = _body(
        _object(
            {
                "event_id": {"type": "integer", "enum": [entry.id for entry in EVENT_TYPES]},
                "reaction_id": {**ids, "description": "an id of GET /api/admin/v1/reactions"},
                "users": {
                    "type": "array",
                    "maxItems": rule_model.MAX_LIST,
                    "items": ids,
                    "description": "ids of GET /api/admin/v1/users, notified (SSE `event: notify`)",
                },
                "schedule": schedule,
            },
            ["event_id", "reaction_id"],
        )
    )
    reaction_body = _body(
        _object({"name": RULE_REQUEST["properties"]["name"], "actions": actions}, ["name", "actions"])
    )
    one = {"200": _json("the script", script), **refused}
    missing = {"404": {"$ref": "#/components/responses/NotFound"}}

    def listing(what: str, item: dict) -> dict:
        return {"200": _json(what, {"type": "array", "items": item}), **refused}

    base = "/api/admin/v1"
    security = SCRIPTS
    return {
        f"{base}/events": {
            "get": _op(
                "event types a script can name (ids never change)",
                security,
                listing("event types", event_type),
                tag="scripts",
            )
        },
        f"{base}/reactions": {
            "get": _op("saved action lists", security, listing("reactions", reaction), tag="scripts"),
            "post": _op(
                "save an action list",
                security,
                {"201": _json("the reaction", reaction), **refused},
                body=reaction_body,
                errors=(400,),
                tag="scripts",
            ),
        },
        f"{base}/users": {
            "get": _op(
                "token subjects (remembered when a token with sub is minted)",
                security,
                listing("users", user),
                tag="scripts",
            )
        },
        f"{base}/scripts": {
            "get": _op("scripts: the rules made through this API", security, listing("scripts", script), tag="scripts"),
            "post": _op(
                "add a script (a rule over every camera): 200, as the VMS answers",
                security,
                one,
                body=script_body,
                errors=(400,),
                tag="scripts",
            ),
        },
        f"{base}/scripts/{{id}}": {
            "get": _op("one script", security, {**one, **missing}, errors=(400,), tag="scripts"),
            "put": _op(
                "replace a script (the rule keeps its cameras, cooldown and enabled)",
                security,
                {**one, **missing},
                body=script_body,
                errors=(400,),
                tag="scripts",
            ),
            "delete": _op(
                "delete a script and its rule",
                security,
                {"200": _json("deleted", {"type": "object", "maxProperties": 0}), **refused, **missing},
                errors=(400,),
                tag="scripts",
            ),
        },
    }


# -- rules: the request and the answer ---------------------------------------------------------

_HMS = {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"}
_SHOWN_HMS = {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$"}
_RULE_TEXT = {"type": "string", "minLength": 1, "maxLength": rule_model.MAX_NAME, "pattern": PRINTABLE}
_PUSH_URL = {
    "type": "string",
    "maxLength": MAX_URL_LENGTH,
    "pattern": "^[Rr][Tt][Mm][Pp][Ss]?://[^/\\s]+/\\S+$",
    "description": "rtmp:// or rtmps:// with a host and an application path (rtmp://host/app/key)",
}
_WEBHOOK_URL = {
    "type": "string",
    "maxLength": rule_model.MAX_URL,
    "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^/\\s]+",
    "description": "http:// or https:// with a host",
}
# kind -> (its parameters as the request gives them, the ones required, as a rule shows them)
_ACTIONS: dict[str, tuple[dict, list[str], list[str]]] = {
    "talkdown": ({"clip": {**_RULE_TEXT, "description": "clip id or name (it must exist)"}}, ["clip"], ["clip"]),
    "ptz_preset": ({"preset": {"type": "integer", "minimum": 0, "maximum": 9999}}, ["preset"], ["preset"]),
    "snapshot": ({}, [], []),
    "record": ({"seconds": {"type": "integer", "minimum": 1, "maximum": MAX_RECORD_SECONDS}}, ["seconds"], ["seconds"]),
    "push": (
        {
            "url": _PUSH_URL,
            "seconds": {"type": "integer", "minimum": 1, "maximum": rule_model.MAX_PUSH_SECONDS},
            "quality": {"enum": list(QUALITIES), "default": "high"},
            "media": {"enum": list(MEDIA), "default": "video"},
        },
        ["url", "seconds"],
        ["url", "seconds", "quality", "media"],
    ),
    "webhook": (
        {
            "url": _WEBHOOK_URL,
            "secret": {"type": "string", "minLength": 1, "maxLength": rule_model.MAX_SECRET, "pattern": PRINTABLE},
        },
        ["url", "secret"],
        ["url", "secret"],
    ),
    "share_link": (
        {
            "ttl": {"type": "integer", "minimum": 1, "maximum": 10 * 365 * 86400},
            "live": {"type": "boolean", "default": False},
        },
        [],
        ["ttl", "live"],
    ),
}


def _action_schema(kind: str, properties: dict, required: list[str]) -> dict:
    return _object({kind: _object(properties, required)}, [kind])


RULE_ACTION = {
    "oneOf": [_action_schema(kind, properties, required) for kind, (properties, required, _) in _ACTIONS.items()]
}
# As a rule shows its actions: every parameter filled in, webhook secrets masked, a
# share_link without a ttl as null (the [links] default_ttl when it fires).
RULE_ACTION_SHOWN = {
    "oneOf": [
        _action_schema(
            kind, {**properties, **({"ttl": {"type": ["integer", "null"]}} if kind == "share_link" else {})}, shown
        )
        for kind, (properties, _, shown) in _ACTIONS.items()
    ]
}
_SCHEDULE_DAY = {"day": {"type": "integer", "minimum": 0, "maximum": 6}}
SCHEDULE = {
    "type": "array",
    "description": "empty: always; day 0 is Monday, to inclusive; a window past midnight is two ranges",
    "items": _object(
        {
            **_SCHEDULE_DAY,
            "ranges": {
                "type": "array",
                "minItems": 1,
                "maxItems": 48,
                "items": _object({"from": _HMS, "to": _HMS}, ["from", "to"], description="to not before from"),
            },
        },
        ["day", "ranges"],
    ),
}
SCHEDULE_SHOWN = {
    "type": "array",
    "items": _object(
        {
            **_SCHEDULE_DAY,
            "ranges": {"type": "array", "items": _object({"from": _SHOWN_HMS, "to": _SHOWN_HMS}, ["from", "to"])},
        },
        ["day", "ranges"],
    ),
}
_NAMES = {"type": "array", "maxItems": rule_model.MAX_LIST}
RULE_REQUEST = _object(
    {
        "name": _RULE_TEXT,
        "enabled": {"type": "boolean", "default": True},
        "when": _object(
            {
                "cameras": {
                    **_NAMES,
                    "items": {"type": "string", "pattern": "^[^\\s/]{1,128}$"},
                    "description": "camera ids that exist; empty: every camera",
                },
                "types": {
                    **_NAMES,
                    "items": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]{0,127}$"},
                    "description": "event types (DEVICE_MOTION_START...); empty: every type",
                },
                "schedule": SCHEDULE,
                "timezone": {"type": "string", "minLength": 1, "description": "IANA zone; default [rules] timezone"},
            }
        ),
        "cooldown_s": {"type": "number", "minimum": 0, "maximum": rule_model.MAX_COOLDOWN, "default": 0},
        "actions": {"type": "array", "minItems": 1, "maxItems": rule_model.MAX_ACTIONS, "items": RULE_ACTION},
        "notify": {
            **_NAMES,
            "items": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": PRINTABLE},
            "description": "token subjects whose event streams get the firing highlighted",
        },
    },
    ["name", "when", "actions"],
)
RULE = _object(
    {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "enabled": {"type": "boolean"},
        "when": _object(
            {
                "cameras": {"type": "array", "items": {"type": "string"}},
                "types": {"type": "array", "items": {"type": "string"}},
                "schedule": SCHEDULE_SHOWN,
                "timezone": {"type": "string"},
            },
            ["cameras", "types", "schedule", "timezone"],
        ),
        "cooldown_s": {"type": "number"},
        "actions": {"type": "array", "items": RULE_ACTION_SHOWN},
        "notify": {"type": "array", "items": {"type": "string"}},
        "created_at": WHEN,
        "updated_at": WHEN,
        "stats": {"type": ["object", "null"], "description": "fired, skipped by cause, last_fired"},
    },
    ["id", "name", "enabled", "when", "cooldown_s", "actions", "notify", "created_at", "updated_at", "stats"],
)


LINKS = _object(
    {
        "snapshot": {"type": ["string", "null"]},
        "recording": {"type": ["string", "null"]},
        "shared": {"type": "array", "items": {"type": "string"}, "description": "Alta's shared video links"},
    },
    closed=False,
)
COMPONENTS = {
    "securitySchemes": {
        "viewerToken": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "a viewer token; the admin key too, here only (never ?token=)",
        },
        "viewerTokenQuery": {"type": "apiKey", "in": "query", "name": "token"},
        "adminKey": {"type": "http", "scheme": "bearer", "description": "[auth] admin_key"},
        "peerSecret": {"type": "http", "scheme": "bearer", "description": "[cluster] secret: the nodes only"},
    },
    "responses": {
        "BadRequest": _error(
            "a parameter or the body cannot be used (the message names it), or the camera cannot do this"
        ),
        "Unauthorized": _error(
            "no credential, or one that is invalid, expired or revoked (code token_revoked); WWW-Authenticate says which"
        ),
        "Forbidden": _error(
            "the credential does not cover this camera or action (admin routes: [auth] admin_key is not set)"
        ),
        "NotFound": _error("no such camera, resource or route"),
        "MethodNotAllowed": _error("not supported here (Allow lists what is)"),
        "NotAcceptable": _error("the offer has no codec in common with the camera"),
        "Conflict": _error("the resource is taken or busy (the message says by whom)"),
        "Gone": _error("a guest link presented as the credential was revoked or has expired"),
        "TooLarge": _error("the body is larger than [limits] max_body_bytes (audio: max_upload_bytes)"),
        "UnsupportedMediaType": _error("the body's content type or format is not one this operation takes"),
        "Unprocessable": _error("a bad body: every bad field named"),
        "NotImplemented": _error("the camera system has no such command"),
        "UpstreamError": _error("the camera system (WEP, Amcrest, Alta) refused or failed the request"),
        "UpstreamTimeout": _error("the camera system did not answer in time"),
        "Unavailable": {
            "description": "over a limit, the request timeout, or the camera system unavailable; see Retry-After",
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
            **_content("application/json", ERROR_SCHEMA),
        },
    },
    "schemas": {
        "Error": _object(
            {"error": _object({"code": {"type": "string"}, "message": {"type": "string"}}, ["code", "message"])},
            ["error"],
        ),
        "Cameras": _object(
            {
                "cameras": {
                    "type": "array",
                    "items": _object(
                        {
                            "id": {"type": "string"},
                            "name": {"type": "string"},
                            "qualities": {"type": "array", "items": {"enum": list(QUALITIES)}},
                            "speaker": {"type": "boolean"},
                            "audio": {"type": "boolean"},
                            "source": {"enum": ["wep", "amcrest"], "description": "the camera system behind it"},
                            "ptz": {"type": "boolean"},
                            "available": {
                                "const": False,
                                "description": "present for a configured camera that cannot be reached",
                            },
                            "reason": {"type": "string"},
                        },
                        ["id", "name", "qualities", "speaker", "audio", "source", "ptz"],
                    ),
                }
            },
            ["cameras"],
        ),
        "TokenRequest": _object(
            {
                "cameras": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "string", "minLength": 1},
                    "description": 'camera ids, or ["*"] for every camera',
                },
                "actions": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"enum": list(ACTIONS)},
                    "default": list(DEFAULT_ACTIONS),
                },
                "ttl": {"type": "integer", "minimum": 1, "maximum": MAX_TTL, "default": DEFAULT_TTL},
                "sub": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_SUBJECT,
                    "pattern": PRINTABLE,
                    "description": "who holds the token, named in audit logs",
                },
            },
            ["cameras"],
        ),
        "Token": _object(
            {
                "token": {"type": "string"},
                "expires_at": WHEN,
                "cameras": {"type": "array", "items": {"type": "string"}},
                "actions": {"type": "array", "items": {"enum": list(ACTIONS)}},
                "sub": {"type": "string"},
                "jti": {"type": "string", "description": "the token's id: POST /api/v1/tokens/revoke takes it"},
            },
            ["token", "jti", "expires_at", "cameras", "actions"],
        ),
        "TokenRevocation": _object(
            {
                "token": {"type": "string", "minLength": 1, "description": "the token itself"},
                "jti": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_JTI,
                    "pattern": "^[^\\x00-\\x20\\x7f]*$",
                    "description": "the token's id, as POST /api/v1/tokens answered it",
                },
                "expires_at": {
                    "anyOf": [{"type": "integer", "minimum": 0, "maximum": MAX_UNIX}, WHEN],
                    "description": "with jti: the token's expiry (Unix seconds, or as minted); the revocation is "
                    f"kept until then. Left out: {MAX_TTL} s from now, the longest a token lives",
                },
            },
            oneOf=[
                {"required": ["token"], "not": {"anyOf": [{"required": ["jti"]}, {"required": ["expires_at"]}]}},
                {"required": ["jti"], "not": {"required": ["token"]}},
            ],
            description="the token, or its jti (and expires_at)",
        ),
        "Event": _object(
            {
                "id": {"type": "string"},
                "camera": {"type": ["string", "null"]},
                "type": {"type": "string"},
                "state": {"enum": ["start", "stop", "pulse"]},
                "time": WHEN,
                "source": {"type": "string"},
                "data": JSON_OK,
                "links": LINKS,
            },
            ["id", "camera", "type", "state", "time", "source", "data", "links"],
            closed=False,
        ),
        "Alarm": _object(
            {
                "id": {"type": "string"},
                "source": {"type": "string"},
                "name": {"type": "string"},
                "state": {"type": "string"},
                "cameras": {"type": "array", "items": {"type": "string"}},
                "time": {"type": ["string", "null"]},
                "links": LINKS,
                "data": JSON_OK,
                "actions": {
                    "type": "array",
                    "items": {"enum": ["acknowledge", "claim", "dismiss", "verify", "end"]},
                    "description": "what may be done to it (its source's actions)",
                },
            },
            ["id", "source", "name", "state", "cameras", "time", "links", "data", "actions"],
        ),
        "RuleRequest": RULE_REQUEST,
        "Rule": RULE,
        "Clip": _object(
            {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "seconds": {"type": "number", "description": "length of the audio"},
                "bytes": {"type": "integer", "description": "8 kHz mu-law samples, one byte each"},
                "created_at": WHEN,
            },
            ["id", "name", "seconds", "bytes", "created_at"],
        ),
        "PushRequest": _object(
            {
                "camera": {"type": "string", "minLength": 1},
                "url": _PUSH_URL,
                "quality": {"enum": list(QUALITIES), "default": "high"},
                "media": {"enum": list(MEDIA), "default": "video"},
                "mode": {"enum": list(MODES), "default": "gateway", "description": "wep: the camera system pushes"},
                "seconds": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": rule_model.MAX_PUSH_SECONDS,
                    "description": "the push ends itself after this long (also across a restart)",
                },
            },
            ["camera", "url"],
        ),
        "Cluster": _object(
            {
                "node_id": {"type": "string", "description": "the node that answered"},
                "nodes": {
                    "type": "array",
                    "items": _object(
                        {
                            "node_id": {"type": "string"},
                            "url": {"type": "string"},
                            "cameras": {
                                "type": "array",
                                "items": _object(
                                    {"camera": {"type": "string"}, "quality": {"enum": list(QUALITIES)}},
                                    ["camera", "quality"],
                                ),
                            },
                            "viewers": {"type": "integer", "minimum": 0},
                            "load": {
                                "type": "number",
                                "minimum": 0,
                                "description": "CPU in cores over the last second",
                            },
                            "started_at": {"type": "number"},
                        },
                        ["node_id", "url", "cameras", "viewers", "load", "started_at"],
                    ),
                },
            },
            ["node_id", "nodes"],
        ),
        "Push": _object(
            {
                "id": {"type": "string"},
                "camera": {"type": "string"},
                "url": {"type": "string", "description": "redacted"},
                "quality": {"enum": list(QUALITIES)},
                "media": {"enum": list(MEDIA)},
                "mode": {"enum": list(MODES)},
                "created_at": WHEN,
                "stop_at": {"type": ["string", "null"], "format": "date-time"},
                "state": {"enum": [state.value for state in PushState]},
                "since": WHEN,
                "last_error": {"type": ["string", "null"]},
                "retry_at": {"type": ["string", "null"], "format": "date-time"},
                "attempts": {"type": "integer", "minimum": 0},
                "history": {
                    "type": "array",
                    "items": _object(
                        {
                            "state": {"enum": [state.value for state in PushState]},
                            "at": WHEN,
                            "reason": {"type": "string"},
                        },
                        ["state", "at"],
                    ),
                },
                "bytes_sent": {"type": "integer"},
                "frames_sent": {"type": "integer"},
                "frames_dropped": {"type": "integer"},
                "bitrate": {"type": "integer"},
                "node": {
                    "type": ["string", "null"],
                    "description": "in a cluster: the node running it (null: none yet)",
                },
            },
            [
                "id",
                "camera",
                "url",
                "quality",
                "media",
                "mode",
                "created_at",
                "stop_at",
                "state",
                "since",
                "last_error",
                "retry_at",
                "attempts",
                "history",
            ],
            description="bytes_sent, frames_sent, frames_dropped and bitrate: mode gateway only",
        ),
    },
}


def document() -> dict:
    paths = {}
    for path, methods in operations().items():
        params = _path_params(path)
        paths[path] = {**({"parameters": params} if params else {}), **methods}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "wep-gateway",
            "version": "1",
            "description": "Media gateway for Avigilon ACC WEP: HLS, progressive fMP4, WebRTC, talkdown, "
            "snapshots, RTMP pushes.",
        },
        "paths": paths,
        "components": COMPONENTS,
    }


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=_BODY, content_type="application/json", headers={"Cache-Control": "no-cache"})


_BODY = json.dumps(document(), indent=1).encode()


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/openapi.json", openapi_json)
