"""`GET /live/{camera}.mp4`: progressive fMP4 (init, then one moof+mdat per frame) for
MSE and players. A hub reader like any other: a slow client loses whole GOPs, and one
that accepts nothing for `[live] send_timeout` seconds is dropped."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from gateway.api.errors import ApiError
from gateway.media.fmp4 import FragmentWriter, InitSegment
from gateway.media.hub import Discontinuity, Frame, HubClosed
from gateway.services import CAMERAS, CONFIG, SOURCES

log = logging.getLogger("gateway.live")

FIRST_FRAME_TIMEOUT = 15.0


async def live_mp4(request: web.Request) -> web.StreamResponse:
    camera_id = request.match_info["camera"]
    camera, quality = await request.app[CAMERAS].quality(camera_id, request.query.get("quality"))
    send_timeout = request.app[CONFIG].live.send_timeout
    with request.app[SOURCES].subscribe(camera.id, quality) as reader:
        try:
            first = await asyncio.wait_for(reader.get(), FIRST_FRAME_TIMEOUT)
        except asyncio.TimeoutError:
            raise ApiError(503, "upstream_unavailable", "no video from the camera yet", {"Retry-After": "2"}) from None
        response = web.StreamResponse(headers={"Content-Type": "video/mp4", "Cache-Control": "no-store"})
        await response.prepare(request)
        writer = FragmentWriter()
        item = first
        try:
            while True:
                if isinstance(item, InitSegment):
                    chunk = item.data
                elif isinstance(item, Frame):
                    chunk = writer.write((item.sample,))
                else:
                    assert isinstance(item, Discontinuity)
                    chunk = b""
                if chunk:
                    # write() awaits drain() past aiohttp's 64 KiB buffer: the backpressure.
                    await asyncio.wait_for(response.write(chunk), send_timeout)
                item = await reader.get()
        except asyncio.TimeoutError:
            log.info("dropped a live viewer that stopped reading", extra={"camera": camera.id})
        except (HubClosed, ConnectionResetError):
            pass
        return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/live/{camera}.mp4", live_mp4)
