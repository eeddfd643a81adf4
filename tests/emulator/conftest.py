"""An emulator on a free port, small and short so the tests stay light."""

from __future__ import annotations

import asyncio
import base64
import secrets
import time

import aiohttp
import pytest

from gateway.emulator.auth_token import make_token
from gateway.emulator.server import Emulator
from gateway.emulator.settings import EmulatorSettings
from gateway.emulator.state import BASE_PATH
from tests.emulator.webhook_receiver import Receiver


@pytest.fixture(scope="session")
def media_cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("emulator-cache"))


def small_settings(cache: str, **overrides) -> EmulatorSettings:
    values = {"port": 0, "tls": False, "cameras": 2, "loop_seconds": 2.0, "fps": 15, "high_size": (320, 180),
              "low_size": (160, 90), "high_bitrate": 300_000, "low_bitrate": 100_000, "cache_dir": cache}  # fmt: skip
    values.update(overrides)
    return EmulatorSettings(**values)


@pytest.fixture
async def make_emulator(media_cache):
    started: list[Emulator] = []

    async def make(**overrides) -> Emulator:
        emulator = Emulator(small_settings(media_cache, **overrides))
        await emulator.start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        await emulator.stop()


@pytest.fixture
async def emulator(make_emulator) -> Emulator:
    return await make_emulator()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


def api(emulator: Emulator, path: str) -> str:
    return f"{emulator.url}{BASE_PATH}/{path}"


def login_body(emulator: Emulator, **overrides) -> dict:
    s = emulator.settings
    body = {
        "username": s.username,
        "password": s.password,
        "clientName": "tests",
        "authorizationToken": make_token(s.user_nonce, s.user_key, int(time.time())),
    }
    body.update(overrides)
    return body


async def login(http: aiohttp.ClientSession, emulator: Emulator) -> str:
    async with http.post(api(emulator, "login"), json=login_body(emulator)) as resp:
        assert resp.status == 200
        return (await resp.json())["result"]["session"]


async def read_for(resp: aiohttp.ClientResponse, seconds: float) -> bytes:
    """What a live stream sends in `seconds` of wall time."""
    chunks = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            chunk = await asyncio.wait_for(resp.content.readany(), left)
        except TimeoutError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def assert_envelope(body: dict, status: int, name: str) -> None:
    assert body["status"] == "error"
    assert body["statusCode"] == status
    assert body["meta"]["name"] == name
    assert isinstance(body["meta"]["code"], int) and body["meta"]["code"] < 0
    assert isinstance(body["message"], str) and body["message"]


@pytest.fixture
async def make_receiver(tmp_path):
    """Webhook receivers on free ports (https with a self-signed cert when tls=True)."""
    started: list[Receiver] = []

    async def make(tls: bool = False) -> Receiver:
        receiver = Receiver(tmp_path / f"receiver-{len(started)}" if tls else None)
        await receiver.start()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        await receiver.stop()


def new_token() -> str:
    """Guide, "Generating Authentication Token": 16 random bytes, base64."""
    return base64.b64encode(secrets.token_bytes(16)).decode()


async def add_webhook(http: aiohttp.ClientSession, emulator: Emulator, session: str, url: str,
                      topics: dict | None = None, token: str | None = None, **spec) -> dict:  # fmt: skip
    """POST /webhooks; the answer's result ({"webhook", "accepted", "rejected"})."""
    webhook = {"url": url, "authenticationToken": token or new_token(),
               "eventTopics": topics or {"whitelist": ["ALL"]}, **spec}  # fmt: skip
    async with http.post(api(emulator, "webhooks"), json={"session": session, "webhook": webhook}) as resp:
        body = await resp.json()
        assert resp.status == 200, body
    return body["result"]


async def until(predicate, timeout: float = 5.0, step: float = 0.02) -> None:
    """Poll `predicate()` until it holds; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)
