"""/cgi-bin: snapshot.cgi, eventManager.cgi attach, ptz.cgi, audio.cgi postAudio, behind
HTTP Digest (amcrest-cgi-facts.md). Errors answer as Dahua firmware does: a status and a
two-line text/plain body."""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web

from gateway.api.query import is_ascii_digits
from gateway.emulator.amcrest.digest import Verdict
from gateway.emulator.amcrest.event_wire import (
    CONTENT_TYPE,
    HEARTBEAT_PART,
    EventRequestError,
    parse_codes,
    parse_heartbeat,
)
from gateway.emulator.amcrest.events import Delivery
from gateway.emulator.amcrest.state import AMCREST
from gateway.emulator.amcrest.talk import TALK_TYPES
from gateway.emulator.jpeg import render_jpeg

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
CGI_PATH = "/cgi-bin/"

PTZ_ACTIONS = ("start", "stop")
PTZ_CODES = (
    "Up", "Down", "Left", "Right", "LeftUp", "RightUp", "LeftDown", "RightDown", "ZoomTele", "ZoomWide",
    "FocusNear", "FocusFar", "GotoPreset", "SetPreset", "ClearPreset", "StartTour", "StopTour",
)  # fmt: skip


class BadRequest(Exception):
    """Answered "400 Error / Bad Request!" as the camera does."""


def dahua_error(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=f"Error\r\n{text}\r\n", content_type="text/plain")


def ok() -> web.Response:
    return web.Response(text="OK\r\n", content_type="text/plain")


@web.middleware
async def digest_auth(request: web.Request, handler) -> web.StreamResponse:
    """RFC 7616 on every /cgi-bin route; the control routes stay open."""
    if not request.path.startswith(CGI_PATH):
        return await handler(request)
    emu = request.app[AMCREST]
    # RFC 7616 3.4.6: the uri of the credentials is the request-target as sent
    verdict = emu.auth.verify(request.method, request.headers.get("Authorization"), request.raw_path)
    if verdict is not Verdict.OK:
        emu.counters.unauthorized += 1
        response = dahua_error(401, "Unauthorized!")
        response.headers["WWW-Authenticate"] = emu.auth.challenge(qop=True, stale=verdict is Verdict.STALE)
        if request.can_read_body:
            response.force_close()  # an unread upload (postAudio) must not hold the connection
        return response
    try:
        return await handler(request)
    except BadRequest:
        return dahua_error(400, "Bad Request!")


def _channel(request: web.Request) -> int:
    value = request.query.get("channel", "1")
    if not is_ascii_digits(value) or len(value) > 3 or not 1 <= int(value) <= request.app[AMCREST].settings.channels:
        raise BadRequest
    return int(value)


def _int_arg(request: web.Request, name: str) -> int:
    value = request.query.get(name, "0")
    if not is_ascii_digits(value.removeprefix("-")) or len(value) > 9:
        raise BadRequest
    return int(value)


@routes.get("/cgi-bin/snapshot.cgi")
async def snapshot(request: web.Request) -> web.Response:
    emu = request.app[AMCREST]
    channel = _channel(request)
    settings = emu.settings
    frames = int(settings.loop_seconds * settings.fps)
    frame = int(emu.clock.now() * settings.fps) % frames  # the picture the video shows now
    loop = asyncio.get_running_loop()
    jpeg = await loop.run_in_executor(None, render_jpeg, channel - 1, frame, frames, settings.high_size, None, None)
    emu.counters.snapshots += 1
    return web.Response(body=jpeg, content_type="image/jpeg")


@routes.get("/cgi-bin/ptz.cgi")
async def ptz(request: web.Request) -> web.Response:
    emu = request.app[AMCREST]
    channel = _channel(request)
    action, code = request.query.get("action"), request.query.get("code")
    if action not in PTZ_ACTIONS or code not in PTZ_CODES:
        raise BadRequest
    args = {name: _int_arg(request, name) for name in ("arg1", "arg2", "arg3")}
    emu.ptz_log.append({"channel": channel, "action": action, "code": code, **args, "time": time.time()})
    return ok()


@routes.get("/cgi-bin/eventManager.cgi")
async def event_manager(request: web.Request) -> web.StreamResponse:
    emu = request.app[AMCREST]
    if request.query.get("action") != "attach":
        raise BadRequest
    try:
        codes = parse_codes(request.query.get("codes"))
        heartbeat = parse_heartbeat(request.query.get("heartbeat"), emu.settings.heartbeat_default)
    except EventRequestError:
        raise BadRequest from None
    response = web.StreamResponse(headers={"Content-Type": CONTENT_TYPE})
    stream = emu.events.attach(codes)
    emu.counters.event_streams += 1
    try:
        await response.prepare(request)
        next_heartbeat = time.monotonic() + heartbeat
        while True:
            try:
                kind, data = await asyncio.wait_for(stream.queue.get(), max(next_heartbeat - time.monotonic(), 0))
            except TimeoutError:
                await response.write(HEARTBEAT_PART)
                next_heartbeat += heartbeat
                continue
            if kind is Delivery.END:
                break
            await response.write(data)
            if kind is Delivery.CUT:
                assert request.transport is not None  # the write above went through it
                request.transport.close()  # flushes what was written, then closes
                break
    except ConnectionError:
        pass  # the client went away: the normal end of an attach
    finally:
        emu.events.detach(stream)
        emu.counters.event_streams -= 1
    return response


@routes.post("/cgi-bin/audio.cgi")
async def post_audio(request: web.Request) -> web.Response:
    """The client declares Content-Length 9999999, streams audio in real time and ends by
    closing the connection: kept chunk by chunk as it arrives, a disconnect is no error."""
    emu = request.app[AMCREST]
    channel = _channel(request)
    if request.query.get("action") != "postAudio" or request.query.get("httptype", "singlepart") != "singlepart":
        raise BadRequest
    content_type = TALK_TYPES.get(request.headers.get("Content-Type", "").split(";")[0].strip().lower())
    if content_type is None:
        raise BadRequest
    record = emu.talk_records[channel]
    record.content_types.append(content_type)
    try:
        async for chunk in request.content.iter_any():
            record.add(chunk)
    except ConnectionError:
        log.debug("postAudio on channel %d ended by the client closing", channel)
    return ok()  # after a disconnect nobody reads it; aiohttp drops it quietly
