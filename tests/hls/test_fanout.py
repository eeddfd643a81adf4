"""Many players, one upstream pull: the HLS muxer is the hub's only reader."""

import asyncio

import aiohttp
import pytest

from .llhls_poller import poll

pytestmark = pytest.mark.timeout(90)


async def test_100_pollers_share_one_upstream_connection(emulator, gateway_url):
    camera = emulator.camera_ids[0]
    url = f"{gateway_url}/hls/{camera}/high/playlist.m3u8"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        results = await asyncio.gather(*(poll(session, url, 4.0) for _ in range(100)))
    assert [r.errors for r in results if r.errors] == []
    assert all(r.parts >= 3 for r in results), sorted(r.parts for r in results)[:5]
    assert emulator.stats["media_connections"][f"{camera}/fmp4/high"] == 1
