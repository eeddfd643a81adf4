"""HLS / LL-HLS routes.

    GET /hls/{camera}/index.m3u8                   multivariant playlist (high, low)
    GET /hls/{camera}/{quality}/playlist.m3u8      media playlist; _HLS_msn/_HLS_part/_HLS_skip
    GET /hls/{camera}/{quality}/init.mp4           current init segment (init{v}.mp4: a version)
    GET /hls/{camera}/{quality}/seg{msn}.m4s       a whole segment
    GET /hls/{camera}/{quality}/part{id}.m4s       a part; the next one (preload hint) blocks
    ...playlist.m3u8?t=<ISO time>, r{id}-*         recorded video: gateway/hls/recorded.py

Every URI a playlist lists carries the request's `token` query parameter along.

Behind the edge tier (deploy/nginx/edge.conf) the edge says what it wants in the
`X-Wepgw-Edge` header: `check` asks whether this request would be let in (204, after the
same middlewares, without the media), so a cached answer is only handed to a viewer the
gateway accepts; `cache` marks an answer the edge keeps and shares between viewers, so a
playlist carries TOKEN_SLOT where the token goes and the edge writes each viewer's own in.

Cache-Control says how long each answer holds (RFC 9111; RFC 8216bis 6.2.5.2 for blocking
reloads): media names never change content, a blocking reload's URL names a state that
never changes, a plain playlist is live for about a second, an error is never stored.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.api.errors import bad_request, error_middleware, not_found
from gateway.api.query import ascii_int
from gateway.auth.middleware import ADMIN_GRANT, GRANT
from gateway.hls.answers import (
    EDGE_CHECK_TTL,
    EDGE_HEADER,
    ERROR_CACHE,
    FIRST_SEGMENT_TIMEOUT,
    MEDIA_CACHE,
    MEDIA_TYPE,
    PLAIN_PLAYLIST_CACHE,
    PLAYLIST_TYPE,
    token_query,
    unavailable,
)
from gateway.hls.muxer import HlsMuxer, MuxerClosed
from gateway.hls.muxers import HlsMuxers
from gateway.hls.playlist import Variant, render_multivariant, with_query
from gateway.hls.segmenter import ADVANCE_PART_LIMIT
from gateway.services import CAMERAS, CONFIG, SOURCES

HLS_MUXERS = web.AppKey("hls_muxers", HlsMuxers)

# RFC 8216 4.2: a decimal-integer (a media sequence number, a part index) is 0 to 2^64-1.
MAX_DECIMAL_INTEGER = 2**64 - 1
_MEDIA_NAME = re.compile(r"(init|seg|part)([0-9]{0,20})\.(mp4|m4s)")


def _edge_check(request: web.Request) -> web.Response | None:
    """204 for the edge's `check`: the middlewares let this request in. The edge may reuse
    the answer for this credential on every HLS URL of the camera, which holds for a viewer
    token (camera and `view` are all it is checked for) or no credential at all; a guest
    link is checked per URL (its window, live or recorded) and the admin key stays out of
    the edge's cache files."""
    if request.headers.get(EDGE_HEADER) != "check":
        return None
    from gateway.links.guest import GUEST  # gateway.links imports this module

    grant = request.get(GRANT)
    ttl = EDGE_CHECK_TTL
    if grant is not None:
        ttl = min(ttl, int(grant.expires_at - time.time()))
    camera_wide = request.get(GUEST) is None and grant is not ADMIN_GRANT and ttl > 0
    return web.Response(status=204, headers={"Cache-Control": f"max-age={ttl}" if camera_wide else ERROR_CACHE})


def _never_stored_errors(handler):
    """An error answer (mapped where every error is, gateway/api/errors.py) says `no-store`:
    a cache in front must not keep a 404 or a 503 for a name that will exist a moment later."""

    @functools.wraps(handler)  # __wrapped__: gateway/hls/fast_path.py checks what a path reaches
    async def answer(request: web.Request) -> web.StreamResponse:
        response = await error_middleware(request, handler)
        if response.status >= 400:
            response.headers["Cache-Control"] = ERROR_CACHE
        return response

    return answer


