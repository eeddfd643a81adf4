"""Headless Chromium talks through the viewer page's push-to-talk button: a fake
microphone fed from a 440 Hz WAV reaches the emulator's speaker sink as PCMU that
decodes to 440 Hz, as long as the button was held after the microphone went live."""

from __future__ import annotations

import asyncio
import time

from tests.conftest import require
from tests.talkdown.audio import dominant_hz, seconds_of, tone, write_wav
from tests.talkdown.conftest import emulator_posts, upstream_posts, wait_until
from tests.web.chromium import CHROMIUM, FLAGS

HOLD_SECONDS = 3.0


async def test_hold_to_talk_from_the_page_reaches_the_speaker_at_440_hz(
    emulator, talk_gateway, talk_url, talk_sessions, talk_settings, tmp_path
):
    require(CHROMIUM)
    from playwright.async_api import async_playwright

    camera = emulator.camera_ids[0]
    mic = write_wav(tmp_path / "tone.wav", tone(10.0, 48000), 48000)
    flags = [
        *FLAGS,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={mic}",
    ]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
        try:
            page = await browser.new_page(viewport={"width": 1000, "height": 700})
            page.on("console", lambda message: print(f"[page {message.type}] {message.text}"))
            await page.goto(f"{talk_url}/?mode=mse&quality=low")
            button = page.locator(f'article[data-camera="{camera}"] button.talk')
            await button.wait_for(state="visible", timeout=15000)
            assert await button.is_enabled()
            # The camera without a speaker shows no talk button.
            assert await page.locator(f'article[data-camera="{emulator.camera_ids[-1]}"] button.talk').is_hidden()

            await button.scroll_into_view_if_needed()
            box = await button.bounding_box()
            await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            await page.mouse.down()
            tile = page.locator(f'article[data-camera="{camera}"]')
            # The page's CSP forbids eval, so poll the attribute rather than wait_for_function.
            deadline = time.monotonic() + 15
            while await tile.get_attribute("data-talk") != "live":
                assert time.monotonic() < deadline, await tile.get_attribute("data-talk")
                await asyncio.sleep(0.1)
            assert "live" in (await button.text_content()).lower()
            await wait_until(lambda: emulator.talk_chunks(camera), 10, "the first audio at the speaker")
            first_audio = emulator.talk_chunks(camera)[0][0]
            await asyncio.sleep(HOLD_SECONDS)
            released = time.monotonic()
            await page.mouse.up()
            await wait_until(lambda: talk_sessions.holder(camera) is None, 10, "the talk to end on release")
            assert await tile.get_attribute("data-talk") == "idle"
        finally:
            await browser.close()

    audio = emulator.talk_audio(camera)
    talked = released - first_audio
    assert 0.8 * talked <= seconds_of(audio) <= 1.2 * talked, (seconds_of(audio), talked)
    assert abs(dominant_hz(audio) - 440) <= 10
    assert upstream_posts(talk_gateway) == (1, 0) and emulator_posts(emulator, camera) == 1
    assert talk_sessions.counters.sessions_ended == 1
    # Chromium sent the audio per packet the answer asked for (a=ptime = chunk_ms), not its 20 ms default.
    per_packet = seconds_of(audio) / talk_sessions.counters.rtp_packets
    assert abs(per_packet - talk_settings.chunk_ms / 1000) <= 0.002, per_packet
