"""Shared fixtures: a real WEP emulator and a gateway in front of it, on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import shutil
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from gateway.config import Config
from gateway.emulator.server import Emulator
from gateway.emulator.settings import EmulatorSettings

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

# Small pictures keep the suite light on a 2-core machine; the pipeline is the same.
TEST_EMULATOR = {
    "cameras": 2,
    "tls": False,
    "loop_seconds": 4.0,
    "fps": 15,
    "high_size": (640, 360),
    "low_size": (320, 180),
    "high_bitrate": 800_000,
    "low_bitrate": 250_000,
}


def require(*programs: str) -> None:
    missing = [program for program in programs if shutil.which(program) is None]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run ./scripts/test, which installs it")


@pytest.fixture(scope="session")
def emulator_cache(tmp_path_factory) -> str:
    # Encoded loops are cached across tests: encode once per run, not per test.
    return str(tmp_path_factory.mktemp("emulator-cache"))


@pytest.fixture
def emulator_settings(emulator_cache) -> EmulatorSettings:
    return EmulatorSettings(host="127.0.0.1", port=0, cache_dir=emulator_cache, **TEST_EMULATOR)


@pytest.fixture
async def emulator(emulator_settings):
    emu = Emulator(emulator_settings)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


def config_for(emu: Emulator, **sections) -> Config:
    settings = emu.settings
    base = Config()
    wep = dataclasses.replace(
        base.wep,
        url=emu.url,
        username=settings.username,
        password=settings.password,
        user_nonce=settings.user_nonce,
        user_key=settings.user_key,
        ca_file=emu.cert_path or "",
    )
    auth = dataclasses.replace(base.auth, viewer_auth=False)
    replaced = {name: dataclasses.replace(getattr(base, name), **values) for name, values in sections.items()}
    return dataclasses.replace(base, **{"wep": wep, "auth": auth, **replaced})


@pytest.fixture
def gateway_config(emulator) -> Config:
    return config_for(emulator, sources={"idle_close_after": 2.0, "stall_timeout": 3.0})


class GatewayTestServer(TestServer):
    """aiohttp's TestServer with the runner `wep-gateway serve` uses (snapshot fast path)."""

    async def _make_runner(self, **kwargs):
        from gateway.snapshots.fast_path import GatewayRunner

        return GatewayRunner(self.app, **kwargs)


@asynccontextmanager
async def serving(config: Config, port: int | None = None):
    """The gateway of `config` served on 127.0.0.1 as `serve` runs it (on `port`, or any free
    one), until the block ends; `server.make_url(path)` builds URLs."""
    from gateway.app import create_app

    server = GatewayTestServer(create_app(config), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def gateway(gateway_config):
    """The gateway app served on 127.0.0.1 as `serve` runs it; `gateway.make_url(path)` builds URLs."""
    async with serving(gateway_config) as server:
        yield server


@pytest.fixture
def gateway_url(gateway) -> str:
    return str(gateway.make_url("")).rstrip("/")


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
