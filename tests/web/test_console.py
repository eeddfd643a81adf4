"""The console page in Chromium, in front of the WEP emulator: layouts and the camera list
(remembered across reloads), recorded playback from a chosen moment and back to live, the
timeline's map of recordings, bookmarks and record on demand, and the Events panel's
thumbnails that open an event's recording in its camera's tile. Screenshots of each go to
test-artifacts/console-*.png."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import aiohttp
import pytest

from tests.events.conftest import mint

from .chromium import chromium_page, players

pytestmark = pytest.mark.timeout(120)

STEP_MS = 15_000  # Playwright's bound on each wait and click
DESK = {"width": 1280, "height": 800}

SLOTS_JS = "() => [...document.querySelectorAll('#grid > [data-slot]')].map((cell) => cell.dataset.camera || null)"
SHOWN_JS = "(id) => window.gatewayViewer.players.find((p) => p.camera.id === id)?.shownTime()?.getTime() ?? null"


async def open_console(page, url: str, playing: int | None = None) -> None:
    page.set_default_timeout(STEP_MS)
    await page.goto(url)
    await page.locator("#grid > [data-slot]").first.wait_for()
    if playing is not None:
        await page.wait_for_function(
            "(n) => window.gatewayViewer.players.filter((p) => p.status === 'playing').length >= n",
            arg=playing,
            timeout=30_000,
        )


def local_input(unix: float) -> str:
    """A moment as an <input type=datetime-local> takes it (the browser's zone is this machine's)."""
    return datetime.fromtimestamp(unix).strftime("%Y-%m-%dT%H:%M:%S")


async def frames_rise(page, camera: str, seconds: float = 2.0) -> None:
    def frames(found):
        return next(p["frames"] for p in found if p["id"] == camera)

    before = frames(await players(page))
    await asyncio.sleep(seconds)
    after = frames(await players(page))
    assert after > before, f"{camera} shows no new pictures: {before} -> {after}"


# -- layouts and the camera list -------------------------------------------------------------


async def test_layouts_switch_and_the_grid_is_remembered_after_a_reload(emulator, gateway_url, artifacts_dir):
    first, second = emulator.camera_ids[:2]
    async with chromium_page(viewport=DESK) as page:
        await open_console(page, gateway_url + "/?mode=mse&quality=low", playing=2)
        layouts = page.get_by_role("group", name="Layout")
        assert await page.locator("#grid").get_attribute("data-layout") == "4"  # 2 cameras: the smallest that fits
        assert await page.evaluate(SLOTS_JS) == [first, second, None, None]

        await layouts.get_by_role("button", name="1 tile", exact=True).click()
        assert await page.evaluate(SLOTS_JS) == [first]
        assert await page.evaluate("() => window.gatewayViewer.players.length") == 1  # the other stopped
        assert await layouts.get_by_role("button", name="1 tile", exact=True).get_attribute("aria-pressed") == "true"

        await layouts.get_by_role("button", name="9 tiles").click()
        assert await page.evaluate(SLOTS_JS) == [first, second] + [None] * 7  # the hidden camera came back

        # Out of its tile, then dragged from the camera list onto the fifth tile.
        await page.get_by_role("button", name="Take Emulated camera 2 out of this tile").click()
        assert await page.evaluate(SLOTS_JS) == [first] + [None] * 8
        cameras = page.get_by_role("navigation", name="Cameras")
        await cameras.get_by_role("button", name="Emulated camera 2").drag_to(page.locator('#grid > [data-slot="4"]'))
        assert (await page.evaluate(SLOTS_JS))[4] == second
        # A click in the list shows the camera in the selected tile: here the last one.
        await page.locator('#grid > [data-slot="8"]').click()
        await cameras.get_by_role("button", name="Emulated camera 1").click()
        slots = await page.evaluate(SLOTS_JS)
        assert slots[8] == first and slots[0] is None and slots[4] == second

        await page.reload()
        await open_console(page, gateway_url + "/?mode=mse&quality=low", playing=2)
        assert await page.locator("#grid").get_attribute("data-layout") == "9"
        assert await page.evaluate(SLOTS_JS) == [None] * 4 + [second] + [None] * 3 + [first]
        assert await layouts.get_by_role("button", name="9 tiles").get_attribute("aria-pressed") == "true"
        await page.screenshot(path=str(artifacts_dir / "console-grid-3x3.png"))

        # One tile on the whole screen, and back.
        tile = page.locator(f'article[data-camera="{second}"]')
        await tile.get_by_role("button", name="Show Emulated camera 2 on the whole screen").click()
        await page.wait_for_function("(id) => document.fullscreenElement?.dataset.camera === id", arg=second)
        await tile.get_by_role("button", name="Show Emulated camera 2 on the whole screen").click()
        await page.wait_for_function("() => document.fullscreenElement === null")


# -- recorded playback ----------------------------------------------------------------------


async def test_recorded_video_plays_from_a_chosen_moment_and_live_is_one_click_away(
    emulator, gateway_url, artifacts_dir
):
    camera = emulator.camera_ids[1]
    requested = []
    async with chromium_page(viewport=DESK) as page:
        page.on("request", lambda request: requested.append(request.url) if "/hls/" in request.url else None)
        await open_console(page, gateway_url + "/?mode=mse", playing=2)
        tile = page.locator(f'article[data-camera="{camera}"]')
        assert await tile.locator(".mode").inner_text() == "LIVE"
        await tile.get_by_role("button", name="Timeline and recordings of Emulated camera 2").click()
        strip = tile.get_by_role("region", name="Timeline of Emulated camera 2")
        chosen = time.time() - 90
        await strip.get_by_label("From", exact=True).fill(local_input(chosen))
        await strip.get_by_role("button", name="Play the recording from this moment").click()

        await page.wait_for_function(
            "(id) => { const t = document.querySelector(`article[data-camera='${id}']`);"
            " return t.dataset.mode === 'recorded' && t.dataset.status === 'playing'; }",
            arg=camera,
            timeout=30_000,
        )
        await frames_rise(page, camera)
        shown = await page.evaluate(SHOWN_JS, camera) / 1000
        assert int(chosen) <= shown <= chosen + 30, (chosen, shown)  # the chosen moment, played on from there
        label = await tile.locator(".mode").inner_text()
        assert label.startswith("Recorded · ") and label[-8:] <= datetime.fromtimestamp(shown + 1).strftime("%H:%M:%S")
        assert await tile.locator(".transport").inner_text() == "MSE · RECORDED"
        assert any(f"/hls/{camera}/high/playlist.m3u8?t=" in url for url in requested), requested
        assert any("-seg" in url for url in requested)  # its segments, appended by the page
        await page.screenshot(path=str(artifacts_dir / "console-timeline-recorded.png"))
        await page.emulate_media(color_scheme="dark")
        await page.screenshot(path=str(artifacts_dir / "console-timeline-recorded-dark.png"))

        await tile.get_by_role("button", name="Back to live").click()
        await page.wait_for_function(
            "(id) => { const t = document.querySelector(`article[data-camera='${id}']`);"
            " return t.dataset.mode === 'live' && t.dataset.status === 'playing'; }",
            arg=camera,
            timeout=30_000,
        )
        assert await tile.locator(".mode").inner_text() == "LIVE"
        assert await page.evaluate(SHOWN_JS, camera) is None
        await frames_rise(page, camera)


async def test_a_moment_with_nothing_recorded_says_so_on_the_tile(emulator, gateway_url):
    camera = emulator.camera_ids[0]
    async with chromium_page(viewport=DESK) as page:
        await open_console(page, gateway_url + "/?mode=mse", playing=2)
        tile = page.locator(f'article[data-camera="{camera}"]')
        await tile.get_by_role("button", name="Timeline and recordings of Emulated camera 1").click()
        strip = tile.get_by_role("region", name="Timeline of Emulated camera 1")
        await strip.get_by_label("From", exact=True).fill(
            local_input(time.time() + 40)
        )  # the emulator has nothing there
        await strip.get_by_role("button", name="Play the recording from this moment").click()
        await page.wait_for_function(
            "(id) => document.querySelector(`article[data-camera='${id}']`).dataset.status === 'no recording'",
            arg=camera,
        )
        assert await tile.locator(".badge").inner_text() == "no recording · no recorded video at that time"
        await tile.get_by_role("button", name="Back to live").click()
        await page.wait_for_function(
            "(id) => document.querySelector(`article[data-camera='${id}']`).dataset.status === 'playing'", arg=camera
        )


PLAYLIST = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:2
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-MAP:URI="r1a-init1.mp4?token=x"
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z
#EXTINF:2,
r1a-seg0.m4s?token=x
#EXT-X-MAP:URI="r1a-init2.mp4?token=x"
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:05.500Z
#EXTINF:1.5,
r1a-seg1.m4s?token=x
#EXT-X-ENDLIST
"""


