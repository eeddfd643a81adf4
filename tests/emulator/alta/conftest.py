"""Alta emulators on free ports, and clients of their API (logged in or not)."""

from __future__ import annotations

import pytest

from gateway.emulator.alta import AltaEmulator, AltaSettings
from tests.emulator.alta.api_client import ApiClient


@pytest.fixture
async def make_alta():
    started: list[AltaEmulator] = []

    async def make(clock=None, **overrides) -> AltaEmulator:
        settings = AltaSettings(**overrides)
        emulator = AltaEmulator(settings) if clock is None else AltaEmulator(settings, clock=clock)
        await emulator.start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        await emulator.stop()


@pytest.fixture
async def alta(make_alta) -> AltaEmulator:
    return await make_alta()


@pytest.fixture
async def make_client():
    clients: list[ApiClient] = []

    async def make(alta: AltaEmulator, login: bool = True, timeout: float = 10.0) -> ApiClient:
        client = ApiClient(alta, timeout)
        clients.append(client)
        if login:
            status, body = await client.login()
            assert status == 200, body
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def api(alta, make_client) -> ApiClient:
    """Logged in to the default emulator."""
    return await make_client(alta)
