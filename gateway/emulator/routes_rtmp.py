"""/media/rtmp: start, list and stop WEP-side RTMP pushes (guide, /media/rtmp)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from gateway.emulator.access import json_body, require_camera, require_session
from gateway.emulator.envelope import WepError, success
from gateway.emulator.library import QUALITIES
from gateway.emulator.rtmp_push import PushSpec, RtmpPush
from gateway.emulator.state import EMULATOR

MEDIA = ("video", "audio", "both")
routes = web.RouteTableDef()


@routes.get("/media/rtmp")
async def list_pushes(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    session = require_session(emu.sessions, request)
    return success({"streams": [p.to_json() for p in emu.pushes.for_session(session.token)]})


@routes.post("/media/rtmp")
async def start_push(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    body = await json_body(request)
    session = require_session(emu.sessions, request, body)
    camera = require_camera(emu.cameras, body.get("cameraId"))
    url = body.get("url")
    if not isinstance(url, str) or not url.startswith(("rtmp://", "rtmps://")):
        raise WepError(400, "url must be an rtmp:// or rtmps:// URL")
    if body.get("time", "live") != "live":
        raise WepError(400, "the emulator pushes live media only: time must be live")
    media, quality = body.get("media", "video"), body.get("quality", "high")
    if media not in MEDIA:
        raise WepError(400, f"media must be video, audio or both, not {media!r}")
    if quality not in QUALITIES:
        raise WepError(400, f"quality must be high or low, not {quality!r}")
    library = emu.library[camera.id]
    if media != "video" and library.aac_mp4 is None:
        raise WepError(409, "camera has no audio.")
    spec = PushSpec(camera.id, url, media, quality, session.token)
    video = library.video[quality].mp4 if media != "audio" else None
    audio = library.aac_mp4 if media != "video" else None
    loop = asyncio.get_running_loop()
    emu.sessions.stream_started(session)  # a pushing session does not idle out

    def ended(push: RtmpPush) -> None:
        emu.pushes.remove(push)
        try:
            loop.call_soon_threadsafe(emu.sessions.stream_ended, session)
        except RuntimeError:
            pass  # the loop is gone: the emulator is stopping

    push = RtmpPush(spec, video, audio, ended)
    emu.pushes.add(push)
    emu.counters.pushes_started += 1
    push.start()
    return success({"id": spec.id})


@routes.delete("/media/rtmp")
async def stop_pushes(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    body = await json_body(request)
    session = require_session(emu.sessions, request, body)
    ids = body.get("ids") or []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise WepError(400, "ids must be a list of stream ids")
    # Guide: "Specify an RTMP stream URL for streamIds or all RTMP streams in the
    # session will be terminated": an entry may be a push id or its URL.
    chosen = [p for p in emu.pushes.for_session(session.token)
              if not ids or p.spec.id in ids or p.spec.url in ids]  # fmt: skip
    loop = asyncio.get_running_loop()
    await asyncio.gather(*(loop.run_in_executor(None, p.stop) for p in chosen))
    return success({"ids": [p.spec.id for p in chosen]})
