"""The guest page (/g/{id}) in Chromium, in front of the WEP emulator: a live link plays and
stops within 2 s of its revoke, a window link plays its recording, an expiring link says so;
and the console's Share button makes a link that plays in another browser context.
Screenshots go to test-artifacts/guest-*.png and console-share.png."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.webrtc.routes import WHEP_SESSIONS
from tests.auth.secure import admin_headers, mint
from tests.conftest import serving
from tests.links.conftest import config_with_links, iso, make_link

from .chromium import chromium_browser, new_page

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def guest_gateway(emulator, tmp_path):
    async with serving(config_with_links(emulator, tmp_path)) as server:
        yield server


@pytest.fixture
def base(guest_gateway) -> str:
    return str(guest_gateway.make_url("")).rstrip("/")


STEP_MS = 15_000
PLAYING_JS = "() => window.guestViewer?.player?.status === 'playing'"
STATE_JS = "() => document.querySelector('.guest-page').dataset.state"
TIME_JS = "() => document.querySelector('.guest-tile video').currentTime"


async def open_guest(page, url: str) -> None:
    page.set_default_timeout(STEP_MS)
    await page.goto(url)
    await page.wait_for_function(PLAYING_JS, timeout=30_000)


async def advancing(page, seconds: float = 1.5) -> bool:
    before = await page.evaluate(TIME_JS)
    await asyncio.sleep(seconds)
    return await page.evaluate(TIME_JS) > before


async def test_a_live_link_plays_and_stops_within_2_s_of_its_revoke(emulator, guest_gateway, base, http, artifacts_dir):
    camera = emulator.camera_ids[0]
    link = await make_link(http, base, camera=camera, live=True)
    async with chromium_browser() as browser:
        page = await new_page(browser)
        await open_guest(page, link["url"])
        assert await page.evaluate("() => window.guestViewer.player.transport") == "webrtc"
        assert await advancing(page), "the live video does not play"
        assert await page.locator(".guest-name").inner_text() == "Emulated camera 1"
        assert await page.locator(".guest-when").inner_text() == "Live"
        assert await page.locator(".guest-message").is_hidden()
        await page.screenshot(path=str(artifacts_dir / "guest-live.png"))
        sessions = guest_gateway.app[WHEP_SESSIONS]
        assert len(sessions) == 1

        started = time.monotonic()
        async with http.delete(f"{base}/api/v1/links/{link['ref']}", headers=admin_headers()) as response:
            assert response.status == 200
        await page.wait_for_function(f"{STATE_JS} === 'revoked'", timeout=2_000)
        assert time.monotonic() - started < 2.0
        assert len(sessions) == 0  # closed on the gateway's side too
        # the page's peer connection is closed, and so is the player
        assert await page.evaluate("() => window.guestViewer.player.pc?.connectionState ?? 'closed'") == "closed"
        assert await page.evaluate("() => window.guestViewer.player.closed")
        assert not await advancing(page, 1.0), "the video still plays after the revoke"
        message = page.get_by_role("alert")
        assert await message.locator("h2").inner_text() == "This link was revoked"
        await page.screenshot(path=str(artifacts_dir / "guest-revoked.png"))

        await page.reload()  # the page itself is gone now: 410, said in HTML
        assert await page.locator("h1").inner_text() == "This link was revoked"


async def test_a_window_link_plays_its_recording_and_stops_at_its_end(emulator, base, http, artifacts_dir):
    camera = emulator.camera_ids[1]
    start, end = time.time() - 40, time.time() - 32
    link = await make_link(http, base, camera=camera, **{"from": iso(start), "to": iso(end)})
    async with chromium_browser() as browser:
        page = await new_page(browser)
        await open_guest(page, link["url"])
        assert await page.evaluate("() => window.guestViewer.player.recorded")
        assert await advancing(page), "the recording does not play"
        shown = await page.evaluate("() => window.guestViewer.player.shownTime().getTime()") / 1000
        assert start - 1 <= shown <= end
        assert (await page.locator(".guest-when").inner_text()).startswith("Recorded · ")
        assert await page.locator(".tile").get_attribute("data-mode") == "recorded"
        await page.screenshot(path=str(artifacts_dir / "guest-window.png"))
        # The recording goes on past `to`; the page stops there.
        await page.wait_for_function(f"{STATE_JS} === 'finished'", timeout=20_000)
        assert await page.get_by_role("alert").locator("h2").inner_text() == "End of the shared recording"
        assert await page.get_by_role("button", name="Play again").is_visible()


async def test_an_expiring_link_stops_and_then_answers_expired(emulator, base, http, artifacts_dir):
    camera = emulator.camera_ids[0]
    link = await make_link(http, base, camera=camera, live=True, ttl=12)
    expires = time.mktime(time.strptime(link["expires_at"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    async with chromium_browser() as browser:
        page = await new_page(browser)
        await open_guest(page, link["url"])
        await page.wait_for_function(f"{STATE_JS} === 'expired'", timeout=int((expires - time.time() + 2) * 1000))
        assert time.time() - expires < 2.0
        assert await page.get_by_role("alert").locator("h2").inner_text() == "This link has expired"
        assert not await advancing(page, 1.0)

        await page.goto(link["url"])  # opened afterwards: the gateway's own 410 page
        assert await page.locator("h1").inner_text() == "This link has expired"
        await page.screenshot(path=str(artifacts_dir / "guest-expired.png"))


async def test_the_console_share_button_makes_a_link_that_plays(emulator, base, http, artifacts_dir):
    camera = emulator.camera_ids[0]
    sharer = await mint(http, base, ["*"], ["view", "share"])
    viewer = await mint(http, base, ["*"], ["view"])
    async with chromium_browser() as browser:
        console = await new_page(browser, {"width": 1280, "height": 800})
        console.set_default_timeout(STEP_MS)
        await console.goto(f"{base}/?mode=mse&token={viewer}")
        await console.wait_for_function(
            "() => window.gatewayViewer.players.some((p) => p.status === 'playing')", timeout=30_000
        )
        tile = console.locator(f'article[data-camera="{camera}"]')
        assert await tile.locator("button.share").is_hidden()  # a token without share

        await console.goto(f"{base}/?mode=mse&token={sharer}")
        await console.wait_for_function(
            "() => window.gatewayViewer.players.some((p) => p.status === 'playing')", timeout=30_000
        )
        share = tile.get_by_role("button", name="Share")
        await share.click()
        panel = tile.get_by_role("region", name="Guest link to Emulated camera 1")
        url = console.locator(".share-url").first
        await panel.wait_for()
        shared = await url.input_value()
        assert shared.startswith(f"{base}/g/") and sharer not in shared
        assert await panel.locator(".share-what").inner_text() == "Live video"
        assert (await panel.locator(".share-expiry").inner_text()).startswith("Works until ")
        await panel.get_by_role("button", name="Copy").click()
        await console.screenshot(path=str(artifacts_dir / "console-share.png"))

        guest = await new_page(browser)  # another context: another person, no token
        await open_guest(guest, shared)
        assert await advancing(guest), "the shared link does not play"
        await guest.screenshot(path=str(artifacts_dir / "guest-shared.png"))

        # A tile showing a recording shares the minutes around the moment on screen.
        await console.evaluate(
            "(id) => window.gatewayViewer.panels.console.tiles.get(id).playRecorded(new Date(Date.now() - 120000))",
            camera,
        )
        await console.wait_for_function(
            "(id) => { const t = document.querySelector(`article[data-camera='${id}']`);"
            " return t.dataset.mode === 'recorded' && t.dataset.status === 'playing'; }",
            arg=camera,
            timeout=30_000,
        )
        await share.click()  # closes the panel
        await share.click()  # a new link, of what the tile shows now
        await console.wait_for_function(
            "() => document.querySelector('.share-what').textContent.startsWith('Recording')"
        )
        recorded = await url.input_value()
        assert recorded != shared
        async with http.get(f"{base}/api/v1/links", headers={"Authorization": f"Bearer {sharer}"}) as response:
            links = (await response.json())["links"]
        assert [link["live"] for link in links] == [True, False]
        assert links[1]["from"] is not None and links[1]["to"] is not None
        await open_guest(guest, recorded)
        assert await guest.evaluate("() => window.guestViewer.player.recorded")
