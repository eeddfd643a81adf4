"""A gateway with events on (WEP's webhook), rules, and a PTZ camera on the emulator; a
webhook receiver that checks nothing itself and keeps what it got."""

from __future__ import annotations

import dataclasses

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.events.conftest import ADMIN_KEY, events_config, running, webhook_ready  # noqa: F401 - fixture
from tests.rtmp.conftest import nginx  # noqa: F401 - the RTMP receiver fixture, for timed pushes

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
def emulator_settings(emulator_settings):
    return dataclasses.replace(emulator_settings, ptz_camera=1, motion_every=0)


@pytest.fixture
def rules_config(events_config, tmp_path):
    return dataclasses.replace(
        events_config,
        rules=dataclasses.replace(
            events_config.rules,
            snapshots_dir=str(tmp_path / "archive"),
            clips_dir=str(tmp_path / "clips"),
            action_timeout_s=3.0,
            webhook_timeout_s=0.5,
            webhook_attempts=2,
        ),
    )


@pytest.fixture
async def rules_gateway(rules_config, emulator):
    async with running(rules_config) as server:
        await webhook_ready(server)
        yield server


@pytest.fixture
async def admin_http():
    async with aiohttp.ClientSession(headers=ADMIN) as session:
        yield session


class Receiver:
    """An HTTP endpoint for the webhook action: answers `status` (after `delay` seconds)."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict, bytes]] = []
        self.status = 200
        self.delay = 0.0
        app = web.Application()
        app.router.add_post("/hook", self._take)
        self.server = TestServer(app, host="127.0.0.1")

    async def _take(self, request: web.Request) -> web.Response:
        import asyncio

        self.posts.append((dict(request.headers), await request.read()))
        await asyncio.sleep(self.delay)
        return web.Response(status=self.status)

    @property
    def url(self) -> str:
        return str(self.server.make_url("/hook"))


@pytest.fixture
async def receiver():
    hook = Receiver()
    await hook.server.start_server()
    try:
        yield hook
    finally:
        await hook.server.close()
