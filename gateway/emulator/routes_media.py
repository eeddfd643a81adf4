"""GET /media (mpd, fmp4, webm, jpeg, spkc) and GET /media/imageRef (guide, /media)."""

from __future__ import annotations

import asyncio
import time
from functools import partial

from aiohttp import web

from gateway.emulator.access import require_camera, require_session
from gateway.emulator.envelope import WepError, success
from gateway.emulator.jpeg import render_jpeg
from gateway.emulator.library import QUALITIES, ctx_for, main_reps, tile_reps
from gateway.emulator.mpd import build_mpd
from gateway.emulator.params import ParamError, TimeRef, parse_roi, parse_size, parse_time
from gateway.emulator.ptz_view import view_jpeg
from gateway.emulator.state import EMULATOR
from gateway.emulator.streams import send_paced
from gateway.emulator.timeline import LoopCursor, join_index
from gateway.media.fmp4.prft import write_prft

FORMATS = ("fmp4", "jpeg", "json", "webm", "mpd", "spkc")
routes = web.RouteTableDef()


def _parsed(fn, value):
    try:
        return fn(value)
    except ParamError as exc:
        raise WepError(400, str(exc)) from None


@routes.get("/media")
async def media(request: web.Request) -> web.StreamResponse:
    emu = request.app[EMULATOR]
    session = require_session(emu.sessions, request)
    query = request.query
    camera = require_camera(emu.cameras, query.get("cameraId"))
    fmt = query.get("format", "fmp4")
    if fmt not in FORMATS:
        raise WepError(400, f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    target = None
    if "ctx" in query:
        target = emu.ctx_table.get(query["ctx"])
        if target is None or target[0] != camera.id:
            raise WepError(400, "ctx does not name a stream of this camera")
    if fmt == "mpd":
        return _mpd(emu, camera, session.token)
    if fmt == "spkc":
        codecs = ["audio/PCMU"] if camera.has_speaker else []
        return success({"speakerEnabled": camera.has_speaker, "availableAudioCodecs": codecs})
    if fmt == "json":
        raise WepError(415, "format json (analytics metadata) is not emulated")
    when = _parsed(parse_time, query.get("t"))
    if fmt == "jpeg":
        return await _jpeg(request, emu, camera, when)
    if fmt == "webm":
        if emu.library[camera.id].audio is None:
            raise WepError(404, "camera has no audio.")
        return await _stream(request, emu, session, camera, "webm", None, when)
    quality = query.get("quality", "high")
    if target is not None:
        quality = target[1]
    if quality not in QUALITIES:
        raise WepError(400, f"quality must be high or low, not {quality!r}")
    if when.when is None and camera.has_ptz:
        return await _ptz_stream(request, emu, session, camera, quality)
    return await _stream(request, emu, session, camera, "fmp4", quality, when)


def _mpd(emu, camera, session_token: str) -> web.Response:
    media = emu.library[camera.id]
    audio_ctx = ctx_for(camera.id, "audio") if media.audio is not None else None
    text = build_mpd(camera.id, session_token, main_reps(media), tile_reps(media), audio_ctx)
    return web.Response(text=text, content_type="application/dash+xml")


def _start(emu, loop, when: TimeRef) -> tuple[LoopCursor, float, int]:
    """Cursor, monotonic reference and origin (the timeline time of decode time 0): live
    joins the shared clock at the latest keyframe; a recorded time starts at its keyframe,
    with decode times from zero."""
    now = time.monotonic()
    if when.when is None:
        position = int((now - emu.epoch_mono) * loop.timescale)
        return LoopCursor(loop, join_index(loop, position)), emu.epoch_mono, 0
    if when.when > time.time() + 1.0:
        raise WepError(404, "no recording at that time.")
    position = int((when.when - emu.epoch_wall) * loop.timescale)
    before = join_index(loop, position)
    after = join_index(loop, position, after=True)
    probe = LoopCursor(loop, 0)
    if when.match == "g":
        index = after
    elif when.match == "c" and after != before:
        nearer_after = probe.timeline_time(after) - position < position - probe.timeline_time(before)
        index = after if nearer_after else before
    else:  # "l", and "e": every past instant of the loop is "recorded"
        index = before
    origin = probe.timeline_time(index)
    cursor = LoopCursor(loop, index, origin=origin, due_at_start=True)
    return cursor, now - origin / loop.timescale, origin


async def _stream(request, emu, session, camera, fmt: str, quality: str | None, when: TimeRef):
    media = emu.library[camera.id]
    if fmt == "fmp4":
        loop = media.video[quality].loop
        header, content_type = loop.init, "video/mp4"
        prft = emu.settings.prft

        def payload(i: int, decode_time: int, seq: int) -> bytes:
            fragment = loop.fragments[i].stamped(decode_time, seq)
            if not prft:
                return fragment
            # The camera's clock: timeline zero is the emulator's start (epoch_wall).
            taken = emu.epoch_wall + (origin + decode_time) / loop.timescale
            return write_prft(loop.track_id, taken, decode_time) + fragment
    else:
        loop = media.audio
        header, content_type = loop.header, "audio/webm"

        def payload(i: int, decode_time: int, seq: int) -> bytes:
            return loop.clusters[i].stamped(decode_time)

    cursor, reference, origin = _start(emu, loop, when)
    response = web.StreamResponse(headers={"Content-Type": content_type, "Cache-Control": "no-store"})
    response.enable_chunked_encoding()
    async with emu.live_stream(request, session, camera.id, fmt, quality):
        try:
            await response.prepare(request)
            await response.write(header)
            await send_paced(response, cursor, payload, reference, emu.faults)
        except ConnectionError:
            pass  # the reader went away: the normal end of a live stream
    return response


def _frame_at(emu, when: TimeRef) -> int:
    fps = emu.settings.fps
    if when.when is None:
        return int((time.monotonic() - emu.epoch_mono) * fps)
    return int((when.when - emu.epoch_wall) * fps)


async def _jpeg(request, emu, camera, when: TimeRef) -> web.Response:
    if when.when is not None and when.when > time.time() + 1.0:
        raise WepError(404, "no recording at that time.")
    roi = _parsed(parse_roi, request.query.get("roi"))
    size = _parsed(parse_size, request.query.get("size"))
    if when.when is None and camera.has_ptz:
        return await _ptz_jpeg(emu, camera, roi, size)
    return await _render(emu, camera, _frame_at(emu, when), roi, size)


async def _render(emu, camera, frame_index, roi, size) -> web.Response:
    settings = emu.settings
    frames = int(settings.loop_seconds * settings.fps)
    render = partial(render_jpeg, camera.index, frame_index % frames, frames, settings.high_size, roi, size)
    emu.counters.jpeg_renders[camera.id] += 1
    body = await asyncio.get_running_loop().run_in_executor(None, render)
    return web.Response(body=body, content_type="image/jpeg")


# The PTZ camera: live video and JPEGs show what its head sees now (ptz_view.py); its
# recordings (a `t` in the past) are the looping test picture, as for every camera.
async def _ptz_jpeg(emu, camera, roi, size) -> web.Response:
    position = emu.ptz[camera.id].position()
    render = partial(view_jpeg, position, emu.settings.high_size, roi, size)
    emu.counters.jpeg_renders[camera.id] += 1
    body = await asyncio.get_running_loop().run_in_executor(None, render)
    return web.Response(body=body, content_type="image/jpeg")


async def _ptz_stream(request, emu, session, camera, quality: str) -> web.StreamResponse:
    video = emu.ptz_video[(camera.id, quality)]
    response = web.StreamResponse(headers={"Content-Type": "video/mp4", "Cache-Control": "no-store"})
    response.enable_chunked_encoding()
    async with emu.live_stream(request, session, camera.id, "fmp4", quality):
        viewer = await video.open()
        try:
            await response.prepare(request)
            while True:
                stall = emu.faults.stall_left()
                if stall > 0:  # the viewer's queue fills, drops and resyncs at a keyframe
                    await asyncio.sleep(stall)
                    continue
                await response.write(await viewer.next())
        except ConnectionError:
            pass
        finally:
            video.close(viewer)
    return response


@routes.get("/media/imageRef")
async def image_ref(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    require_session(emu.sessions, request)
    camera = require_camera(emu.cameras, request.query.get("cameraId"))
    for name in ("imageRefPath", "imageRefType"):
        if not request.query.get(name):
            raise WepError(400, f"{name} is required")
    return await _render(emu, camera, _frame_at(emu, TimeRef(None)), None, None)
