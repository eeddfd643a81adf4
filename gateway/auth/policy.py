"""Which route needs what (sans-IO): one table keyed by (method, the route's canonical path).

Every route the app serves must have an entry: a matched route without one is refused
(403, fail closed), and tests/auth/test_policy.py walks `app.router` so a new route
without a policy breaks the build rather than opening a hole.

`protocol` labels the route's metrics; `hold` says how the limits (gateway/limits) count
it: "request" holds a viewer slot for the request's life, "session" for the session its
201 creates (until DELETE on the Location or the session ends), "player" counts an HLS
player by its recent playlist requests.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Access(enum.Enum):
    OPEN = "open"  # anyone: the page, health, the API description, CORS preflights
    VIEWER = "viewer"  # a token allowing `action` on the route's {camera}
    CAMERA_LIST = "camera_list"  # any valid token (holding `action`, if set); the answer covers only its cameras
    # The URL's session id is the credential: 128 random bits, handed only to whoever was
    # allowed to create the session (the 201's Location), so hanging up works even after
    # the token expired mid-session.
    SESSION = "session"
    ADMIN = "admin"  # `Authorization: Bearer <[auth] admin_key>`
    # The admin key, or a token holding `action` (the scripts API's integrations), from the
    # Authorization header; enforced even with [auth] viewer_auth = false, refused with 401.
    ADMIN_OR_TOKEN = "admin_or_token"
    METRICS = "metrics"  # open, or admin when [metrics] require_admin_key
    PEER = "peer"  # another node of the cluster: `Authorization: Bearer <[cluster] secret>`
    DENY = "deny"  # no entry in the table


@dataclass(frozen=True, slots=True)
class Rule:
    access: Access
    action: str | None = None  # one of tokens.ACTIONS, for VIEWER (and CAMERA_LIST, ADMIN_OR_TOKEN)
    protocol: str | None = None  # "hls" | "live" | "webrtc" | "talk" | "snapshot": metrics label
    hold: str | None = None  # "request" | "session" | "player": how the viewer limits count it
    upload: bool = False  # the body may be an audio file ([limits] max_upload_bytes)
    long: bool = False  # the answer may take minutes (a file being played): no request timeout


OPEN = Rule(Access.OPEN)
ADMIN = Rule(Access.ADMIN)
DENY = Rule(Access.DENY)
SCRIPTS = Rule(Access.ADMIN_OR_TOKEN, "admin")

POLICY: dict[tuple[str, str], Rule] = {
    ("GET", "/"): OPEN,
    ("GET", "/static/{name}"): OPEN,
    ("GET", "/healthz"): OPEN,
    ("GET", "/readyz"): OPEN,
    ("GET", "/metrics"): Rule(Access.METRICS),
    ("GET", "/api/v1/openapi.json"): OPEN,
    ("GET", "/api/v1/cameras"): Rule(Access.CAMERA_LIST),
    # HLS: playlists count players; media (init, segments, parts) is fetched by players
    # already counted, so it is checked but not counted.
    ("GET", "/hls/{camera}/index.m3u8"): Rule(Access.VIEWER, "view", "hls", "player"),
    ("GET", "/hls/{camera}/{quality}/playlist.m3u8"): Rule(Access.VIEWER, "view", "hls", "player"),
    ("GET", "/hls/{camera}/{quality}/{name}"): Rule(Access.VIEWER, "view", "hls"),
    ("GET", "/live/{camera}.mp4"): Rule(Access.VIEWER, "view", "live", "request"),
    ("POST", "/whep/{camera}"): Rule(Access.VIEWER, "view", "webrtc", "session"),
    # CORS preflights and WHEP's OPTIONS carry no credentials (Fetch: CORS preflight).
    ("OPTIONS", "/whep/{camera}"): OPEN,
    ("DELETE", "/whep/{camera}/{session}"): Rule(Access.SESSION, protocol="webrtc"),
    ("PATCH", "/whep/{camera}/{session}"): Rule(Access.SESSION, protocol="webrtc"),
    ("OPTIONS", "/whep/{camera}/{session}"): OPEN,
    ("POST", "/whip/{camera}/talk"): Rule(Access.VIEWER, "talk", "talk", "session"),
    ("OPTIONS", "/whip/{camera}/talk"): OPEN,
    ("DELETE", "/whip/{camera}/talk/{session}"): Rule(Access.SESSION, protocol="talk"),
    ("PATCH", "/whip/{camera}/talk/{session}"): Rule(Access.SESSION, protocol="talk"),
    ("OPTIONS", "/whip/{camera}/talk/{session}"): OPEN,
    # The answer comes when the file has been played: minutes, so no request timeout.
    ("POST", "/api/v1/cameras/{camera}/talkdown"): Rule(
        Access.VIEWER, "talk", "talk", "request", upload=True, long=True
    ),
    ("GET", "/api/v1/cameras/{camera}/snapshot.jpg"): Rule(Access.VIEWER, "snapshot", "snapshot"),
    ("GET", "/api/v1/cameras/{camera}/image-ref"): Rule(Access.VIEWER, "snapshot", "snapshot"),
    ("GET", "/api/v1/pushes"): ADMIN,
    ("POST", "/api/v1/pushes"): ADMIN,
    ("GET", "/api/v1/pushes/{id}"): ADMIN,
    ("DELETE", "/api/v1/pushes/{id}"): ADMIN,
    ("POST", "/api/v1/tokens"): ADMIN,
    ("POST", "/api/v1/tokens/revoke"): ADMIN,
    # The cluster (gateway/cluster/routes.py): its view for operators, its stream for peers.
    ("GET", "/api/v1/cluster"): ADMIN,
    ("GET", "/internal/v1/live/{camera}/{quality}"): Rule(Access.PEER, protocol="peer"),
    # Guest links (gateway/links): a token with `share` makes them for cameras it may view,
    # and lists and revokes its own; the admin key all of them.
    ("GET", "/api/v1/links"): Rule(Access.CAMERA_LIST, "share"),
    ("POST", "/api/v1/links"): Rule(Access.CAMERA_LIST, "share"),
    ("DELETE", "/api/v1/links/{id}"): Rule(Access.CAMERA_LIST, "share"),
    # The link id in the URL is the credential, checked by the handler (as a session id is).
    ("GET", "/g/{id}"): OPEN,
    ("GET", "/g/{id}/state"): OPEN,
    ("POST", "/api/v1/cameras/{camera}/ptz"): Rule(Access.VIEWER, "ptz"),
    ("POST", "/api/v1/cameras/{camera}/ptz/stop"): Rule(Access.VIEWER, "ptz"),
    ("POST", "/api/v1/cameras/{camera}/ptz/home"): Rule(Access.VIEWER, "ptz"),
    ("POST", "/api/v1/cameras/{camera}/ptz/center"): Rule(Access.VIEWER, "ptz"),
    ("POST", "/api/v1/cameras/{camera}/ptz/zoom-to"): Rule(Access.VIEWER, "ptz"),
    ("GET", "/api/v1/cameras/{camera}/presets"): Rule(Access.VIEWER, "ptz"),
    ("POST", "/api/v1/cameras/{camera}/presets/{n}/goto"): Rule(Access.VIEWER, "ptz"),
    ("POST", "/api/v1/cameras/{camera}/outputs/{n}"): Rule(Access.VIEWER, "outputs"),
    ("GET", "/api/v1/cameras/{camera}/timeline"): Rule(Access.VIEWER, "view"),
    ("GET", "/api/v1/cameras/{camera}/bookmarks"): Rule(Access.VIEWER, "view"),
    ("POST", "/api/v1/cameras/{camera}/bookmarks"): Rule(Access.VIEWER, "record"),
    ("GET", "/api/v1/cameras/{camera}/record"): Rule(Access.VIEWER, "view"),
    ("POST", "/api/v1/cameras/{camera}/record"): Rule(Access.VIEWER, "record"),
    # Proven by WEP's signature (gateway/events/webhook_auth.py), not by a token.
    ("POST", "/wep/webhook"): OPEN,
    ("GET", "/api/v1/events/stream"): Rule(Access.CAMERA_LIST, protocol="events"),
    ("GET", "/api/v1/events"): Rule(Access.CAMERA_LIST),
    ("GET", "/api/v1/alarms"): Rule(Access.CAMERA_LIST, "alarms"),
    ("POST", "/api/v1/alarms/{id}/acknowledge"): Rule(Access.CAMERA_LIST, "alarms"),
    ("POST", "/api/v1/alarms/{id}/claim"): Rule(Access.CAMERA_LIST, "alarms"),
    ("POST", "/api/v1/alarms/{id}/dismiss"): Rule(Access.CAMERA_LIST, "alarms"),
    ("GET", "/api/v1/alarms/{id}/history"): Rule(Access.CAMERA_LIST, "alarms"),
    ("POST", "/api/v1/alarms/{id}/verify"): Rule(Access.CAMERA_LIST, "alarms"),
    ("POST", "/api/v1/alarms/{id}/end"): Rule(Access.CAMERA_LIST, "alarms"),
    # Proven by the secret in its path (gateway/backends/alta/routes.py), not by a token.
    ("POST", "/alta/webhook/{secret}"): OPEN,
    ("GET", "/api/v1/alta/zones"): ADMIN,
    ("POST", "/api/v1/alta/zones/{id}/arm"): ADMIN,
    ("POST", "/api/v1/alta/zones/{id}/disarm"): ADMIN,
    ("GET", "/api/v1/rules"): ADMIN,
    ("POST", "/api/v1/rules"): ADMIN,
    ("GET", "/api/v1/rules/{id}"): ADMIN,
    ("PUT", "/api/v1/rules/{id}"): ADMIN,
    ("DELETE", "/api/v1/rules/{id}"): ADMIN,
    ("GET", "/api/v1/rules/{id}/history"): ADMIN,
    # The VMS scripts API (gateway/rules/scripts_routes.py).
    ("GET", "/api/admin/v1/events"): SCRIPTS,
    ("GET", "/api/admin/v1/reactions"): SCRIPTS,
    ("POST", "/api/admin/v1/reactions"): SCRIPTS,
    ("GET", "/api/admin/v1/users"): SCRIPTS,
    ("GET", "/api/admin/v1/scripts"): SCRIPTS,
    ("POST", "/api/admin/v1/scripts"): SCRIPTS,
    ("GET", "/api/admin/v1/scripts/{id}"): SCRIPTS,
    ("PUT", "/api/admin/v1/scripts/{id}"): SCRIPTS,
    ("DELETE", "/api/admin/v1/scripts/{id}"): SCRIPTS,
    ("GET", "/api/v1/clips"): ADMIN,
    ("POST", "/api/v1/clips"): Rule(Access.ADMIN, upload=True),  # an audio file: [limits] max_upload_bytes
    ("DELETE", "/api/v1/clips/{id}"): ADMIN,
}


def rule_for(method: str, canonical: str) -> Rule:
    """The rule of a matched route; DENY when the table has none (fail closed)."""
    if method == "HEAD":
        method = "GET"  # aiohttp adds HEAD beside every GET; same answer without a body
    return POLICY.get((method, canonical), DENY)
