"""The Alta emulator: one deployment's alarm zones, alerts and shared links, served over the
Alta Video API calls the alarm guide uses, with its webhook alarm action."""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web

from gateway.emulator.alta import routes_api, routes_cloud, routes_control
from gateway.emulator.alta.settings import AltaSettings
from gateway.emulator.alta.state import ALTA, AltaState
from gateway.emulator.listener import Listener


class AltaEmulator(AltaState):
    """`await start()`, then `url`; `raise_alarm(zone)`; `await stop()`. `clock` (Unix
    seconds) drives sessions, merging, lag and timestamps: tests may pass their own."""

    def __init__(self, settings: AltaSettings, clock: Callable[[], float] = time.time):
        super().__init__(settings, clock)
        self.port = settings.port
        self.url: str | None = None
        self.cert_path: str | None = None
        self._listener = Listener(settings.host, settings.port, settings.tls, "alta-emulator")

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[routes_api.alta_api])
        app[ALTA] = self
        app.add_routes(routes_api.routes)
        app.add_routes(routes_cloud.routes)
        app.add_routes(routes_control.routes)
        return app

    async def start(self) -> None:
        self._stopping.clear()
        try:
            # handler_cancellation: a hung call ends when its client gives up.
            await self._listener.start(self.build_app(), handler_cancellation=True)
        except BaseException:
            await self.stop()
            raise
        self.port, self.url, self.cert_path = self._listener.port, self._listener.url, self._listener.cert_path

    async def stop(self) -> None:
        self._stopping.set()  # hung calls answer now
        await self._sender.close()
        await self._listener.stop()
