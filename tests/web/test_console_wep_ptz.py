"""The console's picture gestures on the WEP emulator's PTZ camera (camera 1, whose picture
follows commands; `Emulator.ptz_log` says what WEP was told): a click centres there, a
dragged box zooms to it, the presets menu lists WEP's presets, and home goes home."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.emulator.settings import EmulatorSettings
from tests.conftest import TEST_EMULATOR

from .chromium import chromium_page

pytestmark = pytest.mark.timeout(90)

STEP_MS = 15_000
PANEL = 10000  # the gateway's fieldOfView panel (gateway/wep/control_api.py)


@pytest.fixture
def emulator_settings(emulator_cache) -> EmulatorSettings:
    return EmulatorSettings(host="127.0.0.1", port=0, cache_dir=emulator_cache, ptz_camera=1, **TEST_EMULATOR)


async def until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
    return found


def logged(emulator, kind: str) -> list[dict]:
    return [entry for entry in emulator.ptz_log(1) if entry["kind"] == kind]


async def test_click_centres_a_box_zooms_and_presets_go_where_they_say(emulator, gateway_url, artifacts_dir):
    camera = emulator.camera_ids[0]
    async with chromium_page(viewport={"width": 1280, "height": 800}) as page:
        page.set_default_timeout(STEP_MS)
        await page.goto(gateway_url + "/?mode=mse")
        await page.locator(".layouts").get_by_role("button", name="1 tile", exact=True).click()
        tile = page.locator(f'article[data-camera="{camera}"]')
        await page.wait_for_function("() => window.gatewayViewer.players[0]?.status === 'playing'", timeout=30_000)
        await tile.get_by_role("button", name="Pan, tilt and zoom Emulated camera 1").click()
        pad = tile.get_by_role("group", name="Camera control: Emulated camera 1")
        presets = pad.get_by_label("Go to a preset")
        await page.wait_for_function("(select) => select.options.length > 1", arg=await presets.element_handle())
        assert await presets.locator("option").all_inner_texts() == ["Presets…", "1 · Gate", "2 · Parking", "3 · Door"]

        # Where the picture is: the video is letterboxed inside its box (16:9 in 16:9 here).
        picture = await page.evaluate(
            """(camera) => {
          const video = document.querySelector(`article[data-camera="${camera}"] video`);
          const box = video.getBoundingClientRect();
          const scale = Math.min(box.width / video.videoWidth, box.height / video.videoHeight);
          const width = video.videoWidth * scale, height = video.videoHeight * scale;
          return {x: box.left + (box.width - width) / 2, y: box.top + (box.height - height) / 2, width, height};
        }""",
            camera,
        )

        def at(x: float, y: float) -> tuple[float, float]:
            return picture["x"] + x * picture["width"], picture["y"] + y * picture["height"]

        await page.mouse.click(*at(0.75, 0.25))
        [centre] = await until(lambda: logged(emulator, "fov"), 3, "the centre command")
        point = centre["params"]["point"]
        assert abs(point["x"] - 0.75 * PANEL) <= 50 and abs(point["y"] - 0.25 * PANEL) <= 50, centre

        await page.mouse.move(*at(0.6, 0.5))
        await page.mouse.down()
        await page.mouse.move(*at(0.7, 0.6), steps=4)
        await page.mouse.move(*at(0.9, 0.8), steps=4)
        assert await tile.locator(".ptz-box").is_visible()  # the box follows the drag
        await page.screenshot(path=str(artifacts_dir / "console-ptz-zoom-box.png"))
        await page.mouse.up()
        fov = await until(lambda: len(logged(emulator, "fov")) == 2 and logged(emulator, "fov"), 3, "the zoom-to")
        roi = fov[1]["params"]["ROI"]
        expected = {"x": 0.6 * PANEL, "y": 0.5 * PANEL, "width": 0.3 * PANEL, "height": 0.3 * PANEL}
        assert all(abs(roi[key] - value) <= 60 for key, value in expected.items()), roi
        assert not await tile.locator(".ptz-box").is_visible()

        await presets.select_option("2")
        [preset] = await until(lambda: logged(emulator, "preset"), 3, "the preset")
        assert preset["params"] == {"presetId": 2, "name": "Parking"}
        await pad.get_by_role("button", name="Go to the home position").click()
        await until(lambda: logged(emulator, "home"), 3, "home")
        assert not await pad.get_by_role("status").is_visible()  # nothing refused: nothing to say
        assert not await pad.get_by_role("alert").is_visible()
