"""The public HTTP API as an OpenAPI 3.1 document, served at `GET /api/v1/openapi.json`.

Built here in Python so each operation sits next to its neighbours and a test
(tests/api/test_openapi.py) can check it against `app.router` in both directions: every
route is described, and every described operation is a route.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from gateway.auth.tokens import ACTIONS
from gateway.rules.scripts import EVENT_TYPES
from gateway.wep.recording_api import SCOPES

VIEWER = [{"viewerToken": []}, {"viewerTokenQuery": []}]
ADMIN = [{"adminKey": []}]
OPEN: list = []

ERROR = {"$ref": "#/components/responses/Error"}
ERROR_SCHEMA = {"$ref": "#/components/schemas/Error"}
TOO_MANY = {"$ref": "#/components/responses/Unavailable"}


def _path_params(path: str) -> list[dict]:
    names = [part[:part.index("}")] for part in path.split("{")[1:]]
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in names]


def _query(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


def _op(summary: str, security: list, responses: dict, *, params: list | None = None,
        body: dict | None = None, tag: str) -> dict:
    operation: dict[str, Any] = {"summary": summary, "tags": [tag], "security": security,
                                 "responses": {**responses, "4XX": ERROR, "503": TOO_MANY}}
    if params:
        operation["parameters"] = params
    if body:
        operation["requestBody"] = body
    return operation


def _content(media_type: str, schema: dict | None = None) -> dict:
    return {"content": {media_type: {"schema": schema or {"type": "string", "format": "binary"}}}}


def _ok(description: str, media_type: str, schema: dict | None = None) -> dict:
    return {"description": description, **_content(media_type, schema)}


SDP_BODY = {"required": True, **_content("application/sdp", {"type": "string"})}
SDP_CREATED = {"201": {"description": "session created; Location names it", **_content("application/sdp", {"type": "string"}),
                       "headers": {"Location": {"schema": {"type": "string"}}}}}
TOKEN_Q = _query("token", "viewer token, for players that cannot set Authorization")
QUALITY_Q = _query("quality", "high (default) or low", {"enum": ["high", "low"]})
PUSH_BODY = {"required": True, **_content("application/json", {"$ref": "#/components/schemas/PushRequest"})}
PUSH = _ok("a push", "application/json", {"$ref": "#/components/schemas/Push"})
JSON_OK = {"type": "object"}
CORS_OPTIONS = {"summary": "CORS preflight / WHEP-WHIP discovery", "tags": ["webrtc"], "security": OPEN,
                "responses": {"204": {"description": "allowed methods and Accept-Post"}}}


def operations() -> dict[str, dict[str, dict]]:
    """path -> method (lower case) -> operation, without the path parameters."""
    return {
        "/": {"get": _op("viewer page", OPEN, {"200": _ok("HTML", "text/html")}, tag="web")},
        "/static/{name}": {"get": _op("viewer page assets", OPEN, {"200": _ok("file", "application/octet-stream")},
                                      tag="web")},
        "/healthz": {"get": _op("liveness", OPEN, {"200": _ok("alive", "application/json", JSON_OK)}, tag="ops")},
        "/readyz": {"get": _op("readiness: logged in to WEP", OPEN, {"200": _ok("ready", "application/json", JSON_OK)},
                               tag="ops")},
        "/metrics": {"get": _op("Prometheus metrics ([metrics] require_admin_key puts it behind the admin key)",
                                [{}, *ADMIN], {"200": _ok("text format 0.0.4", "text/plain")}, tag="ops")},
        "/api/v1/openapi.json": {"get": _op("this document", OPEN, {"200": _ok("OpenAPI", "application/json", JSON_OK)},
                                            tag="ops")},
        "/api/v1/cameras": {"get": _op("cameras the token covers", VIEWER, {
            "200": _ok("cameras", "application/json", {"$ref": "#/components/schemas/Cameras"})}, params=[TOKEN_Q],
            tag="cameras")},
        "/api/v1/cameras/{camera}/snapshot.jpg": {"get": _op("JPEG snapshot (action snapshot)", VIEWER, {
            "200": _ok("JPEG", "image/jpeg"), "304": {"description": "not modified"}}, params=[
            TOKEN_Q, _query("t", "live (default) or an instant"), _query("roi", "left,top,right,bottom, normalized"),
            _query("size", "WIDTHxHEIGHT")], tag="snapshots")},
        "/api/v1/cameras/{camera}/image-ref": {"get": _op("JPEG of an image reference (action snapshot)", VIEWER, {
            "200": _ok("JPEG", "image/jpeg")}, params=[TOKEN_Q, _query("path", "image reference path"),
                                                          _query("type", "reference type")], tag="snapshots")},
        "/api/v1/cameras/{camera}/talkdown": {"post": _op(
            "play an audio file on the camera speaker (action talk); answers when played", VIEWER,
            {"200": _ok("played", "application/json", JSON_OK)}, params=[TOKEN_Q],
            body={"required": True, "content": {t: {"schema": {"type": "string", "format": "binary"}}
                                                for t in ("audio/wav", "audio/ogg", "audio/mpeg")}},
            tag="talk")},
        "/hls/{camera}/index.m3u8": {"get": _op("HLS multivariant playlist (action view)", VIEWER, {
            "200": _ok("playlist", "application/vnd.apple.mpegurl")}, params=[TOKEN_Q], tag="hls")},
        "/hls/{camera}/{quality}/playlist.m3u8": {"get": _op("LL-HLS media playlist (action view)", VIEWER, {
            "200": _ok("playlist", "application/vnd.apple.mpegurl")}, params=[
            TOKEN_Q, _query("_HLS_msn", "blocking reload: media sequence number", {"type": "integer"}),
            _query("_HLS_part", "blocking reload: part index", {"type": "integer"}),
            _query("_HLS_skip", "YES or v2: delta update"),
            _query("t", "recorded video from this ISO 8601 time ([,c|l|g|e] match criteria): an HLS EVENT "
                        "playlist instead of the live one; 'live' or absent: live")], tag="hls")},
        "/hls/{camera}/{quality}/{name}": {"get": _op("init{v}.mp4, seg{msn}.m4s, part{id}.m4s; r{id}-init{v}.mp4, r{id}-seg{msn}.m4s of a recording (action view)", VIEWER, {
            "200": _ok("fMP4", "video/mp4")}, params=[TOKEN_Q], tag="hls")},
        "/live/{camera}.mp4": {"get": _op("progressive fMP4 stream (action view)", VIEWER, {
            "200": _ok("init then fragments, until the client leaves", "video/mp4")}, params=[TOKEN_Q, QUALITY_Q],
            tag="live")},
        "/whep/{camera}": {
            "post": _op("WHEP offer (action view)", VIEWER, SDP_CREATED, params=[TOKEN_Q, QUALITY_Q], body=SDP_BODY,
                        tag="webrtc"),
            "options": CORS_OPTIONS},
        "/whep/{camera}/{session}": {
            "delete": _op("end a WHEP session (the session id is the credential)", OPEN,
                          {"200": {"description": "ended"}}, tag="webrtc"),
            "patch": _op("trickle ICE / ICE restart: not supported (405)", OPEN, {"405": ERROR}, tag="webrtc"),
            "options": CORS_OPTIONS},
        "/whip/{camera}/talk": {
            "post": _op("WHIP microphone offer to the camera speaker (action talk)", VIEWER, SDP_CREATED,
                        params=[TOKEN_Q], body=SDP_BODY, tag="talk"),
            "options": CORS_OPTIONS},
        "/whip/{camera}/talk/{session}": {
            "delete": _op("end a talk session (the session id is the credential)", OPEN,
                          {"200": {"description": "ended"}}, tag="talk"),
            "patch": _op("trickle ICE / ICE restart: not supported (405)", OPEN, {"405": ERROR}, tag="talk"),
            "options": CORS_OPTIONS},
        "/api/v1/pushes": {
            "get": _op("RTMP pushes", ADMIN, {"200": _ok("pushes", "application/json", {
                "type": "object", "properties": {"pushes": {"type": "array", "items": {"$ref": "#/components/schemas/Push"}}}})},
                tag="pushes"),
            "post": _op("start an RTMP push", ADMIN, {"201": PUSH}, body=PUSH_BODY, tag="pushes")},
        "/api/v1/pushes/{id}": {
            "get": _op("one push", ADMIN, {"200": PUSH}, tag="pushes"),
            "delete": _op("stop a push", ADMIN, {"200": PUSH}, tag="pushes")},
        **_event_operations(),
        **_control_operations(),
        **_link_operations(),
        **_rule_operations(),
        **_clip_operations(),
        **_script_operations(),
        "/api/v1/tokens": {"post": _op("mint a viewer token", ADMIN, {
            "201": _ok("token", "application/json", {"$ref": "#/components/schemas/Token"})},
            body={"required": True, **_content("application/json", {"$ref": "#/components/schemas/TokenRequest"})},
            tag="auth")},
    }


ALARM = _ok("the alarm after the action", "application/json", {"$ref": "#/components/schemas/Alarm"})
NOTE_BODY = {"required": False, **_content("application/json", {
    "type": "object", "additionalProperties": False, "properties": {"note": {"type": "string", "maxLength": 1000}}})}


def _event_operations() -> dict[str, dict[str, dict]]:
    alarm_action = {action: {"post": _op(f"{action} an alarm (action alarms), audited with the token's sub", VIEWER,
                                         {"200": ALARM}, params=[TOKEN_Q], body=NOTE_BODY, tag="alarms")}
                    for action in ("acknowledge", "claim", "dismiss", "end")}
    alarm_action["verify"] = {"post": _op(
        "verify an Alta alarm: acknowledgment_code 101 (none), 201 (valid) or 202 (false); audited with the sub",
        VIEWER, {"200": ALARM}, params=[TOKEN_Q], body={"required": True, **_content("application/json", {
            "type": "object", "required": ["result"], "additionalProperties": False,
            "properties": {"result": {"enum": ["none", "valid", "false"]},
                           "note": {"type": "string", "maxLength": 1000}}})}, tag="alarms")}
    zone = {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                                             "armed": {"type": ["boolean", "null"]}}}
    armed = _ok("done", "application/json", {"type": "object", "properties": {"zone": {"type": "string"},
                                                                              "armed": {"type": "boolean"}}})
    return {
        "/wep/webhook": {"post": _op("WEP webhook notifications (HELLO, HEARTBEAT, NOTIFICATION), verified by the "
                                     "registration's token: 401 otherwise", OPEN,
                                     {"200": _ok("queued", "application/json", JSON_OK)},
                                     body={"required": True, **_content("application/json", JSON_OK)},
                                     tag="events")},
        "/api/v1/events/stream": {"get": _op(
            "Server-Sent Events: one `event:` per type family (motion, analytics, alarm, device, user, system), "
            "`id:` per event; resume with Last-Event-ID", VIEWER,
            {"200": _ok("event stream", "text/event-stream", {"type": "string"})},
            params=[TOKEN_Q, _query("last_event_id", "resume after this event id (as the Last-Event-ID header)")],
            tag="events")},
        "/api/v1/events": {"get": _op("recent events from memory, older ones from WEP's event search; newest first",
                                      VIEWER, {"200": _ok("events", "application/json", {
                                          "type": "object", "required": ["events"], "properties": {
                                              "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
                                              "incomplete": {"type": "string"}}})},
                                      params=[TOKEN_Q, _query("camera", "one camera id"),
                                              _query("type", "event types, comma-separated (DEVICE_MOTION_START,...)"),
                                              _query("from", "ISO 8601 time; older than memory: WEP is searched",
                                                     {"type": "string", "format": "date-time"}),
                                              _query("to", "ISO 8601 time", {"type": "string", "format": "date-time"}),
                                              _query("limit", "1 to 1000, default 100",
                                                     {"type": "integer", "minimum": 1, "maximum": 1000})],
                                      tag="events")},
        "/api/v1/alarms": {"get": _op("alarms of every source that concern the token's cameras (action alarms)",
                                      VIEWER, {"200": _ok("alarms", "application/json", {
                                          "type": "object", "required": ["alarms"], "properties": {
                                              "alarms": {"type": "array", "items": {"$ref": "#/components/schemas/Alarm"}},
                                              "unavailable": {"type": "array", "items": JSON_OK}}})},
                                      params=[TOKEN_Q], tag="alarms")},
        **{f"/api/v1/alarms/{{id}}/{action}": operation for action, operation in alarm_action.items()},
        "/alta/webhook/{secret}": {"post": _op(
            "Alta's alarm action (the path's secret is [alta] webhook_secret; 404 otherwise): a JSON or form payload "
            "with the zone and device under [alta] zone_key and device_key; looked up after the answer", OPEN,
            {"200": _ok("queued", "application/json", JSON_OK)},
            body={"required": True, "content": {"application/json": {"schema": JSON_OK},
                                                "application/x-www-form-urlencoded": {"schema": JSON_OK}}},
            tag="alarms")},
        "/api/v1/alta/zones": {"get": _op("Alta's alarm zones (admin)", ADMIN, {"200": _ok(
            "zones", "application/json", {"type": "object", "required": ["zones"],
                                          "properties": {"zones": {"type": "array", "items": zone}}})},
            tag="alarms")},
        "/api/v1/alta/zones/{id}/arm": {"post": _op("arm an Alta alarm zone (admin)", ADMIN, {"200": armed},
                                                    tag="alarms")},
        "/api/v1/alta/zones/{id}/disarm": {"post": _op("disarm an Alta alarm zone (admin)", ADMIN, {"200": armed},
                                                       tag="alarms")},
        "/api/v1/alarms/{id}/history": {"get": _op("who did what to the alarm, newest first (action alarms)", VIEWER,
                                                   {"200": _ok("history", "application/json", JSON_OK)},
                                                   params=[TOKEN_Q], tag="alarms")},
    }


def _link_operations() -> dict[str, dict[str, dict]]:
    when = {"type": "string", "format": "date-time"}
    link = {"type": "object", "description": "a guest link as listed: its ref, never its id", "properties": {
        "ref": {"type": "string", "description": "first 16 hex characters of the id's SHA-256"},
        "camera": {"type": "string"}, "live": {"type": "boolean"},
        "from": {"type": ["string", "null"], "format": "date-time"},
        "to": {"type": ["string", "null"], "format": "date-time"},
        "created_at": when, "expires_at": when, "revoked": {"type": "boolean"},
        "state": {"enum": ["active", "revoked", "expired"]}, "created_by": {"type": "string"}}}
    request = {"type": "object", "required": ["camera"], "additionalProperties": False, "properties": {
        "camera": {"type": "string"},
        "live": {"type": "boolean", "description": "true: live video (and no from/to)"},
        "from": {**when, "description": "a recorded window's start (with to; at most 24 h, not in the future)"},
        "to": {**when, "description": "a recorded window's end"},
        "ttl": {"type": "integer", "minimum": 1, "description": "seconds ([links] default_ttl, at most max_ttl; "
                                                                "a token's link never outlives the token)"}}}
    created = {"type": "object", "required": ["id", "url", "expires_at"], "properties": {
        "id": {"type": "string", "description": "the credential: shown only here and in url"},
        "ref": {"type": "string"}, "url": {"type": "string", "description": "ends in /g/{id}"},
        "camera": {"type": "string"}, "live": {"type": "boolean"}, "from": when, "to": when, "expires_at": when}}
    gone = {"410": {"description": "the link was revoked or has expired"}}
    return {
        "/api/v1/links": {
            "get": _op("guest links (action share: the token's own; admin key: all)", VIEWER, {"200": _ok(
                "links", "application/json", {"type": "object", "required": ["links"], "properties": {
                    "links": {"type": "array", "items": link}}})}, params=[TOKEN_Q], tag="links"),
            "post": _op("make a guest link to one camera, live or a recorded window (action share, for a camera "
                        "the token may view)", VIEWER, {"201": _ok("the link", "application/json", created)},
                        params=[TOKEN_Q], body={"required": True, **_content("application/json", request)},
                        tag="links")},
        "/api/v1/links/{id}": {
            "delete": _op("revoke a guest link by id or ref: refused from then on, open streams closed within 2 s",
                          VIEWER, {"200": _ok("the revoked link", "application/json", link)}, params=[TOKEN_Q],
                          tag="links")},
        "/g/{id}": {"get": _op("the guest page of a link (the id is the credential; its video requests present "
                               "it as a viewer token)", OPEN, {"200": _ok("HTML", "text/html"),
                                                              "404": {"description": "no such link"}, **gone},
                               tag="links")},
        "/g/{id}/state": {"get": _op("the guest page's state: newline-delimited JSON, {link} first, {alive} "
                                     "now and then, {gone: revoked|expired} when it ends", OPEN,
                                     {"200": _ok("state stream", "application/x-ndjson", {"type": "string"}),
                                      **gone}, tag="links")},
    }


def _control_operations() -> dict[str, dict[str, dict]]:
    ok = {"200": _ok("done", "application/json", JSON_OK)}
    refused = {"409": {"description": "another operator steers this camera (named in the message)"},
               "501": {"description": "the camera system has no such command"}}

    def body(properties: dict, required: list[str] | None = None) -> dict:
        return {"required": bool(required), **_content("application/json", {
            "type": "object", "additionalProperties": False, "properties": properties,
            **({"required": required} if required else {})})}

    unit = {"type": "number", "minimum": -1, "maximum": 1}
    # Optional: the operator's command number; an older one than already taken is not sent.
    SEQ = {"type": "integer", "minimum": 0, "description": "increasing per operator; older commands are dropped"}
    share = {"type": "number", "minimum": 0, "maximum": 1}
    base = "/api/v1/cameras/{camera}"
    return {
        f"{base}/ptz": {"post": _op("continuous move (action ptz); stops by itself 1 s after the last command",
                                    VIEWER, {**ok, **refused}, params=[TOKEN_Q],
                                    body=body({"pan": unit, "tilt": unit, "zoom": unit, "seq": SEQ}), tag="control")},
        f"{base}/ptz/stop": {"post": _op("stop moving (action ptz)", VIEWER, {**ok, **refused}, params=[TOKEN_Q],
                                         body=body({"seq": SEQ}), tag="control")},
        f"{base}/ptz/home": {"post": _op("go to the home position (action ptz)", VIEWER, {**ok, **refused},
                                         params=[TOKEN_Q], tag="control")},
        f"{base}/ptz/center": {"post": _op("centre on a normalised point of the picture (action ptz)", VIEWER,
                                           {**ok, **refused}, params=[TOKEN_Q],
                                           body=body({"x": share, "y": share}, ["x", "y"]), tag="control")},
        f"{base}/ptz/zoom-to": {"post": _op("zoom to a normalised region of the picture (action ptz)", VIEWER,
                                            {**ok, **refused}, params=[TOKEN_Q], body=body(
                                                {"roi": {"type": "array", "items": share, "minItems": 4,
                                                         "maxItems": 4}}, ["roi"]), tag="control")},
        f"{base}/presets": {"get": _op("the camera's PTZ presets (action ptz)", VIEWER, {"200": _ok(
            "presets", "application/json", {"type": "object", "properties": {"presets": {
                "type": "array", "items": {"type": "object", "properties": {
                    "number": {"type": "integer"}, "name": {"type": "string"}}}}}})}, params=[TOKEN_Q],
            tag="control")},
        f"{base}/presets/{{n}}/goto": {"post": _op("go to preset n (action ptz)", VIEWER, {**ok, **refused},
                                                   params=[TOKEN_Q], tag="control")},
        f"{base}/outputs/{{n}}": {"post": _op("set digital output n (action outputs)", VIEWER, {**ok, **refused},
                                              params=[TOKEN_Q], body=body({"state": {"enum": ["on", "off", "pulse"]}},
                                                                          ["state"]), tag="control")},
        f"{base}/timeline": {"get": _op("recorded ranges and motion marks (action view), cached", VIEWER, {
            "200": _ok("timeline", "application/json", JSON_OK)}, params=[
            TOKEN_Q, _query("from", "ISO 8601 (default: an hour before to)", {"type": "string", "format": "date-time"}),
            _query("to", "ISO 8601 (default: now)", {"type": "string", "format": "date-time"}),
            _query("scope", "interval length (default: chosen from the span)", {"enum": list(SCOPES)})],
            tag="recordings")},
        f"{base}/bookmarks": {
            "get": _op("the camera's bookmarks, newest first (action view)", VIEWER,
                       {"200": _ok("bookmarks", "application/json", JSON_OK)}, params=[TOKEN_Q], tag="recordings"),
            "post": _op("bookmark a moment (action record)", VIEWER,
                        {"201": _ok("the bookmark", "application/json", JSON_OK)}, params=[TOKEN_Q], body=body({
                            "name": {"type": "string", "minLength": 1, "maxLength": 200},
                            "time": {"type": "string", "format": "date-time"},
                            "duration_s": {"type": "number", "minimum": 0, "maximum": 86400},
                            "description": {"type": "string", "maxLength": 2000}}, ["name", "time"]),
                        tag="recordings")},
        f"{base}/record": {
            "get": _op("whether the camera records on demand now (action view)", VIEWER,
                       {"200": _ok("state", "application/json", JSON_OK)}, params=[TOKEN_Q], tag="recordings"),
            "post": _op("start or stop recording on demand (action record)", VIEWER,
                        {"200": _ok("state", "application/json", JSON_OK)}, params=[TOKEN_Q], body=body({
                            "action": {"enum": ["start", "stop"]},
                            "seconds": {"type": "integer", "minimum": 1, "maximum": 86400}}, ["action"]),
                        tag="recordings")},
    }


def _rule_operations() -> dict[str, dict[str, dict]]:
    rule = _ok("a rule", "application/json", {"$ref": "#/components/schemas/Rule"})
    body = {"required": True, **_content("application/json", {"$ref": "#/components/schemas/RuleRequest"})}
    return {
        "/api/v1/rules": {
            "get": _op("automation rules", ADMIN, {"200": _ok("rules", "application/json", {
                "type": "object", "required": ["rules"],
                "properties": {"rules": {"type": "array", "items": {"$ref": "#/components/schemas/Rule"}}}})},
                tag="rules"),
            "post": _op("add a rule: every bad field is a 400 naming it", ADMIN, {"201": rule}, body=body,
                        tag="rules")},
        "/api/v1/rules/{id}": {
            "get": _op("one rule, with its counters", ADMIN, {"200": rule}, tag="rules"),
            "put": _op("replace a rule (a masked webhook secret sent back keeps the stored one)", ADMIN,
                       {"200": rule}, body=body, tag="rules"),
            "delete": _op("delete a rule and its history", ADMIN, {"204": {"description": "deleted"}}, tag="rules")},
        "/api/v1/rules/{id}/history": {"get": _op(
            "the rule's firings, newest first: the event, each action's outcome and duration", ADMIN,
            {"200": _ok("firings", "application/json", {
                "type": "object", "required": ["rule", "firings"],
                "properties": {"rule": {"type": "integer"}, "firings": {"type": "array", "items": JSON_OK}}})},
            params=[_query("limit", "1 to 1000, default 100", {"type": "integer", "minimum": 1, "maximum": 1000})],
            tag="rules")},
    }


def _clip_operations() -> dict[str, dict[str, dict]]:
    clip = {"$ref": "#/components/schemas/Clip"}
    audio = {"type": "string", "format": "binary"}
    upload = {"required": True, "content": {
        **{media: {"schema": audio} for media in ("audio/wav", "audio/ogg", "audio/mpeg", "application/octet-stream")},
        "multipart/form-data": {"schema": {"type": "object", "required": ["name", "file"], "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 64}, "file": audio}}}}}
    return {
        "/api/v1/clips": {
            "get": _op("named audio clips for the talkdown action, oldest first", ADMIN, {"200": _ok(
                "clips", "application/json", {"type": "object", "required": ["clips"], "properties": {
                    "clips": {"type": "array", "items": clip}}})}, tag="rules"),
            "post": _op("add a clip: a WAV / Ogg / MP3 file as the body (?name=) or a multipart form (name, file), "
                        "decoded once to 8 kHz mu-law; 409 if the name is taken, 415 if it is not audio", ADMIN,
                        {"201": _ok("the clip", "application/json", clip)},
                        params=[_query("name", "the clip's name, 1 to 64 printable characters (unique); "
                                               "with a raw body", {"type": "string", "minLength": 1,
                                                                   "maxLength": 64})],
                        body=upload, tag="rules")},
        "/api/v1/clips/{id}": {
            "delete": _op("delete a clip (rules naming it then skip their talkdown)", ADMIN,
                          {"200": _ok("the deleted clip", "application/json", clip)}, tag="rules")},
    }


def _script_operations() -> dict[str, dict[str, dict]]:
    """The VMS scripts API (gateway/rules/scripts_routes.py): the seed's shapes, bare lists."""
    security = [*ADMIN, {"viewerToken": []}]  # the admin key or a token with the `admin` action
    refused = {"401": {"description": "Authorization token is not provided or is invalid (also: a token without "
                                      "the admin action)", **_content("application/json", ERROR_SCHEMA)},
               "422": {"description": "a bad body: every bad field named", **_content("application/json",
                                                                                       ERROR_SCHEMA)}}
    when = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$",
            "description": "UTC"}
    event_keys = ["id", "name", "description", "color", "analytic_type"]
    event = {"type": "object", "required": event_keys, "properties": {
        "id": {"type": "integer", "enum": [entry.id for entry in EVENT_TYPES]}, "name": {"type": "string"},
        "description": {"type": "string"}, "color": {"type": "string"}, "analytic_type": {"type": "string"}}}
    event_type = {**event, "required": [*event_keys, "type"], "properties": {
        **event["properties"], "type": {"type": "string", "description": "the WEP topic a script on it matches"}}}
    actions = RULE_REQUEST["properties"]["actions"]
    reaction = {"type": "object", "required": ["id", "name", "actions", "created_at", "updated_at"], "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"},
        "actions": {**actions, "description": "rule actions; webhook secrets shown as ********"},
        "created_at": when, "updated_at": when}}
    user = {"type": "object", "required": ["id", "name", "login", "created_at", "updated_at"], "properties": {
        "id": {"type": "integer"}, "name": {"type": "string", "description": "the token subject"},
        "login": {"type": "string"}, "created_at": when, "updated_at": when, "expired_at": {"type": "null"},
        "is_licence_limit_reached": {"const": False}, "ptz_priority": {"type": "integer"},
        "access_token_id": {"type": "null"}}}
    schedule = RULE_REQUEST["properties"]["when"]["properties"]["schedule"]
    script = {"type": "object", "required": ["id", "event", "reaction", "users", "schedule", "created_at",
                                             "updated_at"], "properties": {
        "id": {"type": "integer", "description": "the rule's id: GET /api/v1/rules/{id} shows it"},
        "event": event, "reaction": {"anyOf": [reaction, {"type": "null"}]},
        "users": {"type": "array", "items": user}, "schedule": schedule, "created_at": when, "updated_at": when}}
    script_body = {"required": True, **_content("application/json", {
        "type": "object", "required": ["event_id", "reaction_id"], "additionalProperties": False, "properties": {
            "event_id": {"type": "integer", "enum": [entry.id for entry in EVENT_TYPES]},
            "reaction_id": {"type": "integer", "minimum": 0},
            "users": {"type": "array", "items": {"type": "integer", "minimum": 0},
                      "description": "ids of GET /api/admin/v1/users, notified (SSE `event: notify`)"},
            "schedule": schedule}})}
    reaction_body = {"required": True, **_content("application/json", {
        "type": "object", "required": ["name", "actions"], "additionalProperties": False, "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 128}, "actions": actions}})}
    one = {"200": _ok("the script", "application/json", script), **refused}

    def listing(what: str, item: dict) -> dict:
        return {"200": _ok(what, "application/json", {"type": "array", "items": item}), **refused}

    base = "/api/admin/v1"
    return {
        f"{base}/events": {"get": _op("event types a script can name (ids never change)", security,
                                      listing("event types", event_type), tag="scripts")},
        f"{base}/reactions": {
            "get": _op("saved action lists", security, listing("reactions", reaction), tag="scripts"),
            "post": _op("save an action list", security, {"201": _ok("the reaction", "application/json", reaction),
                                                          **refused}, body=reaction_body, tag="scripts")},
        f"{base}/users": {"get": _op("token subjects (remembered when a token with sub is minted)", security,
                                     listing("users", user), tag="scripts")},
        f"{base}/scripts": {
            "get": _op("scripts: the rules made through this API", security, listing("scripts", script),
                       tag="scripts"),
            "post": _op("add a script (a rule over every camera): 200, as the VMS answers", security, one,
                        body=script_body, tag="scripts")},
        f"{base}/scripts/{{id}}": {
            "get": _op("one script", security, one, tag="scripts"),
            "put": _op("replace a script (the rule keeps its cameras, cooldown and enabled)", security, one,
                       body=script_body, tag="scripts"),
            "delete": _op("delete a script and its rule", security, {"200": _ok("deleted", "application/json", {
                "type": "object", "maxProperties": 0}), **refused}, tag="scripts")},
    }


_HMS = {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"}
_ACTION_SCHEMAS = {
    "talkdown": {"required": ["clip"], "properties": {"clip": {"type": "string", "description": "clip id or name"}}},
    "ptz_preset": {"required": ["preset"], "properties": {"preset": {"type": "integer", "minimum": 0}}},
    "snapshot": {"properties": {}},
    "record": {"required": ["seconds"], "properties": {"seconds": {"type": "integer", "minimum": 1}}},
    "push": {"required": ["url", "seconds"], "properties": {
        "url": {"type": "string"}, "seconds": {"type": "integer", "minimum": 1, "maximum": 86400},
        "quality": {"enum": ["high", "low"]}, "media": {"enum": ["video", "audio", "both"]}}},
    "webhook": {"required": ["url", "secret"], "properties": {"url": {"type": "string", "format": "uri"},
                                                             "secret": {"type": "string"}}},
    "share_link": {"properties": {"ttl": {"type": "integer", "minimum": 1}, "live": {"type": "boolean"}}},
}
RULE_REQUEST = {"type": "object", "required": ["name", "when", "actions"], "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 128},
                    "enabled": {"type": "boolean", "default": True},
                    "when": {"type": "object", "additionalProperties": False, "properties": {
                        "cameras": {"type": "array", "items": {"type": "string"}, "description": "empty: every camera"},
                        "types": {"type": "array", "items": {"type": "string"},
                                  "description": "event types (DEVICE_MOTION_START...); empty: every type"},
                        "schedule": {"type": "array", "description": "empty: always; day 0 is Monday", "items": {
                            "type": "object", "required": ["day", "ranges"], "additionalProperties": False,
                            "properties": {"day": {"type": "integer", "minimum": 0, "maximum": 6},
                                           "ranges": {"type": "array", "minItems": 1, "items": {
                                               "type": "object", "required": ["from", "to"],
                                               "additionalProperties": False,
                                               "properties": {"from": _HMS, "to": _HMS}}}}}},
                        "timezone": {"type": "string", "description": "IANA zone; default [rules] timezone"}}},
                    "cooldown_s": {"type": "number", "minimum": 0},
                    "actions": {"type": "array", "minItems": 1, "maxItems": 16, "items": {"oneOf": [
                        {"type": "object", "required": [kind], "additionalProperties": False, "properties": {
                            kind: {"type": "object", "additionalProperties": False, **schema}}}
                        for kind, schema in _ACTION_SCHEMAS.items()]}},
                    "notify": {"type": "array", "items": {"type": "string"},
                               "description": "token subjects whose event streams get the firing highlighted"}}}
RULE = {"type": "object", "required": ["id", "name", "enabled", "when", "cooldown_s", "actions", "notify"],
        "properties": {**RULE_REQUEST["properties"], "id": {"type": "integer"},
                       "created_at": {"type": "string", "format": "date-time"},
                       "updated_at": {"type": "string", "format": "date-time"},
                       "stats": {"type": ["object", "null"]}}}


LINKS = {"type": "object", "properties": {"snapshot": {"type": ["string", "null"]},
                                          "recording": {"type": ["string", "null"]},
                                          "shared": {"type": "array", "items": {"type": "string"},
                                                     "description": "Alta's shared video links"}}}
COMPONENTS = {
    "securitySchemes": {
        "viewerToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        "viewerTokenQuery": {"type": "apiKey", "in": "query", "name": "token"},
        "adminKey": {"type": "http", "scheme": "bearer", "description": "[auth] admin_key"},
    },
    "responses": {
        "Error": {"description": "error", **_content("application/json", {"$ref": "#/components/schemas/Error"})},
        "Unavailable": {"description": "over a limit, or upstream unavailable; see Retry-After",
                        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                        **_content("application/json", {"$ref": "#/components/schemas/Error"})},
    },
    "schemas": {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
        "Cameras": {"type": "object", "properties": {"cameras": {"type": "array", "items": {
            "type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                                             "qualities": {"type": "array", "items": {"enum": ["high", "low"]}},
                                             "speaker": {"type": "boolean"},
                                             "audio": {"type": "boolean"},
                                             "source": {"enum": ["wep", "amcrest"],
                                                        "description": "the camera system behind it"},
                                             "ptz": {"type": "boolean"},
                                             "available": {"type": "boolean",
                                                           "description": "present and false for a configured "
                                                                          "camera that cannot be reached"},
                                             "reason": {"type": "string"}}}}}},
        "TokenRequest": {"type": "object", "required": ["cameras", "actions"], "additionalProperties": False,
                         "properties": {
                             "cameras": {"type": "array", "minItems": 1, "items": {"type": "string"},
                                         "description": 'camera ids, or ["*"] for every camera'},
                             "actions": {"type": "array", "minItems": 1,
                                         "items": {"enum": list(ACTIONS)}},
                             "ttl": {"type": "integer", "minimum": 1, "default": 3600},
                             "sub": {"type": "string", "minLength": 1, "maxLength": 128,
                                     "description": "who holds the token, named in audit logs"}}},
        "Token": {"type": "object", "properties": {"token": {"type": "string"},
                                                   "expires_at": {"type": "string", "format": "date-time"}}},
        "Event": {"type": "object", "required": ["id", "type", "state", "time", "source"], "properties": {
            "id": {"type": "string"}, "camera": {"type": ["string", "null"]}, "type": {"type": "string"},
            "state": {"enum": ["start", "stop", "pulse"]}, "time": {"type": "string", "format": "date-time"},
            "source": {"type": "string"}, "data": JSON_OK, "links": LINKS}},
        "Alarm": {"type": "object", "required": ["id", "source", "name", "state", "cameras"], "properties": {
            "id": {"type": "string"}, "source": {"type": "string"}, "name": {"type": "string"},
            "state": {"type": "string"}, "cameras": {"type": "array", "items": {"type": "string"}},
            "time": {"type": ["string", "null"]}, "links": LINKS, "data": JSON_OK,
            "actions": {"type": "array", "items": {"enum": ["acknowledge", "claim", "dismiss", "verify", "end"]},
                        "description": "what may be done to it (its source's actions)"}}},
        "RuleRequest": RULE_REQUEST,
        "Rule": RULE,
        "Clip": {"type": "object", "required": ["id", "name", "seconds", "bytes", "created_at"], "properties": {
            "id": {"type": "string"}, "name": {"type": "string"},
            "seconds": {"type": "number", "description": "length of the audio"},
            "bytes": {"type": "integer", "description": "8 kHz mu-law samples, one byte each"},
            "created_at": {"type": "string", "format": "date-time"}}},
        "PushRequest": {"type": "object", "required": ["camera", "url"], "properties": {
            "camera": {"type": "string"}, "url": {"type": "string"}, "quality": {"enum": ["high", "low"]},
            "media": {"enum": ["video", "audio", "both"]}, "mode": {"enum": ["gateway", "wep"]},
            "seconds": {"type": "integer", "minimum": 1, "maximum": 86400,
                        "description": "the push ends itself after this long (also across a restart)"}}},
        "Push": {"type": "object", "properties": {
            "id": {"type": "string"}, "camera": {"type": "string"}, "url": {"type": "string", "description": "redacted"},
            "state": {"enum": ["starting", "live", "retrying", "failed", "stopped"]}}},
    },
}


def document() -> dict:
    paths = {}
    for path, methods in operations().items():
        params = _path_params(path)
        paths[path] = {**({"parameters": params} if params else {}), **methods}
    return {
        "openapi": "3.1.0",
        "info": {"title": "wep-gateway", "version": "1",
                 "description": "Media gateway for Avigilon ACC WEP: HLS, progressive fMP4, WebRTC, talkdown, "
                                "snapshots, RTMP pushes."},
        "paths": paths,
        "components": COMPONENTS,
    }


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=_BODY, content_type="application/json", headers={"Cache-Control": "no-cache"})


_BODY = json.dumps(document(), indent=1).encode()


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/openapi.json", openapi_json)
