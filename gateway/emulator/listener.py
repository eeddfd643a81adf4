"""An emulator's aiohttp app served on host:port, as HTTPS with a self-signed certificate
made at start when asked: the WEP, Alta and Amcrest emulators listen alike."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from aiohttp import web

from gateway.emulator.tls import server_context, write_self_signed


def url_host(host: str) -> str:
    """`host` as a URL names it: the loopback for a wildcard address, IPv6 in brackets."""
    host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"[{host}]" if ":" in host else host


class Listener:
    """`await start(app)`, then `url` (the real port when asked for 0) and `cert_path` (the
    certificate to trust, under HTTPS); `await stop()` closes it and removes the certificate."""

    def __init__(self, host: str, port: int, tls: bool, name: str):
        self.host = host
        self.port = port
        self.tls = tls
        self.name = name  # names the certificate's temporary directory
        self.cert_path: str | None = None
        self._runner: web.AppRunner | None = None
        self._tls_dir: str | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{url_host(self.host)}:{self.port}"

    async def start(self, app: web.Application, handler_cancellation: bool = False) -> None:
        # handler_cancellation: a handler ends when its client goes away (aiohttp web_advanced.rst).
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0,
                                     handler_cancellation=handler_cancellation)  # fmt: skip
        await self._runner.setup()
        try:
            ssl_context = None
            if self.tls:
                self._tls_dir = tempfile.mkdtemp(prefix=f"{self.name}-tls-")
                cert, key = write_self_signed(Path(self._tls_dir))
                ssl_context, self.cert_path = server_context(cert, key), str(cert)
            await web.TCPSite(self._runner, self.host, self.port, ssl_context=ssl_context).start()
        except BaseException:
            await self.stop()
            raise
        self.port = self._runner.addresses[0][1]  # the real port when asked for 0

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._tls_dir is not None:
            shutil.rmtree(self._tls_dir, ignore_errors=True)
            self._tls_dir = None
