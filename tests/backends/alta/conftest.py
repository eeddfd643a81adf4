"""The gateway with `[alta]` pointing at the Alta emulator, whose alarm action calls the
gateway's webhook; the WEP emulator beside it (the gateway needs one camera system)."""

from __future__ import annotations

import dataclasses
from contextlib import asynccontextmanager

import aiohttp
import pytest

from gateway.emulator.alta import AltaEmulator, AltaSettings
from tests.conftest import config_for, serving
from tests.events.conftest import ADMIN_KEY, TOKEN_SECRET, free_port

WEBHOOK_SECRET = "alta-hook-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
async def alta():
    emulator = AltaEmulator(AltaSettings(merge_window_s=30.0))
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


def alta_config(emulator, alta: AltaEmulator, tmp_path, **alta_changes):
    port = free_port()
    config = config_for(
        emulator,
        pushes={"db_path": str(tmp_path / "gateway.sqlite3")},
        auth={"viewer_auth": True, "admin_key": ADMIN_KEY, "token_secret": TOKEN_SECRET},
        alta={
            "url": alta.url,
            "username": alta.settings.username,
            "password": alta.settings.password,
            "webhook_secret": WEBHOOK_SECRET,
            **alta_changes,
        },
    )
    alta.set_webhook(f"http://127.0.0.1:{port}/alta/webhook/{WEBHOOK_SECRET}")
    return dataclasses.replace(config, server=dataclasses.replace(config.server, listen=f"127.0.0.1:{port}"))


@asynccontextmanager
async def alta_gateway(emulator, alta, tmp_path, **alta_changes):
    config = alta_config(emulator, alta, tmp_path, **alta_changes)
    async with serving(config, config.listen_host_port[1]) as server:
        yield server


@pytest.fixture
async def gateway_with_alta(emulator, alta, tmp_path):
    async with alta_gateway(emulator, alta, tmp_path) as server:
        yield server


@pytest.fixture
async def admin_http():
    async with aiohttp.ClientSession(headers=ADMIN) as session:
        yield session