async def _muxer(request: web.Request, *, start: bool) -> HlsMuxer:
    camera_id, quality = request.match_info["camera"], request.match_info["quality"]
    muxers = request.app[HLS_MUXERS]
    muxer = muxers.find(camera_id, quality)
    if muxer is not None:
        return muxer
    camera, quality = await request.app[CAMERAS].quality(camera_id, quality)
    if not start:
        raise not_found("no such media: the stream is not running")
    return muxers.open(camera.id, quality)


async def _first_segment(muxer: HlsMuxer) -> None:
    segmenter = muxer.segmenter
    if not await muxer.wait_until(lambda: bool(segmenter.segments), FIRST_SEGMENT_TIMEOUT):
        raise unavailable("no video from the camera yet")


def _int_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    return None if raw is None else ascii_int(raw, name, 0, MAX_DECIMAL_INTEGER)


async def multivariant(request: web.Request) -> web.Response:
    if (checked := _edge_check(request)) is not None:
        return checked
    camera = await request.app[CAMERAS].get(request.match_info["camera"])
    if not camera.qualities:
        raise unavailable("the camera has no video stream")
    query = token_query(request)
    audio = await _audio_codec(request.app[HLS_MUXERS], camera.id, next(iter(camera.qualities)))
    variants = [
        Variant(
            with_query(f"{quality}/playlist.m3u8", query),
            rep.bandwidth,
            rep.width,
            rep.height,
            ",".join(codec for codec in (rep.codecs, audio) if codec),
        )
        for quality, rep in camera.qualities.items()
    ]
    return web.Response(
        body=render_multivariant(variants).encode(),
        headers={"Content-Type": PLAYLIST_TYPE, "Cache-Control": "no-cache"},
    )


async def _audio_codec(muxers: HlsMuxers, camera_id: str, quality: str) -> str:
    """The audio codec every variant carries (camera audio is shared by the qualities).

    The MPD does not say whether the gateway will mux audio in, so the first variant's
    muxer starts (a player is about to ask for it) and its init segment tells; RFC 8216bis
    4.4.6.2 wants CODECS to list every codec of the variant."""
    muxer = muxers.find(camera_id, quality) or muxers.open(camera_id, quality)
    segmenter = muxer.segmenter
    try:
        await muxer.wait_until(lambda: segmenter.init is not None, FIRST_SEGMENT_TIMEOUT)
    except MuxerClosed:
        return ""
    track = segmenter.init.track("audio") if segmenter.init is not None else None
    return track.codec if track is not None else ""


async def media_playlist(request: web.Request) -> web.Response:
    from gateway.hls import recorded

    if (checked := _edge_check(request)) is not None:
        return checked
    if recorded.wants_recording(request):  # ?t=<time>: recorded video, gateway/hls/recorded.py
        return await recorded.media_playlist(request)
    msn, part = _int_param(request, "_HLS_msn"), _int_param(request, "_HLS_part")
    if part is not None and msn is None:
        raise bad_request("_HLS_part needs _HLS_msn")  # RFC 8216bis 6.2.5.2
    delta = request.query.get("_HLS_skip") in ("YES", "v2")
    muxer = await _muxer(request, start=True)
    counters = muxer.counters
    counters.playlist_requests += 1
    segmenter = muxer.segmenter
    cache = PLAIN_PLAYLIST_CACHE
    try:
        if not segmenter.segments:
            await _first_segment(muxer)
        if msn is not None:
            counters.blocking_requests += 1
            if segmenter.too_far_ahead(msn, part):
                counters.too_far_ahead += 1
                raise bad_request("_HLS_msn/_HLS_part too far ahead of the live edge")
            # RFC 8216bis 6.2.5.2: defer until the playlist holds what was asked for, or answer
            # an error, 503 once three target durations have passed; never the older playlist.
            timeout = min(muxer.config.blocking_timeout, 3 * segmenter.target_duration)
            if not await muxer.wait_until(lambda: segmenter.has_part(msn, part), timeout, measure=True):
                counters.blocking_timeouts += 1
                raise unavailable("the segment or part asked for did not come in time")
            # The URL names a state that never changes: short caching is safe (RFC 8216bis 6.2.5.2).
            cache = f"max-age={segmenter.target_duration * 6}"
    except MuxerClosed:
        raise unavailable("the stream stopped") from None
    body = muxer.media_playlist(token_query(request), delta)
    return web.Response(body=body, headers={"Content-Type": PLAYLIST_TYPE, "Cache-Control": cache})


