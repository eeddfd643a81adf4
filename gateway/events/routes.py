"""Events in and out:

    POST /wep/webhook            WEP's notifications (verified; 401 otherwise)
    GET  /api/v1/events/stream   Server-Sent Events, the token's cameras only, Last-Event-ID resume
    GET  /api/v1/events          recent events from the ring, older ones from WEP's search

A token for some cameras sees their events only; events without a camera (a user logged
in, a server restarted) need a token for every camera ("*").
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from gateway.api.errors import ApiError, bad_request
from gateway.auth.middleware import GRANT
from gateway.auth.tokens import ALL_CAMERAS
from gateway.backends.base import UpstreamFailure
from gateway.events import alarm_routes, direct_write, sse
from gateway.events.history import past_events
from gateway.events.model import iso_at
from gateway.events.query import EventQuery, newest
from gateway.events.service import EVENTS, close_streams, event_services

log = logging.getLogger("gateway.events")


def visible_cameras(request: web.Request) -> frozenset[str] | None:
    """The cameras the request's token covers; None for all (also with viewer auth off)."""
    grant = request.get(GRANT)
    if grant is None or ALL_CAMERAS in grant.cameras:
        return None
    return grant.cameras


async def webhook(request: web.Request) -> web.Response:
    receiver = request.app[EVENTS].receiver
    if receiver is None:
        raise ApiError(404, "not_found", "no WEP webhook here: [events] public_url is not set")
    return await receiver.handle(request)


async def event_stream(request: web.Request) -> web.StreamResponse:
    bus = request.app[EVENTS].bus
    last = sse.parse_event_id(request.headers.get("Last-Event-ID") or request.query.get("last_event_id"))
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )  # nginx: pass each event through
    if request.version >= (1, 1):
        response.enable_chunked_encoding()  # what aiohttp does anyway; said, so direct_write can check it
    await response.prepare(request)
    grant = request.get(GRANT)
    subscriber = bus.subscribe(visible_cameras(request), last, grant.subject if grant is not None else None)
    # The bus's tick ends a write stuck on a client that reads nothing (bus.SEND_TIMEOUT).
    subscriber.abort = request.transport.abort if request.transport is not None else None
    loop = asyncio.get_running_loop()
    try:
        await response.write(sse.preamble())
        subscriber.direct = direct_write.writer_for(request, response)
        while True:
            await subscriber.wait()
            if subscriber.closed or subscriber.overflowed:
                break
            batch = subscriber.take()
            if batch:  # (an empty chunk would read as the end of the body)
                subscriber.writing_since = loop.time()
                await response.write(batch)
                subscriber.writing_since = None
        if subscriber.overflowed:
            log.info("event stream client %s dropped: more than %d events behind", request.remote, subscriber.limit)
    except (ConnectionError, RuntimeError):
        pass  # the client left, or the bus aborted a stuck write (RuntimeError: a closed transport)
    finally:
        bus.unsubscribe(subscriber)
    return response


async def list_events(request: web.Request) -> web.Response:
    layer = request.app[EVENTS]
    try:
        query = EventQuery.parse(request.query)
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    cameras = visible_cameras(request)
    if query.camera is not None and cameras is not None and query.camera not in cameras:
        raise ApiError(403, "forbidden", "the token does not cover this camera")

    def allowed(event) -> bool:
        return cameras is None or event.camera in cameras

    found = [event for event in layer.bus.recent() if query.matches(event) and allowed(event)]
    answer: dict = {}
    older = query.start is not None and query.start < layer.bus.covered_since
    if older and query.start is not None and layer.api is not None and len(found) < query.limit:
        end = min(query.end if query.end is not None else layer.bus.covered_since, layer.bus.covered_since)
        devices = [query.camera] if query.camera else sorted(cameras) if cameras is not None else []
        try:
            past = await past_events(layer.api, layer.intake, query, query.start, end, devices)
            found += [event for event in past if allowed(event)]
        except UpstreamFailure as exc:
            log.warning("event search for GET /api/v1/events failed: %s", exc)
            since = iso_at(layer.bus.covered_since)
            answer["incomplete"] = f"events before {since} could not be searched: {exc}"
    answer["events"] = [event.public() for event in newest(found, query.limit)]
    return web.json_response(answer)


def add_routes(app: web.Application) -> None:
    app.cleanup_ctx.append(event_services)
    app.on_shutdown.append(close_streams)
    app.router.add_post("/wep/webhook", webhook)
    app.router.add_get("/api/v1/events/stream", event_stream)
    app.router.add_get("/api/v1/events", list_events)
    alarm_routes.add_routes(app)
