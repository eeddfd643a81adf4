"""Fault injection, through the Python API and over HTTP at /_emulator/."""

import asyncio

import aiohttp
import pytest

from tests.emulator.conftest import api, assert_envelope, login, read_for


def stream_params(session: str, emulator) -> dict:
    return {"session": session, "cameraId": emulator.camera_ids[0], "quality": "low"}


async def test_drop_aborts_live_streams(emulator, http):
    session = await login(http, emulator)
    async with http.get(api(emulator, "media"), params=stream_params(session, emulator)) as resp:
        assert len(await read_for(resp, 0.3)) > 0
        assert emulator.stats["open_streams"] == 1
        async with http.post(emulator.url + "/_emulator/drop") as control:
            assert (await control.json())["dropped"] == 1
        with pytest.raises(aiohttp.ClientPayloadError):
            await asyncio.wait_for(resp.content.read(), 5)
    for _ in range(50):
        if emulator.stats["open_streams"] == 0:
            break
        await asyncio.sleep(0.05)
    assert emulator.stats["open_streams"] == 0
    assert emulator.stats["streams_dropped"] == 1


async def test_fail_next_answers_the_503_envelope_n_times(emulator, http):
    session = await login(http, emulator)
    emulator.fail_next(2)
    for _ in range(2):
        async with http.get(api(emulator, "cameras"), params={"session": session}) as resp:
            assert_envelope(await resp.json(), 503, "SERVICE_UNAVAILABLE")
    async with http.get(api(emulator, "cameras"), params={"session": session}) as resp:
        assert resp.status == 200
    async with http.post(emulator.url + "/_emulator/fail", json={"count": 1}) as control:
        assert control.status == 200
    async with http.get(api(emulator, "health")) as resp:
        assert resp.status == 503
    assert emulator.stats["failures_injected"] == 3


async def test_stall_keeps_the_socket_open_and_sends_nothing(emulator, http):
    session = await login(http, emulator)
    async with http.get(api(emulator, "media"), params=stream_params(session, emulator)) as resp:
        await read_for(resp, 0.3)
        emulator.stall_streams(1.5)
        await read_for(resp, 0.2)  # whatever was already in flight
        assert await read_for(resp, 1.0) == b""
        assert emulator.stats["open_streams"] == 1
        assert len(await read_for(resp, 1.0)) > 0  # resumes after the stall


async def test_expire_sessions_makes_the_next_request_401(emulator, http):
    session = await login(http, emulator)
    async with http.post(emulator.url + "/_emulator/expire") as control:
        assert (await control.json())["expired"] == 1
    async with http.get(api(emulator, "cameras"), params={"session": session}) as resp:
        assert_envelope(await resp.json(), 401, "UNAUTHORIZED")
    session = await login(http, emulator)
    emulator.expire_sessions()
    async with http.get(api(emulator, "cameras"), params={"session": session}) as resp:
        assert resp.status == 401


async def test_stats_over_http(emulator, http):
    await login(http, emulator)
    async with http.get(emulator.url + "/_emulator/stats") as resp:
        stats = await resp.json()
    assert stats["logins"] == 1 and stats["sessions"] == 1
    assert set(stats) >= {"media_connections", "open_streams", "jpeg_renders", "talk_bytes", "pushes_active"}
