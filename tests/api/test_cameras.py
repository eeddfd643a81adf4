"""Health, readiness and the camera list in front of the emulator."""

import asyncio
import dataclasses
import json

import aiohttp


async def test_camera_list_from_mpd_and_spkc_cached_briefly(gateway_url, emulator):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{gateway_url}/api/v1/cameras") as response:
            assert response.status == 200
            body = await response.text()
        requests_after_first = emulator.stats["requests"]
        async with http.get(f"{gateway_url}/api/v1/cameras") as response:
            assert await response.text() == body
        # Within [wep] camera_cache_ttl the second listing costs WEP nothing.
        assert emulator.stats["requests"] == requests_after_first
    cameras = json.loads(body)["cameras"]
    assert [camera["id"] for camera in cameras] == emulator.camera_ids
    first, last = cameras[0], cameras[-1]
    assert first == {
        "id": emulator.camera_ids[0],
        "name": "Emulated camera 1",
        "qualities": ["high", "low"],
        "speaker": True,
        "audio": True,
        "source": "wep",
        "ptz": False,
    }
    # The emulator's last camera has neither speaker (spkc) nor microphone (no audio in its MPD).
    assert (last["speaker"], last["audio"]) == (False, False)
    assert "session" not in body and "/mt/api/rest/v1" not in body


async def wait_ready(http, url: str, timeout: float = 15.0) -> int:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with http.get(f"{url}/readyz") as response:
            if response.status == 200 or asyncio.get_running_loop().time() > deadline:
                return response.status
        await asyncio.sleep(0.1)


async def test_health_and_readiness(gateway_url):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{gateway_url}/healthz") as response:
            assert (response.status, await response.json()) == (200, {"status": "ok"})
        assert await wait_ready(http, gateway_url) == 200


async def test_not_ready_while_wep_is_unreachable(aiohttp_server, emulator):
    from gateway.app import create_app
    from tests.conftest import config_for

    config = config_for(emulator)
    config = dataclasses.replace(config, wep=dataclasses.replace(config.wep, url="http://127.0.0.1:9"))
    server = await aiohttp_server(create_app(config))
    async with aiohttp.ClientSession() as http:
        async with http.get(server.make_url("/healthz")) as response:
            assert response.status == 200  # alive, retrying the login with backoff
        async with http.get(server.make_url("/readyz")) as response:
            assert response.status == 503 and "Retry-After" in response.headers
            assert (await response.json())["status"] == "not_ready"