async def test_the_recorded_playlist_is_read_as_the_gateway_writes_it(gateway_url):
    async with chromium_page() as page:
        await page.goto(gateway_url + "/healthz")
        found = await page.evaluate(
            """async (text) => {
          const {parsePlaylist} = await import('/static/recorded.js');
          return parsePlaylist(text, location.origin + '/hls/cam/high/playlist.m3u8?t=x');
        }""",
            PLAYLIST,
        )
    base = gateway_url + "/hls/cam/high/"
    assert found == {
        "targetDuration": 2,
        "ended": True,
        "segments": [
            {
                "uri": base + "r1a-seg0.m4s?token=x",
                "map": base + "r1a-init1.mp4?token=x",
                "pdt": 1714564800000,
                "duration": 2,
                "discontinuity": False,
            },
            {
                "uri": base + "r1a-seg1.m4s?token=x",
                "map": base + "r1a-init2.mp4?token=x",
                "pdt": 1714564805500,
                "duration": 1.5,
                "discontinuity": True,
            },
        ],
    }


# -- what the camera system keeps: timeline, bookmarks, record -----------------------------------


async def api_or_skip(gateway_url: str, path: str, waiting_for: str) -> dict:
    """The API's answer, or a skip while the WEP emulator lacks the route behind it (the
    gateway answers 404 "not found on the video system" for WEP's "route not found")."""
    async with aiohttp.ClientSession() as http, http.get(gateway_url + path) as response:
        body = await response.json()
    if response.status == 404 and "video system" in body.get("error", {}).get("message", ""):
        pytest.skip(f"waiting for the emulator's {waiting_for}")
    assert response.status == 200, body
    return body


