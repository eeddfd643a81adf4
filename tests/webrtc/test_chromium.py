"""Debian's Chromium plays every camera over WebRTC from the viewer page; nothing is decoded
in the gateway's process; an upstream outage freezes the picture, which then comes back
without a page reload."""

import asyncio

from gateway.webrtc.routes import WHEP_SESSIONS
from tests.web.chromium import chromium_page, frames_keep_rising, players, wait_playing


async def test_page_plays_every_camera_over_webrtc(gateway, gateway_url, emulator, artifacts_dir, codec_spy):
    sessions = gateway.app[WHEP_SESSIONS]
    async with chromium_page() as page:
        await page.goto(gateway_url + "/")
        await wait_playing(page, len(emulator.camera_ids), "webrtc")
        samples = await frames_keep_rising(page, 10)
        assert all(p["status"] == "playing" and p["width"] > 0 for p in samples[-1])
        await page.screenshot(path=str(artifacts_dir / "viewer-webrtc.png"))
        # Two screenshots a moment apart differ: the video is moving.
        first = await page.locator(".tile video").first.screenshot()
        await asyncio.sleep(1.0)
        second = await page.locator(".tile video").first.screenshot()
        assert first != second
        assert len(sessions) == len(emulator.camera_ids)
    # The page's pagehide DELETEs (or ICE consent) end the sessions; the counters stay.
    assert sessions.counters.frames_sent > 10 * 15
    assert codec_spy.h264_packs >= sessions.counters.frames_sent
    assert (codec_spy.h264_decoders, codec_spy.h264_encodes, codec_spy.vp8_coders, codec_spy.codec_contexts) == (0, 0, 0, [])


async def test_upstream_outage_freezes_then_resumes_without_reload(gateway_url, emulator):
    async with chromium_page() as page:
        await page.goto(gateway_url + "/")
        await page.evaluate("window.__notReloaded = true")
        await wait_playing(page, len(emulator.camera_ids), "webrtc")
        emulator.stall_streams(6.0)
        emulator.drop_streams()
        await asyncio.sleep(2.0)
        frozen = await players(page)
        await asyncio.sleep(2.0)
        still = await players(page)
        assert [p["frames"] for p in still] == [p["frames"] for p in frozen], "picture should freeze"
        # Bounded wait for every camera to decode new frames after the outage.
        for _ in range(40):
            await asyncio.sleep(0.5)
            now = await players(page)
            if all(n["frames"] > s["frames"] + 15 for n, s in zip(now, still)):
                break
        assert all(n["frames"] > s["frames"] + 15 for n, s in zip(now, still)), (still, now)
        assert not any(p["reloaded"] for p in now)
        await frames_keep_rising(page, 3)
