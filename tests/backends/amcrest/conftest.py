"""An Amcrest emulator beside the WEP emulator, and a gateway serving both."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from gateway.config import AmcrestCameraConfig
from gateway.emulator.amcrest import AmcrestEmulator, AmcrestSettings
from tests.conftest import TEST_EMULATOR, config_for, require
from tests.rtmp.conftest import ADMIN_KEY, nginx  # noqa: F401  (the nginx-rtmp receiver fixture)
from tests.rtmp.nginx import probe

# The suite's small pictures (tests/conftest.py), for each Amcrest channel.
SMALL = {key: value for key, value in TEST_EMULATOR.items() if key not in ("cameras", "tls")}


@pytest.fixture
async def camera(emulator_cache):
    """A light Amcrest device (two channels, tiny pictures) for the CGI and event tests."""
    emu = AmcrestEmulator(
        AmcrestSettings(
            channels=2, cache_dir=emulator_cache, loop_seconds=1, fps=5, high_size=(320, 180), low_size=(160, 90)
        )
    )
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


@pytest.fixture
def amcrest_settings(emulator_cache) -> AmcrestSettings:
    return AmcrestSettings(channels=2, h265_channels=(2,), audio="pcma", cache_dir=emulator_cache, **SMALL)


@pytest.fixture
async def amcrest(amcrest_settings):
    emu = AmcrestEmulator(amcrest_settings)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


def camera_config(emu: AmcrestEmulator, camera_id: str, channel: int = 1, **changes) -> AmcrestCameraConfig:
    values = {
        "id": camera_id,
        "name": camera_id.title(),
        "host": emu.host,
        "http_port": emu.http_port,
        "rtsp_port": emu.rtsp_port,
        "username": emu.settings.username,
        "password": emu.settings.password,
        "channel": channel,
        "ptz": True,
    }
    return AmcrestCameraConfig(**(values | changes))


@pytest.fixture
def amcrest_cameras(amcrest) -> tuple[AmcrestCameraConfig, ...]:
    return (camera_config(amcrest, "porch"),)


@pytest.fixture
def gateway_config(emulator, amcrest_cameras, tmp_path):
    import dataclasses

    config = config_for(
        emulator,
        sources={"idle_close_after": 2.0, "stall_timeout": 3.0},
        auth={"admin_key": ADMIN_KEY, "viewer_auth": False},
        pushes={"db_path": str(tmp_path / "pushes.sqlite3")},
    )
    return dataclasses.replace(config, amcrest=amcrest_cameras)


async def cameras_when(http: aiohttp.ClientSession, url: str, ready, timeout: float = 20.0) -> dict[str, dict]:
    """GET /api/v1/cameras until `ready(cameras by id)`; the last listing either way."""
    deadline = time.monotonic() + timeout
    while True:
        async with http.get(f"{url}/api/v1/cameras") as response:
            assert response.status == 200, await response.text()
            cameras = {camera["id"]: camera for camera in (await response.json())["cameras"]}
        if ready(cameras) or time.monotonic() > deadline:
            return cameras
        await asyncio.sleep(0.2)


@pytest.fixture
async def porch_ready(gateway_url) -> dict:
    """The gateway once its monitor has looked at the porch camera."""
    async with aiohttp.ClientSession() as http:
        cameras = await cameras_when(
            http, gateway_url, lambda found: found.get("porch", {}).get("available", True) and "porch" in found
        )
    assert cameras["porch"].get("available", True), cameras["porch"]
    return cameras


async def recorded_live(gateway_url: str, camera: str, seconds: float, path) -> tuple[dict, dict]:
    """`seconds` of /live/{camera}.mp4 (low) copied to `path` by ffmpeg, then what ffprobe
    reads of it: (streams by kind, the probe)."""
    require("ffmpeg", "ffprobe")
    process = await asyncio.create_subprocess_exec(
        "ffmpeg",
        "-nostdin",
        "-v",
        "error",
        "-i",
        f"{gateway_url}/live/{camera}.mp4?quality=low",
        "-t",
        str(seconds),
        "-c",
        "copy",
        "-y",
        str(path),
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), seconds + 50)
    assert process.returncode == 0, err.decode()
    found = probe(path)
    return {stream["codec_type"]: stream for stream in found["streams"]}, found
