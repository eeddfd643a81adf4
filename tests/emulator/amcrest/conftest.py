"""Amcrest emulators on free ports, with small pictures so the tests stay light."""

from __future__ import annotations

import aiohttp
import pytest

from gateway.emulator.amcrest import AmcrestEmulator, AmcrestSettings

# tests/conftest.py TEST_EMULATOR's sizes, rates and loop: the H.264 loops are the same
# encodes as the WEP emulator's, so one session cache serves both.
SMALL = {
    "loop_seconds": 4.0, "fps": 15, "high_size": (640, 360), "low_size": (320, 180),
    "high_bitrate": 800_000, "low_bitrate": 250_000,
}  # fmt: skip


@pytest.fixture
async def make_amcrest(emulator_cache):
    started: list[AmcrestEmulator] = []

    async def make(**overrides) -> AmcrestEmulator:
        emulator = AmcrestEmulator(AmcrestSettings(cache_dir=emulator_cache, **{**SMALL, **overrides}))
        await emulator.start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        await emulator.stop()


@pytest.fixture
async def amcrest(make_amcrest) -> AmcrestEmulator:
    """Two channels: 1 is H.264, 2 is H.265; PCMA audio."""
    return await make_amcrest(channels=2, h265_channels=(2,))


@pytest.fixture
async def http(amcrest):
    """The gateway's kind of client: aiohttp with preemptive Digest."""
    auth = aiohttp.DigestAuthMiddleware(amcrest.settings.username, amcrest.settings.password)
    async with aiohttp.ClientSession(middlewares=(auth,), timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session


@pytest.fixture
async def plain_http():
    """No credentials: control routes, and 401 checks."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session
