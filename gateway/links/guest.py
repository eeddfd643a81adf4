"""A guest link's id presented as a credential (`?token=` or `Authorization: Bearer`, as a
viewer token is): gateway/auth/middleware.py hands ids that are not JWTs (no dots) to
`GuestCredentials.grant`, which answers the link's Grant (its one camera, `view` only,
subject `guest:<ref>`) or refuses: 401 for an unknown id, 410 `link_gone` for a revoked or
expired one, 403 for a route the link does not open.

What a link opens, besides the camera check the middleware makes:
- a live link: live media only (WHEP, /live, live HLS), never a recording;
- a window link: recorded HLS only, a playlist whose `t` lies in [from, to] and the
  r{id}-* media of such recordings, up to a little past `to`; never live, never WHEP.

What a guest opens that outlives its request goes to the book, to close when the link
goes: the connection of a /live stream (when the request is let in), the WHEP session of a
201 (`answered`, which the middleware calls after the handler). HLS needs nothing: its next
request gets the 410.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from gateway.api.errors import ApiError, bad_request
from gateway.api.query import is_ascii_digits
from gateway.auth.closing import ConnectionCloser, session_closer
from gateway.auth.middleware import RULE
from gateway.auth.tokens import Grant
from gateway.hls.recorded import RECORDINGS, is_recorded_name, wants_recording
from gateway.links.book import GONE_MESSAGES, GuestLink, LinkBook
from gateway.snapshots.request import ParameterError, parse_time

GUEST = web.RequestKey("guest_link", GuestLink)

INDEX = ("GET", "/hls/{camera}/index.m3u8")
PLAYLIST = ("GET", "/hls/{camera}/{quality}/playlist.m3u8")
MEDIA = ("GET", "/hls/{camera}/{quality}/{name}")
LIVE_MP4 = ("GET", "/live/{camera}.mp4")
LIVE_ONLY = frozenset({INDEX, LIVE_MP4, ("POST", "/whep/{camera}")})
# `t` of a window link's playlist may stray this far outside the window (milliseconds cut,
# clocks); its segments may start this long after `to`, so a player buffering ahead of the
# moment the guest page stops at is never refused.
T_SLACK = 1.0
TO_SLACK = 30.0


def _forbidden(message: str) -> ApiError:
    return ApiError(
        403, "forbidden", message, {"WWW-Authenticate": 'Bearer realm="wep-gateway", error="insufficient_scope"'}
    )


def link_gone(reason: str) -> ApiError:
    return ApiError(410, "link_gone", GONE_MESSAGES[reason])


class GuestCredentials:
    def __init__(self, book: LinkBook):
        self._book = book

    def grant(self, request: web.Request, link_id: str) -> Grant:
        link = self._book.lookup(link_id)
        if link is None:
            raise ApiError(
                401,
                "unauthorized",
                "unknown guest link",
                {"WWW-Authenticate": 'Bearer realm="wep-gateway", error="invalid_token"'},
            )
        reason = link.gone(self._book.now())
        if reason is not None:
            raise link_gone(reason)
        method = "GET" if request.method == "HEAD" else request.method
        assert request.match_info.route.resource is not None  # the auth rule was found by its route
        route = (method, request.match_info.route.resource.canonical)
        if link.record.live:
            _live_allows(request, route)
        else:
            _window_allows(request, route, link)
        request[GUEST] = link
        if route == LIVE_MP4 and request.transport is not None:
            # Known now, while the stream runs: its handler returns only when it ends.
            self._book.track(link, ConnectionCloser(request.transport, asyncio.current_task()))
        return link.grant

    def recognises(self, link_id: str) -> bool:
        return self._book.lookup(link_id) is not None

    def answered(self, request: web.Request, response: web.StreamResponse) -> None:
        """A guest's WHEP session outlives its 201: it ends with the link."""
        link = request.get(GUEST)
        if link is None:
            return
        closer = session_closer(request, request[RULE], response)
        if closer is not None:
            self._book.track(link, closer)


def _live_allows(request: web.Request, route: tuple[str, str]) -> None:
    if route in LIVE_ONLY:
        return
    if route == PLAYLIST and not wants_recording(request):
        return
    if route == MEDIA and not is_recorded_name(request.match_info["name"]):
        return
    raise _forbidden("a live guest link opens its camera's live video only")


def _window_allows(request: web.Request, route: tuple[str, str], link: GuestLink) -> None:
    window = link.window
    assert window is not None  # only a recorded link's requests come here
    start, end = window
    refused = _forbidden("this guest link opens its camera's recording between its from and to only")
    if route == PLAYLIST:
        values = request.query.getall("t", [])
        if not wants_recording(request):
            raise refused
        try:
            at = parse_time(values[0]) if len(values) == 1 else None
        except ParameterError as exc:
            raise bad_request(str(exc)) from None
        if at is None:
            raise refused
        assert at.at is not None  # wants_recording(): t is not live
        if not start - T_SLACK <= at.at.timestamp() <= end + T_SLACK:
            raise refused
        return
    name = request.match_info.get("name", "")
    if route != MEDIA or not is_recorded_name(name):
        raise refused
    recording_id, _, rest = name[1:].partition("-")
    recording = request.app[RECORDINGS].by_id(recording_id)
    if recording is None:
        return  # the handler answers 404
    assert recording.at.at is not None  # a recording is of a recorded time
    if not start - T_SLACK <= recording.at.at.timestamp() <= end + T_SLACK:
        raise refused
    msn = rest.removeprefix("seg").removesuffix(".m4s")
    if rest.startswith("seg") and is_ascii_digits(msn) and len(msn) <= 9:  # recorded.py's _NAME
        segment = recording.segmenter.segment(int(msn))
        if segment is not None and segment.program_date_time > end + TO_SLACK:
            raise refused