async def test_the_timeline_draws_recordings_and_motion_and_the_scrubber_plays_them(
    emulator, gateway_url, artifacts_dir
):
    camera = emulator.camera_ids[0]
    await api_or_skip(gateway_url, f"/api/v1/cameras/{camera}/timeline", "/timeline")
    emulator.add_recording_gap(1.0, 3.0)  # two recordings: the first second, then from 3 s on
    emulator.inject_event(1, "DEVICE_MOTION_START")
    async with chromium_page(viewport=DESK) as page:
        await open_console(page, gateway_url + "/?mode=mse", playing=2)
        emulator.inject_event(1, "DEVICE_MOTION_STOP")
        await asyncio.sleep(max(0.0, emulator.epoch_wall + 5 - time.time()))
        tile = page.locator(f'article[data-camera="{camera}"]')
        await tile.get_by_role("button", name="Timeline and recordings of Emulated camera 1").click()
        strip = tile.get_by_role("region", name="Timeline of Emulated camera 1")
        await strip.get_by_label("How much of the timeline to show").select_option(label="Last 10 minutes")
        await strip.locator(".tl-rec").nth(1).wait_for()
        await strip.locator(".tl-motion").first.wait_for()
        assert await strip.locator(".tl-rec").count() == 2 and await strip.locator(".tl-motion").count() == 1
        titles = await strip.locator(".tl-rec").evaluate_all("(spans) => spans.map((span) => span.title)")
        assert all(title.startswith("Recorded ") for title in titles), titles
        # Both at the right end of the last ten minutes, where the emulator's life is.
        boxes = [await span.bounding_box() for span in await strip.locator(".tl-rec").all()]
        bar = await strip.locator(".tl-bar").bounding_box()
        assert all(box["x"] > bar["x"] + bar["width"] * 0.9 for box in boxes), (bar, boxes)

        # A click where nothing was recorded moves on to the next recording: the first one.
        scrubber = strip.get_by_role("slider", name="Play the recording from a moment on the timeline")
        await scrubber.click(position={"x": bar["width"] * 0.25, "y": bar["height"] / 2})
        await page.wait_for_function(
            "(id) => { const t = document.querySelector(`article[data-camera='${id}']`);"
            " return t.dataset.mode === 'recorded' && t.dataset.status === 'playing'; }",
            arg=camera,
            timeout=30_000,
        )
        shown = await page.evaluate(SHOWN_JS, camera) / 1000
        assert emulator.epoch_wall - 1.5 <= shown <= emulator.epoch_wall + 8, (emulator.epoch_wall, shown)
        # The scrubber follows the moment on screen: at the right end now, and says it in words.
        await page.wait_for_function(
            "(s) => Number(s.value) > 0.9 * Number(s.max)", arg=await scrubber.element_handle()
        )
        assert (await scrubber.get_attribute("aria-valuetext")).count(":") == 2
        await page.screenshot(path=str(artifacts_dir / "console-timeline-ranges.png"))


