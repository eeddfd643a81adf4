"""The viewer page's Events panel in Chromium: WEP events arrive over the page's own
EventSource, alarms are acknowledged from the page as a person would, and the panel sits
beside the grid on a desktop and below it on a phone (screenshots in test-artifacts/)."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.events.conftest import mint, wait_for

from .chromium import chromium_page, players, wait_playing

pytestmark = pytest.mark.timeout(120)

STEP_MS = 15_000  # Playwright's bound on each wait and click

FETCH_JS = """async (href) => {
  const response = await fetch(href);
  const bytes = new Uint8Array(await response.arrayBuffer());
  return {status: response.status, type: response.headers.get('content-type'), head: [bytes[0], bytes[1]]};
}"""

TILE_ALERT_JS = "(id) => document.querySelector(`.tile[data-camera='${id}']`).dataset.alert || null"


async def camera_names(http, server, token: str) -> dict[str, str]:
    async with http.get(server.make_url("/api/v1/cameras"), headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status == 200, await response.text()
        return {camera["id"]: camera["name"] or camera["id"] for camera in (await response.json())["cameras"]}


async def open_page(page, server, token: str, mode: str = "mse") -> None:
    page.set_default_timeout(STEP_MS)
    await page.goto(str(server.make_url("/").with_query(mode=mode, token=token)))
    # The stream is open: what is published from now on reaches the page.
    await page.locator(".events .live[data-state='live']").wait_for()


async def test_motion_event_reaches_the_panel_with_a_picture_link_that_works(emulator, events_gateway, http):
    token = await mint(http, events_gateway, ["*"], ["view", "snapshot", "alarms"], sub="guard-1")
    camera = emulator.camera_ids[0]
    name = (await camera_names(http, events_gateway, token))[camera]
    async with chromium_page() as page:
        await open_page(page, events_gateway, token)
        emulator.inject_event(1, "DEVICE_MOTION_START")
        entry = page.locator(".event-list .event", has_text="Motion started").filter(has_text=name)
        await entry.first.wait_for()
        assert await entry.count() == 1
        assert await entry.locator(".where").inner_text() == name
        assert await page.evaluate(TILE_ALERT_JS, camera) == "event"  # the tile lights up for a moment

        href = await entry.locator("a.snapshot").get_attribute("href")
        assert f"token={token}" in href and href.startswith(str(events_gateway.make_url("/api/v1/cameras/")))
        assert await entry.locator("a.snapshot").get_attribute("target") == "_blank"
        fetched = await page.evaluate(FETCH_JS, href)
        assert fetched == {"status": 200, "type": "image/jpeg", "head": [0xFF, 0xD8]}
        recording = await entry.locator("a.recording").get_attribute("href")
        assert "/playlist.m3u8?" in recording and f"token={token}" in recording

        # The stop follows at the top, newest first; a reload shows both once, from the history.
        emulator.inject_event(1, "DEVICE_MOTION_STOP")
        await page.locator(".event-list .event").first.filter(has_text="Motion ended").wait_for()
        await page.reload()
        await page.locator(".events .live[data-state='live']").wait_for()
        await page.locator(".event-list .event", has_text="Motion ended").first.wait_for()
        texts = await page.locator(".event-list .event .what").all_inner_texts()
        assert texts.count("Motion started") == 1 and texts.count("Motion ended") == 1, texts
        assert texts.index("Motion ended") < texts.index("Motion started")
        assert await page.locator(".event-list").get_attribute("aria-live") == "polite"


RESUME_FROM_JS = """(id) => {
  const panel = window.gatewayViewer.panels.events;
  panel.close();
  panel.lastEventId = id;
  panel.connect();
  window.replayed = 0;
  panel.source.addEventListener('motion', () => window.replayed++);
}"""


async def test_a_reconnect_that_replays_events_shows_each_once(emulator, events_gateway, http):
    token = await mint(http, events_gateway, ["*"], ["view"])
    async with chromium_page() as page:
        await open_page(page, events_gateway, token)
        emulator.inject_event(1, "DEVICE_MOTION_START")
        await page.locator(".event-list .event", has_text="Motion started").wait_for()
        resume_from = await page.evaluate("() => window.gatewayViewer.panels.events.lastEventId")
        emulator.inject_event(1, "DEVICE_MOTION_STOP")
        await page.locator(".event-list .event", has_text="Motion ended").wait_for()
        # The stream resumes from the earlier id: the server sends "Motion ended" again.
        await page.evaluate(RESUME_FROM_JS, resume_from)
        await page.wait_for_function("() => window.replayed >= 1", timeout=STEP_MS)
        await page.locator(".events .live[data-state='live']").wait_for()
        texts = await page.locator(".event-list .event .what").all_inner_texts()
        assert texts.count("Motion started") == 1 and texts.count("Motion ended") == 1, texts


async def test_alarm_is_acknowledged_from_the_page_with_a_note(emulator, events_gateway, http, artifacts_dir):
    token = await mint(http, events_gateway, ["*"], ["view", "snapshot", "alarms"], sub="guard-1")
    note = "Checked the door on camera, all clear"
    async with chromium_page() as page:
        await open_page(page, events_gateway, token)
        assert await page.locator("#alarms").is_visible()
        raised = emulator.trigger_alarm("Door forced", [1])  # announced on the stream: the list follows
        alarm = page.locator("#alarms .alarm", has_text="Door forced")
        await alarm.wait_for()
        assert await alarm.locator(".alarm-state").text_content() == "Active"

        await alarm.get_by_role("button", name="Acknowledge…").click()
        field = alarm.get_by_label("Note (optional)")
        assert await page.evaluate("() => document.activeElement.classList.contains('ack-note')")
        await field.press_sequentially(note)
        await alarm.get_by_role("button", name="Acknowledge", exact=True).click()

        await wait_for(
            lambda: emulator.alarm(raised["id"])["state"] == "ACKNOWLEDGED", timeout=10, what="WEP's alarm acknowledged"
        )
        assert emulator.alarm(raised["id"])["note"] == note
        acknowledged = page.locator(".event-list .event", has_text="Alarm acknowledged")
        await acknowledged.filter(has_text="by guard-1").wait_for()
        await alarm.wait_for(state="detached")  # acknowledged: no longer open
        # The keyboard stays in the alarms section, not thrown back to the top of the page.
        assert await page.evaluate("() => document.activeElement.id") == "alarms-title"
        await page.locator("#alarms .alarms-empty").wait_for()
        assert await acknowledged.locator(".detail").inner_text() == f"Door forced · {note}"
        # WEP's own ALARM_ACKNOWLEDGED (by the gateway's WEP user) is the same action: one line.
        await asyncio.sleep(1.0)
        assert await acknowledged.count() == 1
        await page.screenshot(path=str(artifacts_dir / "events-panel-acknowledged.png"))


async def test_an_alarm_action_the_api_refuses_shows_its_message_inline(emulator, events_gateway, http):
    token = await mint(http, events_gateway, ["*"], ["view", "alarms"])
    emulator.trigger_alarm("Gate", [1])
    message = "wep refused to claim the alarm: 500 Internal Server Error"

    async def refuse(route):
        await route.fulfill(
            status=502,
            content_type="application/json",
            body=json.dumps({"error": {"code": "upstream_error", "message": message}}),
        )

    async with chromium_page() as page:
        await page.route("**/api/v1/alarms/*/claim*", refuse)
        await open_page(page, events_gateway, token)
        alarm = page.locator("#alarms .alarm", has_text="Gate")
        await alarm.get_by_role("button", name="Claim").click()
        problem = alarm.locator(".alarm-problem")
        await problem.wait_for()
        assert await problem.inner_text() == f"Could not claim: {message}"
        assert await problem.get_attribute("role") == "alert"
        assert await alarm.locator(".alarm-state").text_content() == "Active"


async def test_a_token_without_alarms_sees_events_but_no_alarms_section(emulator, events_gateway, http):
    token = await mint(http, events_gateway, ["*"], ["view"])
    emulator.trigger_alarm("Loading bay", [1])
    async with chromium_page() as page:
        await open_page(page, events_gateway, token)
        await page.locator(".event-list .event", has_text="Alarm triggered").first.wait_for()
        await asyncio.sleep(0.5)  # the alarms GET has answered 403 by now
        assert not await page.locator("#alarms").is_visible()


async def test_event_data_is_shown_as_text_and_foreign_links_are_dropped(emulator, events_gateway, http):
    token = await mint(http, events_gateway, ["*"], ["view"])
    async with chromium_page() as page:
        await open_page(page, events_gateway, token)
        # Fields of WEP's event go into `data` as sent: markup must stay text.
        emulator.inject_event(1, "DEVICE_ANALYTICS_START", analyticEventName="<img src=x onerror=alert(1)>")
        entry = page.locator(".event-list .event", has_text="Analytics started")
        await entry.wait_for()
        assert await entry.locator(".detail").inner_text() == "<img src=x onerror=alert(1)>"
        assert await page.locator(".event-list img:not(.thumb-image)").count() == 0  # the thumbnail is the only one
        links = await page.evaluate("""async () => {
          const {sameOrigin} = await import('/static/events.js');
          const api = (path) => new URL(path, location.href).toString();
          return ['javascript:alert(1)', '//evil.example/x.jpg', 'https://evil.example/x.jpg', '/api/v1/x.jpg']
            .map((link) => sameOrigin(link, api));
        }""")
        assert links[:3] == [None, None, None] and links[3].endswith("/api/v1/x.jpg")


@pytest.mark.parametrize(
    "viewport, name", [({"width": 1280, "height": 800}, "desktop"), ({"width": 390, "height": 844}, "narrow")]
)
async def test_panel_sits_beside_the_grid_or_below_it(emulator, events_gateway, http, artifacts_dir, viewport, name):
    token = await mint(http, events_gateway, ["*"], ["view", "snapshot", "alarms"], sub="guard-1")
    async with chromium_page(viewport=viewport) as page:
        await open_page(page, events_gateway, token)
        await wait_playing(page, len(emulator.camera_ids), "mse")
        emulator.trigger_alarm("Perimeter breach, north fence", [2])
        for kind in ("DEVICE_MOTION_START", "DEVICE_MOTION_STOP", "DEVICE_ANALYTICS_START"):
            emulator.inject_event(1, kind)
        emulator.inject_event(2, "DEVICE_MOTION_START")
        await page.locator("#alarms .alarm").first.wait_for()
        await page.locator(".event-list .event", has_text="Motion started").nth(1).wait_for()
        await page.locator("#alarms .alarm").first.get_by_role("button", name="Acknowledge…").click()
        await page.locator("#alarms .ack-note").first.fill("Guard on the way")
        for _ in range(40):  # a picture in every tile, as the viewer sees it
            if all(p["status"] == "playing" for p in await players(page)):
                break
            await asyncio.sleep(0.25)
        await asyncio.sleep(2.5)  # the new entries' highlight has faded

        grid = await page.locator("#grid").bounding_box()
        panel = await page.locator("#events").bounding_box()
        if name == "desktop":
            assert panel["x"] >= grid["x"] + grid["width"], (grid, panel)  # beside, not over the video
            assert 300 <= panel["width"] <= 340
            assert panel["y"] + panel["height"] <= viewport["height"]  # all of it in view
        else:
            assert panel["y"] >= grid["y"] + grid["height"], (grid, panel)  # below
        assert not await page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        await page.screenshot(path=str(artifacts_dir / f"events-panel-{name}.png"), full_page=name == "narrow")
        await page.emulate_media(color_scheme="dark")
        await page.screenshot(path=str(artifacts_dir / f"events-panel-{name}-dark.png"), full_page=name == "narrow")
