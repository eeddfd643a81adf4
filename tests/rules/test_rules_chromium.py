"""Issue 15's whole chain, with real peers: a motion start on the WEP emulator, inside the
rule's schedule, plays a clip on the camera speaker, turns the PTZ to a preset, archives a
JPEG and posts a signed webhook carrying a guest link, which Chromium opens and plays."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest

from tests.rules.test_rules_wep import SECRET, _first_firing, all_day, create
from tests.talkdown.audio import tone, wav_bytes
from tests.web.chromium import chromium_browser, new_page
from tests.web.test_guest_page import advancing, open_guest

pytestmark = pytest.mark.timeout(120)


async def test_a_motion_start_reaches_speaker_ptz_archive_and_a_guard_with_a_link(
    rules_gateway, emulator, admin_http, receiver, tmp_path, artifacts_dir
):
    server, camera = rules_gateway, emulator.camera_ids[0]  # the PTZ camera, with a speaker
    async with admin_http.post(
        server.make_url("/api/v1/clips"),
        params={"name": "you-are-recorded"},
        data=wav_bytes(tone(1.0, 8000, freq=700.0), 8000),
    ) as response:
        assert response.status == 201
    rule = await create(
        admin_http,
        server,
        {
            "name": "gate after hours",
            "when": {"cameras": [camera], "types": ["DEVICE_MOTION_START"], "schedule": all_day(), "timezone": "UTC"},
            "cooldown_s": 60,
            "actions": [
                {"talkdown": {"clip": "you-are-recorded"}},
                {"ptz_preset": {"preset": 1}},
                {"snapshot": {}},
                {"share_link": {"ttl": 600}},
                {"webhook": {"url": receiver.url, "secret": SECRET}},
            ],
            "notify": ["guard-1"],
        },
    )
    event = emulator.inject_event(camera, "DEVICE_MOTION_START")
    firing = await _first_firing(admin_http, server, rule)
    assert [action["outcome"] for action in firing["actions"]] == ["ok"] * 5, firing

    assert len(emulator.talk_audio(camera)) == 8000  # one second of 8 kHz samples on the speaker
    assert emulator.ptz_log(camera)[-1]["kind"] == "preset"
    [jpeg] = list((tmp_path / "archive").rglob("*.jpg"))
    assert jpeg.read_bytes()[:2] == b"\xff\xd8"

    [(headers, body)] = receiver.posts
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    assert hmac.compare_digest(headers["Authorization"], signature)
    payload = json.loads(body)
    assert payload["event"]["id"] == f"wep:{event['thisId']}"
    guest_url = payload["links"]["guest"]
    assert guest_url.startswith(str(server.make_url("/g/")))

    # A guard without an account opens the link: the recording around the event plays.
    async with chromium_browser() as browser:
        page = await new_page(browser)
        await open_guest(page, guest_url)
        assert await page.evaluate("() => window.guestViewer.player.recorded")
        assert await advancing(page), "the shared recording does not play"
        shown = await page.evaluate("() => window.guestViewer.player.shownTime().getTime()") / 1000
        assert abs(shown - (time.time() - 10)) < 30  # it starts just before the event
        await page.screenshot(path=str(artifacts_dir / "rule-guest-link.png"))
