"""Many players, one upstream pull: the HLS muxer is the hub's only reader."""

import asyncio

import aiohttp
import pytest

from gateway.hls.routes import HLS_MUXERS

from .llhls_poller import poll

pytestmark = pytest.mark.timeout(90)


async def test_100_pollers_share_one_upstream_connection(emulator, gateway, gateway_url):
    camera = emulator.camera_ids[0]
    url = f"{gateway_url}/hls/{camera}/high/playlist.m3u8"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        results = await asyncio.gather(*(poll(session, url, 4.0) for _ in range(100)))
    assert [r.errors for r in results if r.errors] == []
    assert all(r.parts >= 3 for r in results), sorted(r.parts for r in results)[:5]
    assert emulator.stats["media_connections"][f"{camera}/fmp4/high"] == 1
    # the counters a metrics collector reads
    (muxer,) = gateway.app[HLS_MUXERS].running()
    counters = muxer.counters
    assert counters.parts_served == sum(r.parts for r in results)
    assert counters.playlist_requests == sum(r.playlists for r in results)
    assert counters.blocking_requests > 0 and counters.part_delivery_delay.total > 0
    assert counters.playlists_rendered < counters.playlist_requests  # rendered once, shared


async def test_muxer_and_source_close_after_the_last_request(emulator, gateway, gateway_url):
    camera = emulator.camera_ids[0]
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{gateway_url}/hls/{camera}/low/playlist.m3u8") as response,
    ):
        assert response.status == 200
    assert emulator.stats["open_streams"] >= 1
    # idle_close_after is 2 s in the test config: muxer after 2 s, then its source after 2 more
    for _ in range(150):
        if emulator.stats["open_streams"] == 0:
            break
        await asyncio.sleep(0.1)
    assert emulator.stats["open_streams"] == 0
    assert gateway.app[HLS_MUXERS].running() == []


async def test_first_playlist_request_outlives_a_short_idle_time(emulator, aiohttp_server):
    """A muxer does not idle out under a request that is still waiting for its first segment."""
    from gateway.app import create_app
    from tests.conftest import config_for

    server = await aiohttp_server(create_app(config_for(emulator, sources={"idle_close_after": 0.3})))
    url = server.make_url(f"/hls/{emulator.camera_ids[0]}/low/playlist.m3u8")
    async with aiohttp.ClientSession() as http, http.get(url, timeout=aiohttp.ClientTimeout(total=30)) as response:
        assert response.status == 200, await response.text()
        assert "#EXTINF" in await response.text()
