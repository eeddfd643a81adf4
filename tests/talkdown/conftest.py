"""Talkdown fixtures: the gateway with TalkdownConfig of the test's choosing, and waits."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable

import aiohttp
import pytest

from gateway.config import TalkdownConfig
from gateway.talkdown.routes import TALK_SESSIONS


@pytest.fixture
def talk_settings() -> TalkdownConfig:
    return TalkdownConfig(idle_timeout=2.0, connect_timeout=10.0)


@pytest.fixture
def max_upload_bytes() -> int:
    return 16 * 1024 * 1024


@pytest.fixture
async def talk_gateway(aiohttp_server, gateway_config, talk_settings, max_upload_bytes):
    from gateway.app import create_app

    talk_settings.validate()
    limits = dataclasses.replace(gateway_config.limits, max_upload_bytes=max_upload_bytes)
    config = dataclasses.replace(gateway_config, talkdown=talk_settings, limits=limits)
    return await aiohttp_server(create_app(config))


@pytest.fixture
def talk_url(talk_gateway) -> str:
    return str(talk_gateway.make_url("")).rstrip("/")


@pytest.fixture
def talk_sessions(talk_gateway):
    return talk_gateway.app[TALK_SESSIONS]


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.05)


def upstream_posts(gateway_server) -> tuple[int, int]:
    """(POST /media audio requests, failed ones) as the gateway's WEP client counted them."""
    from gateway.app import WEP

    stats = gateway_server.app[WEP].stats
    return stats.requests["media.audio"], stats.errors["media.audio"]


def emulator_posts(emulator, camera_id: str) -> int:
    return emulator.stats["media_connections"].get(f"{camera_id}/talk/-", 0)
