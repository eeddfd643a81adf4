"""GET /cloud?t=<guest_token>: the shared link of a bookmark (guide, "View alarm video using a
shared link"). No login: the token is the credential. The page names the alert's zone, the
device and the bookmark's times, so a test can tell the link leads to the right video."""

from __future__ import annotations

from html import escape

from aiohttp import web

from gateway.emulator.alta.errors import NotFound
from gateway.emulator.alta.state import ALTA
from gateway.emulator.alta.wire import iso

routes = web.RouteTableDef()

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Shared video: {zone}</title></head>
<body>
<h1>Shared video</h1>
<dl>
<dt>Alarm zone</dt><dd id="zone">{zone}</dd>
<dt>Device</dt><dd id="device">{device}</dd>
<dt>From</dt><dd id="start">{start}</dd>
<dt>To</dt><dd id="end">{end}</dd>
<dt>Alert</dt><dd id="alert">{guid}</dd>
</dl>
</body></html>
"""
INVALID = """<!doctype html>
<html><head><meta charset="utf-8"><title>Link not found</title></head>
<body><h1>This link is invalid or has expired.</h1></body></html>
"""


@routes.get("/cloud")
async def shared_video(request: web.Request) -> web.Response:
    emu = request.app[ALTA]
    try:
        bookmark = emu.book.by_token(request.query.get("t", ""))
    except NotFound:
        return web.Response(status=404, text=INVALID, content_type="text/html")
    emu.counters.cloud_views += 1
    alert = emu.book.get(bookmark.alert_guid)
    page = PAGE.format(zone=escape(alert.zone.name), device=escape(bookmark.device.name),
                       start=iso(bookmark.start), end=iso(bookmark.end), guid=alert.guid)  # fmt: skip
    return web.Response(text=page, content_type="text/html")
