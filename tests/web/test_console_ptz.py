"""The console's pan/tilt/zoom pad in Chromium, on the Amcrest emulator's PTZ camera
"porch" (its ptz.cgi log says what the camera was told): holding a button moves, releasing
stops within a second, the keyboard steers a focused tile, a page that vanishes mid-move
is stopped by the gateway's dead man, and a second operator reads who holds the camera."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from tests.backends.amcrest.conftest import (  # noqa: F401  (the gateway with the porch camera)
    amcrest,
    amcrest_cameras,
    amcrest_settings,
    gateway_config,
    porch_ready,
)

from .chromium import chromium_browser, chromium_page, new_page

pytestmark = pytest.mark.timeout(120)

STEP_MS = 15_000  # Playwright's bound on each wait and click
DESK = {"width": 1280, "height": 800}


async def until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)
    return found


def entries(amcrest, action: str, code: str | None = None) -> list[dict]:
    return [e for e in amcrest.ptz_log if e["action"] == action and (code is None or e["code"] == code)]


async def open_console(page, gateway_url: str):
    """The console, once the porch tile plays; its tile."""
    page.set_default_timeout(STEP_MS)
    await page.goto(gateway_url + "/?mode=mse&quality=low")
    tile = page.locator('article[data-camera="porch"]')
    await tile.wait_for()
    await page.wait_for_function(
        "() => window.gatewayViewer.players.some((p) => p.camera.id === 'porch' && p.status === 'playing')",
        timeout=30_000,
    )
    return tile


async def open_pad(tile):
    await tile.get_by_role("button", name="Pan, tilt and zoom Porch").click()
    pad = tile.get_by_role("group", name="Camera control: Porch")
    await pad.wait_for()
    return pad


async def press(page, control) -> None:
    box = await control.bounding_box()
    await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await page.mouse.down()


async def test_holding_the_pads_left_button_moves_until_it_is_released(
    porch_ready, gateway_url, amcrest, artifacts_dir
):
    operators = []
    async with chromium_page(viewport=DESK) as page:
        page.on(
            "request",
            lambda request: (
                operators.append(request.headers.get("x-operator-id"))
                if "/api/v1/cameras/porch/ptz" in request.url
                else None
            ),
        )
        tile = await open_console(page, gateway_url)
        pad = await open_pad(tile)
        await press(page, pad.get_by_role("button", name="Move left", exact=True))
        await until(lambda: entries(amcrest, "start", "Left"), 3, "the camera to start left")
        await asyncio.sleep(2.0)  # twice the dead man: only renewed moves keep it going
        assert entries(amcrest, "stop") == [], amcrest.ptz_log
        assert len(entries(amcrest, "start", "Left")) >= 4  # renewed about every 350 ms
        await page.screenshot(path=str(artifacts_dir / "console-ptz-pad.png"))
        released = time.time()
        await page.mouse.up()
        [stop] = await until(lambda: entries(amcrest, "stop"), 2, "the stop")
        assert stop["code"] == "Left" and stop["time"] - released <= 1.0, (stop, released)
        assert amcrest.ptz_log[-1] is stop  # nothing after it: the repeat ended with the release

        # The keyboard, on the focused tile: two arrows are a diagonal; letting go stops it.
        await tile.focus()
        await page.keyboard.down("ArrowRight")
        await page.keyboard.down("ArrowUp")
        await until(lambda: entries(amcrest, "start", "RightUp"), 3, "the diagonal")
        await page.keyboard.up("ArrowUp")
        await page.keyboard.up("ArrowRight")
        await until(lambda: amcrest.ptz_log[-1]["action"] == "stop", 1.0, "the keyboard's stop")
        await page.keyboard.down("+")
        await until(lambda: entries(amcrest, "start", "ZoomTele"), 3, "zooming in")
        await page.keyboard.up("+")
        await until(lambda: amcrest.ptz_log[-1]["action"] == "stop", 1.0, "the zoom's stop")
    # One operator id for the whole tab, on every command.
    assert operators and len(set(operators)) == 1 and operators[0], operators


async def test_click_and_home_say_once_that_this_camera_cannot(porch_ready, gateway_url, amcrest):
    centres = []
    async with chromium_page(viewport=DESK) as page:
        page.on("request", lambda request: centres.append(request.url) if "/ptz/center" in request.url else None)
        tile = await open_console(page, gateway_url)
        pad = await open_pad(tile)
        assert await tile.locator(".screen").get_attribute("class") == "screen aiming"
        video = await tile.locator("video").bounding_box()
        await page.mouse.click(video["x"] + video["width"] * 0.85, video["y"] + video["height"] * 0.3)
        note = pad.get_by_role("status")
        await note.wait_for()
        assert (
            await note.inner_text() == "This camera cannot centre on a click or zoom to a box. Use the pad or a preset."
        )
        assert await tile.locator(".screen").get_attribute("class") == "screen"  # no crosshair any more
        assert not await pad.locator(".ptz-hint").is_visible()
        await page.mouse.click(video["x"] + video["width"] * 0.85, video["y"] + video["height"] * 0.6)
        await asyncio.sleep(0.5)
        assert len(centres) == 1  # the gesture is off for this camera after the first 501

        home = pad.get_by_role("button", name="Go to the home position")
        await home.click()
        await page.wait_for_function("(el) => el.disabled", arg=await home.element_handle())
        assert await note.inner_text() == "This camera has no home position. Use a preset."
        # A preset from the menu is what works here.
        await pad.get_by_label("Go to a preset").select_option("3")
        await until(lambda: [e for e in amcrest.ptz_log if e["code"] == "GotoPreset"], 3, "the preset")
        assert [(e["code"], e["arg2"]) for e in amcrest.ptz_log] == [("GotoPreset", 3)]


async def test_closing_the_page_mid_move_stops_the_camera_at_once(porch_ready, gateway_url, amcrest):
    async with chromium_browser() as browser:
        page = await new_page(browser, DESK)
        pad = await open_pad(await open_console(page, gateway_url))
        await press(page, pad.get_by_role("button", name="Move left", exact=True))
        await until(lambda: len(entries(amcrest, "start")) >= 3, 3, "a move renewed a few times")
        closed = time.time()
        await page.close()  # the page's goodbye: a last stop as it goes
        [stop, *_] = await until(lambda: entries(amcrest, "stop"), 3, "the page's stop")
        assert stop["time"] - closed < 0.5, (closed, stop)
        # A move still on its way may land after that stop: the dead man ends it too.
        await asyncio.sleep(1.5)
    assert amcrest.ptz_log[-1]["action"] == "stop", amcrest.ptz_log


async def test_a_tab_that_dies_mid_move_is_stopped_by_the_dead_man(porch_ready, gateway_url, amcrest):
    async with chromium_browser() as browser:
        page = await new_page(browser, DESK)
        pad = await open_pad(await open_console(page, gateway_url))
        await press(page, pad.get_by_role("button", name="Move left", exact=True))
        await until(lambda: len(entries(amcrest, "start")) >= 3, 3, "a move renewed a few times")
        # The renderer crashes: no goodbye, nothing more from the page. Only the dead man is left.
        with contextlib.suppress(Exception):
            await page.goto("chrome://crash", timeout=2000)
        [stop] = await until(lambda: entries(amcrest, "stop"), 3, "the dead man's stop")
    last_move = entries(amcrest, "start")[-1]
    assert 0.8 <= stop["time"] - last_move["time"] <= 1.6, (last_move, stop)


async def test_a_second_operator_reads_who_steers_the_camera_on_the_pad(
    porch_ready, gateway_url, amcrest, artifacts_dir
):
    async with chromium_browser() as browser:
        first, second = await new_page(browser, DESK), await new_page(browser, DESK)
        first_tile, second_tile = await open_console(first, gateway_url), await open_console(second, gateway_url)
        first_pad, second_pad = await open_pad(first_tile), await open_pad(second_tile)
        ids = [await page.evaluate("() => sessionStorage.getItem('wepgw.operator')") for page in (first, second)]

        await press(first, first_pad.get_by_role("button", name="Move left", exact=True))
        await until(lambda: entries(amcrest, "start", "Left"), 3, "the first operator's move")
        await press(second, second_pad.get_by_role("button", name="Move right", exact=True))
        problem = second_pad.get_by_role("alert")
        await problem.wait_for()
        text = await problem.inner_text()
        assert text.startswith("Camera 'porch' is being steered by another operator since "), text
        await second.mouse.up()
        await second.screenshot(path=str(artifacts_dir / "console-ptz-busy.png"))
        assert not entries(amcrest, "start", "Right")  # nothing of the second reached the camera
        await first.mouse.up()
        await until(lambda: entries(amcrest, "stop"), 2, "the first operator's stop")
    assert ids[0] and ids[1] and ids[0] != ids[1]  # one operator per tab
