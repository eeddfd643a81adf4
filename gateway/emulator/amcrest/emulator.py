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
from gateway.emulator.amcrest.digest import DigestAuthority
from gateway.emulator.amcrest.events import EventHub
from gateway.emulator.amcrest.media import ChannelMedia, build_media
from gateway.emulator.amcrest.rtsp_connection import STREAM_PATH
from gateway.emulator.amcrest.rtsp_server import RtspServer
from gateway.emulator.amcrest.settings import AmcrestSettings
from gateway.emulator.amcrest.state import AMCREST
from gateway.emulator.amcrest.stats import AmcrestStats
from gateway.emulator.amcrest.talk import TalkRecord

log = logging.getLogger(__name__)
SERIAL = "AMC0EMULATOR0001"
_USERINFO = "-._~!$&'()*+,;="


def _url_host(host: str) -> str:
    host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"[{host}]" if ":" in host else host


class AmcrestEmulator:
    """`await start()`, then `http_url` and `rtsp_url(channel, subtype)`; `await stop()`."""

    def __init__(self, settings: AmcrestSettings):
        settings.validate()
        self.settings = settings
        self.host = settings.host
        self.http_port = settings.http_port
        self.rtsp_port = settings.rtsp_port
        # Dahua firmware's realm names the device: "Login to <serial>".
        self.auth = DigestAuthority(f"Login to {SERIAL}", settings.username, settings.password)
        self.clock = MediaClock()
        self.counters = AmcrestStats()
        self.events = EventHub()
        self.ptz_log: list[dict] = []
        self.talk_records = {c: TalkRecord() for c in range(1, settings.channels + 1)}
        self.media: dict[int, ChannelMedia] = {}
        self._runner: web.AppRunner | None = None
        self._rtsp: RtspServer | None = None

    @property
    def http_url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.http_port}"

    def rtsp_url(self, channel: int, subtype: int, credentials: bool = False) -> str:
        # RFC 3986 3.2.1: userinfo keeps unreserved and sub-delims; ":", "@", "/" and the like are escaped
        userinfo = (quote(self.settings.username, safe=_USERINFO), quote(self.settings.password, safe=_USERINFO))
        auth = "{}:{}@".format(*userinfo) if credentials else ""
        return f"rtsp://{auth}{_url_host(self.host)}:{self.rtsp_port}{STREAM_PATH}?channel={channel}&subtype={subtype}"

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
            # heartbeat; a client that goes away must end it now (aiohttp web_advanced.rst).
            self._runner = web.AppRunner(self.build_app(), access_log=None, handle_signals=False,
                                         shutdown_timeout=1.0, handler_cancellation=True)  # fmt: skip
            await self._runner.setup()
            site = web.TCPSite(self._runner, self.settings.host, self.settings.http_port)
            await site.start()
            self.http_port = site._server.sockets[0].getsockname()[1]  # the real port when asked for 0
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        self.events.end_all()
        if self._rtsp is not None:
            await self._rtsp.stop()
            self._rtsp = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # Events and faults ----------------------------------------------------------------
    def _check_channel(self, channel: int) -> None:
        if not 1 <= channel <= self.settings.channels:
            raise ValueError(f"channel must be 1..{self.settings.channels}, not {channel}")

    def inject_event(self, channel: int, code: str, action: str, data: dict | None = None) -> None:
        """Send `Code=<code>;action=<action>;index=<channel-1>` to every attached stream
        whose codes include `code` (or All)."""
        self._check_channel(channel)
        self.events.publish(channel, code, action, data)

    def event_fault(self, kind: str) -> None:
        """Fault every attached event stream: kind "garbage" or "cut" (events.py)."""
        self.events.fault(kind)

    # Inspection ----------------------------------------------------------------------
    @property
    def stats(self) -> dict:
        return self.counters.snapshot()

    def talk_audio(self, channel: int) -> bytes:
        self._check_channel(channel)
        return self.talk_records[channel].audio()

    def talk_content_types(self, channel: int) -> list[str]:
        self._check_channel(channel)
        return list(self.talk_records[channel].content_types)