async def test_a_bookmark_made_on_the_page_is_listed_and_plays(emulator, gateway_url):
    camera = emulator.camera_ids[0]
    await api_or_skip(gateway_url, f"/api/v1/cameras/{camera}/bookmarks", "/bookmarks and /bookmark")
    async with chromium_page(viewport=DESK) as page:
        await open_console(page, gateway_url + "/?mode=mse", playing=2)
        tile = page.locator(f'article[data-camera="{camera}"]')
        await tile.get_by_role("button", name="Timeline and recordings of Emulated camera 1").click()
        strip = tile.get_by_role("region", name="Timeline of Emulated camera 1")
        await strip.get_by_text("Bookmarks", exact=True).click()
        marked = time.time()
        await strip.get_by_label("Name").fill("Van at the gate")
        await strip.get_by_role("button", name="Bookmark this moment").click()
        entry = strip.locator(".bm", has_text="Van at the gate")
        await entry.wait_for()
        listed = await api_or_skip(gateway_url, f"/api/v1/cameras/{camera}/bookmarks", "/bookmarks")
        [made] = [b for b in listed["bookmarks"] if b["name"] == "Van at the gate"]
        at = datetime.fromisoformat(made["time"]).timestamp()
        assert abs(at - marked) < 5, (made, marked)  # live: the moment it was made
        await entry.get_by_role("button", name="Play bookmark Van at the gate", exact=False).click()
        await page.wait_for_function(
            "(id) => document.querySelector(`article[data-camera='${id}']`).dataset.mode === 'recorded'", arg=camera
        )
        assert abs(await page.evaluate(SHOWN_JS, camera) / 1000 - at) < 30


async def test_record_on_demand_shows_on_the_tile_while_it_runs(emulator, gateway_url):
    camera = emulator.camera_ids[0]
    await api_or_skip(gateway_url, f"/api/v1/cameras/{camera}/record", "/camera/record/manual")
    async with chromium_page(viewport=DESK) as page:
        await open_console(page, gateway_url + "/?mode=mse", playing=2)
        tile = page.locator(f'article[data-camera="{camera}"]')
        await tile.get_by_role("button", name="Record", exact=True).click()
        chip = tile.locator(".rec-chip")
        await chip.wait_for()
        assert (await chip.inner_text()).startswith("● REC 0:0")
        assert await tile.get_by_role("button", name="Stop recording").get_attribute("aria-pressed") == "true"
        state = await api_or_skip(gateway_url, f"/api/v1/cameras/{camera}/record", "/camera/manual-record-state")
        assert state["recording"] is True
        await tile.get_by_role("button", name="Stop recording").click()
        await chip.wait_for(state="hidden")
        state = await api_or_skip(gateway_url, f"/api/v1/cameras/{camera}/record", "/camera/manual-record-state")
        assert state["recording"] is False


# -- the Events panel ------------------------------------------------------------------------------


async def test_an_events_thumbnail_opens_its_recording_in_the_cameras_tile(
    emulator, events_gateway, http, artifacts_dir
):
    token = await mint(http, events_gateway, ["*"], ["view", "snapshot", "alarms"], sub="guard-1")
    camera = emulator.camera_ids[1]
    url = str(events_gateway.make_url("/").with_query(mode="mse", token=token))
    async with chromium_page(viewport=DESK) as page:
        await open_console(page, url, playing=2)
        await page.locator(".events .live[data-state='live']").wait_for()
        # Camera 2 not in view: its event's recording goes to the selected tile.
        await page.get_by_role("group", name="Layout").get_by_role("button", name="1 tile", exact=True).click()
        emulator.trigger_alarm("Door forced", [1])
        await page.locator("#alarm-count").filter(has_text="1 open alarm").wait_for()
        injected = time.time()
        emulator.inject_event(2, "DEVICE_MOTION_START")
        entry = page.locator(".event-list .event", has_text="Motion started").filter(has_text="Emulated camera 2")
        thumb = entry.locator("button.thumb")
        await thumb.wait_for()
        image = thumb.locator("img")
        await page.wait_for_function(
            "(img) => img.complete && img.naturalWidth === 160", arg=await image.element_handle()
        )
        assert token in await image.get_attribute("src") and "size=160x90" in await image.get_attribute("src")
        label = await thumb.get_attribute("aria-label")
        assert label.startswith("Play the recording of Emulated camera 2 from "), label
        await page.screenshot(path=str(artifacts_dir / "console-events-panel.png"))

        await thumb.click()
        tile = page.locator(f'article[data-camera="{camera}"]')
        await page.wait_for_function(
            "(id) => { const t = document.querySelector(`article[data-camera='${id}']`);"
            " return t && t.dataset.mode === 'recorded' && t.dataset.status === 'playing'; }",
            arg=camera,
            timeout=30_000,
        )
        assert await page.evaluate(SLOTS_JS) == [camera]  # in the selected (only) tile
        shown = await page.evaluate(SHOWN_JS, camera) / 1000
        assert injected - 12 <= shown <= injected + 10, (injected, shown)  # from clip_pre_s (10 s) before it
        assert await tile.get_by_role("region", name="Timeline of Emulated camera 2").is_visible()
        await page.screenshot(path=str(artifacts_dir / "console-event-recording.png"))
