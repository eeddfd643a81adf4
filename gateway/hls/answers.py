"""What the live and the recorded HLS routes answer alike: media types, Cache-Control, the
viewer's token in the URIs a playlist lists, the 503 of a camera that sends nothing yet.
Both route modules import it (recorded.py no longer takes them from routes.py)."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from gateway.api.errors import ApiError
from gateway.hls.playlist import TOKEN_SLOT

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
MEDIA_TYPE = "video/mp4"
# Media names are unique for the life of the gateway (msn and part ids start from the
# clock), so they can be cached as immutable.
MEDIA_CACHE = "public, max-age=60, immutable"
# A plain media playlist is the live edge now; a second old is still a fine place to start
# from (the player's next request blocks for what comes after it). Whole seconds: a shared
# cache stores nothing for max-age=0.
PLAIN_PLAYLIST_CACHE = "max-age=1"
ERROR_CACHE = "no-store"
EDGE_HEADER = "X-Wepgw-Edge"
# How long the edge may reuse a `check` answer for the same credential and camera: what a
# revoked token keeps opening at the edge, at most.
EDGE_CHECK_TTL = 2
# Until the camera delivers a first segment, a playlist request waits this long.
FIRST_SEGMENT_TIMEOUT = 15.0


def token_query(request: web.Request) -> str:
    """The query the URIs of a playlist carry: the viewer's token, or for a shared (edge
    cached) answer the slot the edge writes each viewer's own token into."""
    if request.headers.get(EDGE_HEADER) == "cache":
        return TOKEN_SLOT  # a shared answer never holds one viewer's token
    token = request.query.get("token")
    return urlencode({"token": token}) if token else ""


def unavailable(message: str) -> ApiError:
    return ApiError(503, "upstream_unavailable", message, {"Retry-After": "2"})
