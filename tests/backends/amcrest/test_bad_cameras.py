"""Amcrest cameras that cannot be used (wrong password, unreachable, H.265, an id another
backend has) each give one clear line and an entry saying why; nothing else stops."""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
import pytest

from tests.backends.amcrest.conftest import camera_config, cameras_when
from tests.hls.test_ffmpeg import ffmpeg_frames
from tests.web.chromium import chromium_page, players


async def wait_playing_some(page, cameras: set[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if {player["id"] for player in await players(page) if (player["frames"] or 0) > 0} >= cameras:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{cameras} not all playing: {await players(page)}")


pytestmark = [pytest.mark.peer, pytest.mark.timeout(180)]


@pytest.fixture
def amcrest_cameras(amcrest, emulator):
    return (
        camera_config(amcrest, "porch"),
        camera_config(amcrest, "wrong-password", password="not-the-password"),
        camera_config(amcrest, "gone", host="127.0.0.1", rtsp_port=9, http_port=9),
        camera_config(amcrest, "garage", channel=2),  # H.265
        camera_config(amcrest, emulator.camera_ids[0]),  # collides with a WEP camera
    )


@pytest.mark.usefixtures("amcrest_cameras")
async def test_bad_cameras_each_give_one_clear_line_and_the_rest_keeps_working(
    gateway_url, emulator, caplog, artifacts_dir
):
    caplog.set_level(logging.INFO)
    async with aiohttp.ClientSession() as http:
        cameras = await cameras_when(
            http,
            gateway_url,
            lambda found: (
                all(camera in found and "available" in found[camera] for camera in ("wrong-password", "gone", "garage"))
                and found.get("porch", {}).get("available", True)
            ),
        )
        assert "401" in cameras["wrong-password"]["reason"] and "not-the-password" not in str(cameras)
        assert "unreachable" in cameras["gone"]["reason"]
        assert "H.265" in cameras["garage"]["reason"]
        assert cameras[emulator.camera_ids[0]]["source"] == "wep"  # the WEP camera keeps its id
        assert cameras["porch"].get("available", True)
        async with http.get(f"{gateway_url}/metrics") as response:
            metrics = await response.text()
        assert 'wepgw_camera_available{camera="wrong-password",source="amcrest"} 0.0' in metrics
        assert 'wepgw_camera_available{camera="porch",source="amcrest"} 1.0' in metrics
        assert f'wepgw_camera_available{{camera="{emulator.camera_ids[0]}",source="wep"}} 1.0' in metrics
        async with http.get(f"{gateway_url}/live/wrong-password.mp4") as response:
            assert response.status == 503 and "401" in (await response.json())["error"]["message"]
        # The good Amcrest camera and the WEP cameras play on.
        for camera in ("porch", emulator.camera_ids[0]):
            pts, errors = await ffmpeg_frames(f"{gateway_url}/live/{camera}.mp4?quality=low", 3)
            assert errors == "" and len(pts[0]) >= 40, (camera, {stream: len(times) for stream, times in pts.items()})
    # The page says why, on the camera's own tile, while the others play.
    async with chromium_page() as page:
        await page.goto(gateway_url + "/?mode=mse&quality=low")
        tile = page.locator('article[data-camera="wrong-password"]')
        await tile.wait_for(state="visible", timeout=15000)
        assert await tile.get_attribute("data-status") == "unavailable"
        assert "401" in await tile.locator(".badge").text_content()
        await wait_playing_some(page, {"porch", emulator.camera_ids[0]})
        await page.screenshot(path=str(artifacts_dir / "viewer-unavailable-camera.png"))
    # The gateway's own lines, from its start (the fixture's setup) on.
    records = caplog.get_records("setup") + caplog.get_records("call")
    logged = [
        record.getMessage()
        for record in records
        if record.name.startswith("gateway") and not record.name.startswith("gateway.emulator")
    ]
    for camera, words in (("wrong-password", "401"), ("gone", "unreachable"), ("garage", "H.265")):
        lines = [line for line in logged if camera in line and words in line]
        assert len(lines) == 1, (camera, lines)
    assert len([line for line in logged if "already a wep camera" in line]) == 1
    assert not any("not-the-password" in line or "Traceback" in line for line in logged)
