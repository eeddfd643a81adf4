"""hls.js (npm, test-only) in headless Chromium plays the gateway's LL-HLS and stays near
live. The page and hls.js come from a tiny static server of the test's own, on another
origin than the gateway: the gateway's CORS header is exercised too."""

import asyncio
import json
from pathlib import Path

import pytest
from aiohttp import web

from tests.conftest import config_for, require

pytestmark = [pytest.mark.peer, pytest.mark.timeout(150)]

HLS_JS = Path(__file__).parent / "node_modules" / "hls.js" / "dist" / "hls.min.js"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required"]
PLAY_SECONDS = 20
MAX_LATENCY = 3.0

PAGE = """<!doctype html><html><body><video id="v" muted autoplay playsinline></video>
<script src="/hls.min.js"></script><script>
window.report = {errors: [], fatal: null};
const video = document.getElementById("v");
const hls = new Hls({lowLatencyMode: true});
window.hls = hls;
hls.on(Hls.Events.ERROR, (event, data) => {
  window.report.errors.push(data.details);
  if (data.fatal) window.report.fatal = data.details;
});
hls.loadSource(%s);
hls.attachMedia(video);
video.play().catch(() => {});
window.sample = () => ({
  time: video.currentTime,
  frames: video.getVideoPlaybackQuality().totalVideoFrames,
  latency: hls.latency,
  behindWallClock: hls.playingDate ? (Date.now() - hls.playingDate.getTime()) / 1000 : null,
  lowLatency: hls.lowLatencyMode && !!(hls.levels[hls.currentLevel] || hls.levels[0]).details?.partList,
});
</script></body></html>"""


@pytest.fixture
def gateway_config(emulator):
    # The page is served from another origin: the gateway must answer with CORS.
    return config_for(emulator, server={"cors_origins": "*"}, sources={"idle_close_after": 2.0})


@pytest.fixture
async def page_server(aiohttp_server):
    if not HLS_JS.is_file():
        pytest.fail("hls.js missing: run `npm ci --prefix tests/hls`")

    def serve(source: str):
        async def index(request):
            return web.Response(text=PAGE % json.dumps(source), content_type="text/html")

        async def hls_js(request):
            return web.FileResponse(HLS_JS)

        app = web.Application()
        app.router.add_get("/", index)
        app.router.add_get("/hls.min.js", hls_js)
        return aiohttp_server(app)

    return serve


async def test_hlsjs_plays_low_latency_within_3s_of_live(emulator, gateway_url, page_server):
    require("chromium")
    from playwright.async_api import async_playwright

    server = await page_server(f"{gateway_url}/hls/{emulator.camera_ids[0]}/index.m3u8")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(str(server.make_url("/")))
            await page.wait_for_function("document.getElementById('v').currentTime > 0.5", timeout=30000)
            samples = []
            for _ in range(PLAY_SECONDS):
                await asyncio.sleep(1)
                samples.append(await page.evaluate("window.sample()"))
            report = await page.evaluate("window.report")
        finally:
            await browser.close()
    assert report["fatal"] is None, report
    assert all(s["lowLatency"] for s in samples)  # parts were listed and used
    times = [s["time"] for s in samples]
    assert all(b > a for a, b in zip(times, times[1:])), times  # never stalled for a second
    assert samples[-1]["frames"] - samples[0]["frames"] >= (PLAY_SECONDS - 1) * 15 * 0.8
    worst_latency = max(s["latency"] for s in samples)
    worst_wall = max(s["behindWallClock"] for s in samples)
    print(f"hls.js latency max {worst_latency:.2f}s, behind wall clock max {worst_wall:.2f}s, "
          f"non-fatal errors {report['errors']}")
    assert worst_latency < MAX_LATENCY and worst_wall < MAX_LATENCY, samples
