"""The Amcrest/Dahua emulator: a device with N channels (like a Dahua NVR) serving RTSP,
snapshot.cgi, eventManager attach, ptz.cgi and audio.cgi postAudio."""

from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import quote

from aiohttp import web

from gateway.emulator.amcrest import routes_cgi, routes_control
from gateway.emulator.amcrest.clock import MediaClock
from gateway.emulator.amcrest.media import build_media
from gateway.emulator.amcrest.rtsp_connection import STREAM_PATH
from gateway.emulator.amcrest.rtsp_server import RtspServer
from gateway.emulator.amcrest.settings import AmcrestSettings
from gateway.emulator.amcrest.state import AMCREST, AmcrestState
from gateway.emulator.listener import Listener, url_host

log = logging.getLogger(__name__)
_USERINFO = "-._~!$&'()*+,;="


class AmcrestEmulator(AmcrestState):
    """`await start()`, then `http_url` and `rtsp_url(channel, subtype)`; `await stop()`."""

    def __init__(self, settings: AmcrestSettings):
        super().__init__(settings)
        self.host = settings.host
        self.http_port = settings.http_port
        self.rtsp_port = settings.rtsp_port
        self._listener = Listener(settings.host, settings.http_port, False, "amcrest-emulator")
        self._rtsp: RtspServer | None = None

    @property
    def http_url(self) -> str:
        return f"http://{url_host(self.host)}:{self.http_port}"

    def rtsp_url(self, channel: int, subtype: int, credentials: bool = False) -> str:
        # RFC 3986 3.2.1: userinfo keeps unreserved and sub-delims; ":", "@", "/" and the like are escaped
        userinfo = (quote(self.settings.username, safe=_USERINFO), quote(self.settings.password, safe=_USERINFO))
        auth = "{}:{}@".format(*userinfo) if credentials else ""
        return f"rtsp://{auth}{url_host(self.host)}:{self.rtsp_port}{STREAM_PATH}?channel={channel}&subtype={subtype}"

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[routes_cgi.digest_auth])
        app[AMCREST] = self
        app.add_routes(routes_cgi.routes)
        app.add_routes(routes_control.routes)
        return app

    async def start(self) -> None:
        started = time.monotonic()
        self.media = await asyncio.get_running_loop().run_in_executor(None, build_media, self.settings)
        log.info("amcrest emulator media ready in %.1f s", time.monotonic() - started)
        self.clock = MediaClock()  # timeline zero: every channel's loop starts now
        try:
            self._rtsp = RtspServer(self.media, self.auth, self.clock, self.counters)
            await self._rtsp.start(self.settings.host, self.settings.rtsp_port)
            self.rtsp_port = self._rtsp.port
            # handler_cancellation: an attached event stream waits on its queue for up to a
            # heartbeat; a client that goes away must end it now.
            await self._listener.start(self.build_app(), handler_cancellation=True)
            self.http_port = self._listener.port
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        self.events.end_all()
        if self._rtsp is not None:
            await self._rtsp.stop()
            self._rtsp = None
        await self._listener.stop()
