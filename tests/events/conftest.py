"""A gateway with WEP's webhook on, in front of the emulator: the gateway listens on a port
chosen before it starts, so `[events] public_url` (where WEP posts) is known up front."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from contextlib import asynccontextmanager

import aiohttp
import pytest

from gateway.config import Config
from tests.conftest import config_for, serving

ADMIN_KEY = "events-admin-key-0123456789abcdef"
TOKEN_SECRET = "events-token-secret-0123456789abcdef-0123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def events_config(emulator, tmp_path) -> Config:
    port = free_port()
    config = config_for(
        emulator,
        events={"public_url": f"http://127.0.0.1:{port}", "heartbeat_ms": 1000},
        pushes={"db_path": str(tmp_path / "gateway.sqlite3")},
        auth={"viewer_auth": True, "admin_key": ADMIN_KEY, "token_secret": TOKEN_SECRET},
    )
    return dataclasses.replace(config, server=dataclasses.replace(config.server, listen=f"127.0.0.1:{port}"))


@asynccontextmanager
async def running(config: Config):
    """The gateway of `config`, served on its [server] listen port, until the block ends."""
    async with serving(config, config.listen_host_port[1]) as server:
        yield server


async def wait_for(predicate, timeout: float = 10.0, what: str = "condition"):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def events_gateway(events_config, emulator):
    """The gateway, once its webhook is registered on the emulator and WEP's HELLO is in."""
    async with running(events_config) as server:
        await webhook_ready(server)
        yield server


async def webhook_ready(server) -> None:
    """Until the gateway's webhook is registered on the emulator and WEP's HELLO is in."""
    from gateway.events.service import EVENTS

    layer = server.app[EVENTS]
    await wait_for(
        lambda: layer.registration.webhook_id and layer.receiver.stats.posts["HELLO"],
        what="the webhook registration and WEP's HELLO",
    )


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def mint(http: aiohttp.ClientSession, server, cameras, actions, sub: str | None = None) -> str:
    body = {"cameras": cameras, "actions": actions, "ttl": 600}
    if sub is not None:
        body["sub"] = sub
    async with http.post(
        server.make_url("/api/v1/tokens"), json=body, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as response:
        assert response.status == 201, await response.text()
        return (await response.json())["token"]
