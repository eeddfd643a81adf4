"""A plain aiohttp client of the Alta emulator's API, for tests: it keeps the cookie the way
a browser would, and reads any answer as (status, JSON or text)."""

from __future__ import annotations

import json

import aiohttp
from yarl import URL

from gateway.emulator.alta import AltaEmulator


class ApiClient:
    def __init__(self, alta: AltaEmulator, timeout: float = 10.0):
        self.alta = alta
        # unsafe: the emulator is at 127.0.0.1, and aiohttp's jar ignores cookies of IP hosts by default
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                          timeout=aiohttp.ClientTimeout(total=timeout))  # fmt: skip

    async def close(self) -> None:
        await self.http.close()

    async def call(self, method: str, path: str, **kwargs) -> tuple[int, object]:
        async with self.http.request(method, self.alta.url + path, **kwargs) as resp:
            text = await resp.text()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text

    async def get(self, path: str, **kwargs) -> tuple[int, object]:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, **kwargs) -> tuple[int, object]:
        return await self.call("POST", path, **kwargs)

    async def login(self, username: str | None = None, password: str | None = None) -> tuple[int, object]:
        s = self.alta.settings
        body = {"username": s.username if username is None else username,
                "password": s.password if password is None else password}  # fmt: skip
        return await self.post("/api/v1/dologin", json=body)

    def cookie(self) -> str | None:
        morsel = self.http.cookie_jar.filter_cookies(URL(self.alta.url)).get(self.alta.settings.cookie_name)
        return None if morsel is None else morsel.value


def items(body, key: str) -> list:
    """A list answer whether it came bare or wrapped under `key`."""
    if isinstance(body, list):
        return body
    assert isinstance(body, dict) and isinstance(body.get(key), list), body
    return body[key]
