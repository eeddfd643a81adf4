"""The console's alarm list with ACC and Alta alarms side by side, in Chromium: each shows
where it comes from and only its own actions; an Alta alarm is verified and ended from the
page as a person would, and its shared video link leads to Alta."""

from __future__ import annotations

import pytest

from tests.backends.alta.conftest import (
    alta,  # noqa: F401 - the Alta emulator fixture
    alta_gateway,
)
from tests.events.conftest import mint, wait_for
from tests.web.test_events_panel import open_page

from .chromium import chromium_page

pytestmark = pytest.mark.timeout(120)


async def test_alta_alarms_sit_beside_acc_ones_and_are_verified_and_ended(
    emulator,
    alta,
    tmp_path,
    http,
    artifacts_dir,
):
    async with alta_gateway(emulator, alta, tmp_path) as server:
        token = await mint(http, server, ["*"], ["view", "alarms"], sub="guard-3")
        async with chromium_page() as page:
            await open_page(page, server, token)
            emulator.trigger_alarm("Door forced", [1])
            raised = alta.raise_alarm(1, 101)
            acc = page.locator("#alarms .alarm", has_text="Door forced")
            cloud = page.locator("#alarms .alarm", has_text="Warehouse Perimeter")
            await acc.wait_for()
            await cloud.wait_for()
            assert await acc.locator(".alarm-source").inner_text() == "ACC"
            assert await cloud.locator(".alarm-source").inner_text() == "Alta"
            assert "Loading Dock North" in await cloud.locator(".alarm-meta").inner_text()
            # Each shows only what its system takes.
            assert await acc.get_by_role("button", name="Claim").is_visible()
            assert await acc.get_by_role("button", name="Valid").is_hidden()
            assert await cloud.get_by_role("button", name="Claim").is_hidden()
            for name in ("Valid", "False alarm", "No verdict", "End"):
                assert await cloud.get_by_role("button", name=name).is_visible(), name
            video = cloud.get_by_role("link", name="Video")
            assert (await video.get_attribute("href")).startswith(f"{alta.url}/cloud?t=")
            assert await video.get_attribute("target") == "_blank"
            await page.screenshot(path=str(artifacts_dir / "alarms-acc-and-alta.png"))

            await cloud.get_by_role("button", name="Valid").click()
            await wait_for(lambda: alta.verifications(raised["guid"]), timeout=10, what="Alta's verification")
            [verification] = alta.verifications(raised["guid"])
            assert verification.get("body", verification)["acknowledgment_code"] == 201
            await cloud.locator(".alarm-state", has_text="Verified valid").wait_for()
            verified = page.locator(".event-list .event", has_text="Alarm verified")
            await verified.filter(has_text="by guard-3").wait_for()

            await cloud.get_by_role("button", name="End").click()
            await wait_for(lambda: alta.ended(raised["guid"]), timeout=10, what="the alert ended on Alta")
            await cloud.wait_for(state="detached")  # ended: no longer ongoing
            assert await acc.is_visible()  # the ACC alarm is untouched
            await page.screenshot(path=str(artifacts_dir / "alarms-alta-ended.png"))