async def media(request: web.Request) -> web.Response:
    from gateway.hls import recorded

    if (checked := _edge_check(request)) is not None:
        return checked
    if recorded.is_recorded_name(request.match_info["name"]):  # r{id}-...: a recording's media
        return await recorded.media(request)
    match = _MEDIA_NAME.fullmatch(request.match_info["name"])
    if match is None:
        raise not_found("no such media")
    kind, number, extension = match.groups()
    if (kind == "init") != (extension == "mp4") or (kind != "init" and not number):
        raise not_found("no such media")
    muxer = await _muxer(request, start=kind == "init")
    try:
        if kind == "init":
            body = await _init(muxer, int(number) if number else None)
        elif kind == "seg":
            body = _segment(muxer, int(number))
        else:
            body = await _part(muxer, int(number))
    except MuxerClosed:
        raise unavailable("the stream stopped") from None
    if body is None:
        muxer.counters.not_found += 1
        raise not_found(f"{request.match_info['name']} is not in the playlist window")
    muxer.counters.bytes_served += len(body)
    cache = "no-cache" if kind == "init" and not number else MEDIA_CACHE
    return web.Response(body=body, headers={"Content-Type": MEDIA_TYPE, "Cache-Control": cache})


async def _init(muxer: HlsMuxer, version: int | None) -> bytes | None:
    muxer.counters.init_requests += 1
    segmenter = muxer.segmenter
    if version is None:
        if segmenter.init is None:
            await _first_segment(muxer)
        return segmenter.init.data if segmenter.init else None
    return segmenter.inits.get(version)


def _segment(muxer: HlsMuxer, msn: int) -> bytes | None:
    muxer.counters.segment_requests += 1
    segment = muxer.segmenter.segment(msn)
    if segment is None:
        return None
    muxer.counters.segments_served += 1
    return segment.data


async def _part(muxer: HlsMuxer, part_id: int) -> bytes | None:
    counters = muxer.counters
    counters.part_requests += 1
    segmenter = muxer.segmenter
    part = segmenter.parts.get(part_id)
    if part is None and segmenter.next_part_id <= part_id < segmenter.next_part_id + ADVANCE_PART_LIMIT:
        # RFC 8216bis 4.4.5.3: a preload hint is fetched before the part exists; answer
        # once it is complete (hls.js reads it whole).
        counters.preload_waits += 1
        await muxer.wait_until(lambda: part_id < segmenter.next_part_id, muxer.config.blocking_timeout, measure=True)
        part = segmenter.parts.get(part_id)
    if part is None:
        return None
    counters.parts_served += 1
    return part.data


async def _service(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    app[HLS_MUXERS] = HlsMuxers(app[SOURCES], config.hls, config.sources.idle_close_after)
    try:
        yield
    finally:
        await app[HLS_MUXERS].close()


def add_routes(app: web.Application) -> None:
    app.cleanup_ctx.append(_service)
    from gateway.hls import recorded

    recorded.install(app)
    # aiohttp tries the /hls routes in this order: the ones players hit several times a
    # second first (playlist before {name}, which would match it too).
    app.router.add_get("/hls/{camera}/{quality}/playlist.m3u8", _never_stored_errors(media_playlist))
    app.router.add_get("/hls/{camera}/{quality}/{name}", _never_stored_errors(media))
    app.router.add_get("/hls/{camera}/index.m3u8", _never_stored_errors(multivariant))
