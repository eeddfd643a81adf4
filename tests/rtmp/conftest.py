"""nginx-rtmp receiver and a gateway with an admin key and its own push database."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.conftest import config_for
from tests.rtmp.nginx import NginxRtmp

ADMIN_KEY = "test-admin-key-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
def nginx(tmp_path):
    receiver = NginxRtmp(tmp_path / "nginx")
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.kill()


@pytest.fixture
def gateway_config(emulator, tmp_path):
    return config_for(
        emulator,
        sources={"idle_close_after": 2.0, "stall_timeout": 3.0},
        auth={"admin_key": ADMIN_KEY, "viewer_auth": False},
        pushes={"db_path": str(tmp_path / "pushes.sqlite3")},
    )


@pytest.fixture
async def http():
    async with aiohttp.ClientSession(headers=ADMIN) as session:
        yield session


async def wait_for_state(http: aiohttp.ClientSession, url: str, states: set[str], timeout: float) -> dict:
    """Poll GET url until the push is in one of `states`; the last view either way."""
    deadline = time.monotonic() + timeout
    while True:
        async with http.get(url) as response:
            assert response.status == 200, await response.text()
            view = await response.json()
        if view["state"] in states or time.monotonic() > deadline:
            return view
        await asyncio.sleep(0.2)
