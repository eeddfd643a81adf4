"""A webhook receiver on 127.0.0.1 that records every post WEP makes to it."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from gateway.emulator.tls import server_context, write_self_signed


@dataclass(frozen=True)
class Post:
    headers: dict[str, str]
    body: bytes
    arrived: float  # monotonic

    @property
    def message(self) -> dict:
        return json.loads(self.body)

    @property
    def type(self) -> str:
        return self.message["type"]


class Receiver:
    """Answers `status` to every POST /hook; `stop()` then `start()` takes it down and
    brings it back on the same port."""

    def __init__(self, tls_dir: Path | None = None):
        self.posts: list[Post] = []  # answered 2xx
        self.refused: list[Post] = []  # answered `status` >= 300
        self.status = 200
        self.port = 0
        self._ssl = server_context(*write_self_signed(tls_dir)) if tls_dir is not None else None
        self._runner: web.AppRunner | None = None
        self._arrived = asyncio.Condition()

    @property
    def url(self) -> str:
        return f"{'https' if self._ssl else 'http'}://127.0.0.1:{self.port}/hook"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self._ssl)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _hook(self, request: web.Request) -> web.Response:
        post = Post(dict(request.headers), await request.read(), time.monotonic())
        (self.posts if self.status < 300 else self.refused).append(post)
        async with self._arrived:
            self._arrived.notify_all()
        return web.Response(status=self.status)

    def of_type(self, kind: str) -> list[Post]:
        return [p for p in self.posts if p.type == kind]

    def events(self) -> list[dict]:
        """Every event of every NOTIFICATION received, in arrival order."""
        return [e for p in self.of_type("NOTIFICATION") for e in p.message["notification"]]

    async def wait_for(self, predicate, timeout: float = 5.0) -> None:
        """Until predicate(self) holds; AssertionError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        async with self._arrived:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; received {[p.type for p in self.posts]}")
                try:
                    await asyncio.wait_for(self._arrived.wait(), left)
                except TimeoutError:
                    pass
