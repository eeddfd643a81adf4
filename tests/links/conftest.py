"""A gateway with access control on, its database in the test's own directory, in front
of the WEP emulator; and helpers that make guest links through the API."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import aiohttp
import pytest

from gateway.config import Config
from tests.auth.secure import admin_headers, secure_config
from tests.conftest import serving


def iso(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def config_with_links(emulator, tmp_path) -> Config:
    """Access control on, the database in `tmp_path`, short link lives allowed."""
    config = secure_config(emulator, pushes={"db_path": str(tmp_path / "gateway.sqlite3")})
    return dataclasses.replace(config, links=dataclasses.replace(config.links, max_ttl=7200, default_ttl=600))


@pytest.fixture
def links_config(emulator, tmp_path) -> Config:
    return config_with_links(emulator, tmp_path)


@pytest.fixture
async def links_gateway(links_config):
    async with serving(links_config) as server:
        yield server


@pytest.fixture
def base(links_gateway) -> str:
    return str(links_gateway.make_url("")).rstrip("/")


@pytest.fixture
async def http():
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


async def make_link(http: aiohttp.ClientSession, base: str, headers: dict | None = None, **body) -> dict:
    """A link made with the admin key (or `headers`); asserts the 201."""
    async with http.post(
        f"{base}/api/v1/links", json=body, headers=admin_headers() if headers is None else headers
    ) as response:
        answer = await response.json()
        assert response.status == 201, answer
        return answer
