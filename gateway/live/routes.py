"""`GET /live/{camera}.mp4`: progressive fMP4 (init, then one moof+mdat per frame) for
MSE and players. The viewers of a hub share one fan-out (fanout.py): each frame rendered
once and written to all of them. A client that falls `[live] max_delay_s` behind live
skips to the next keyframe (pacer.py, backlog.py), and one that accepts nothing for
`[live] send_timeout` seconds loses its connection. `stream_fmp4` is the same stream for
one hub reader of its own (the cluster's internal route)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.api.errors import ApiError
from gateway.live.fanout import LiveFanouts
from gateway.live.pacer import ViewerPacer, ViewerStalled
from gateway.media.fmp4 import FragmentWriter, InitSegment
from gateway.media.fmp4.prft import write_prft
from gateway.media.hub import Discontinuity, Frame, HubClosed, HubReader
from gateway.services import CAMERAS, CONFIG, SOURCES

log = logging.getLogger("gateway.live")

FIRST_FRAME_TIMEOUT = 15.0
LIVE_FANOUTS = web.AppKey("live_fanouts", LiveFanouts)


def _no_video() -> ApiError:
    return ApiError(503, "upstream_unavailable", "no video from the camera yet", {"Retry-After": "2"})


async def live_mp4(request: web.Request) -> web.StreamResponse:
    camera_id = request.match_info["camera"]
    camera, quality = await request.app[CAMERAS].quality(camera_id, request.query.get("quality"))
    fanout = request.app[LIVE_FANOUTS].open(camera.id, quality)
    viewer = None
    try:
        if not await fanout.wait_ready(FIRST_FRAME_TIMEOUT):
            raise _no_video()
        response = web.StreamResponse(headers={"Content-Type": "video/mp4", "Cache-Control": "no-store"})
        await response.prepare(request)
        if request.transport is None:  # the viewer left already
            return response
        await response.write(b"")  # the head goes out now; the body is the fan-out's to write
        viewer = fanout.join(request, response)
        await viewer.done
        return response
    finally:
        fanout.release(viewer)


async def stream_fmp4(
    request: web.Request, reader: HubReader, camera_id: str, *, capture_times: bool = False
) -> web.StreamResponse:
    """A hub reader's items as one progressive fMP4 answer (also the cluster's internal
    route, gateway/cluster/routes.py: a peer is a viewer like any other). `capture_times`:
    a `prft` box before each fragment whose sample knows when the camera took it, so a
    peer's HLS keeps the camera's own program date-time."""
    live = request.app[CONFIG].live
    try:
        first = await asyncio.wait_for(reader.get(), FIRST_FRAME_TIMEOUT)
    except TimeoutError:
        raise _no_video() from None
    response = web.StreamResponse(headers={"Content-Type": "video/mp4", "Cache-Control": "no-store"})
    await response.prepare(request)
    transport = request.transport
    if transport is None:  # the viewer left already
        return response
    pacer = ViewerPacer(transport, live.max_delay_s, live.send_timeout)
    subscribed = time.monotonic()  # the primed GOP is the viewer's from now on
    writer = FragmentWriter()
    item = first
    try:
        while True:
            since = time.monotonic()
            if isinstance(item, InitSegment):
                chunk = item.data
            elif isinstance(item, Frame):
                since = max(item.published_at, subscribed)
                if not await pacer.turn(since, len(item.sample.data)):
                    reader.skip_to_keyframe(taken=1)  # counted in the hub's GOPs dropped
                    item = await reader.get()
                    continue
                chunk = writer.write((item.sample,))
                sample = item.sample
                if capture_times and sample.captured_at is not None:
                    media_time = max(0, sample.decode_time + sample.composition_offset)
                    chunk = write_prft(sample.track_id, sample.captured_at, media_time) + chunk
            else:
                assert isinstance(item, Discontinuity)
                chunk = b""
            if chunk:
                # write() awaits drain() past aiohttp's 64 KiB buffer: the backpressure.
                await asyncio.wait_for(response.write(chunk), live.send_timeout)
                pacer.backlog.wrote(len(chunk), since)
            item = await reader.get()
    except (TimeoutError, ViewerStalled):
        log.info("dropped a live viewer that stopped reading", extra={"camera": camera_id})
        pacer.abort()
    except (HubClosed, ConnectionResetError):
        pass
    return response


async def _service(app: web.Application) -> AsyncIterator[None]:
    app[LIVE_FANOUTS] = LiveFanouts(app[SOURCES], app[CONFIG])
    try:
        yield
    finally:
        app[LIVE_FANOUTS].close()


def add_routes(app: web.Application) -> None:
    app.cleanup_ctx.append(_service)
    app.router.add_get("/live/{camera}.mp4", live_mp4)
