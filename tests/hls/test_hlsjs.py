"""hls.js (npm, test-only) in headless Chromium plays the gateway's LL-HLS and stays near
live, and plays a recording (`?t=`) with the camera's sound. The page and hls.js come from
a tiny static server of the test's own, on another origin than the gateway: the gateway's
CORS header is exercised too."""

import asyncio
import json
import time
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import pytest
from aiohttp import web

from tests.conftest import config_for, require

pytestmark = [pytest.mark.peer, pytest.mark.timeout(150)]

HLS_JS = Path(__file__).parent / "node_modules" / "hls.js" / "dist" / "hls.min.js"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
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

    def serve(source: str, page: str = PAGE):
        async def index(request):
            return web.Response(text=page % json.dumps(source), content_type="text/html")

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
    assert all(b > a for a, b in pairwise(times)), times  # never stalled for a second
    assert samples[-1]["frames"] - samples[0]["frames"] >= (PLAY_SECONDS - 1) * 15 * 0.8
    worst_latency = max(s["latency"] for s in samples)
    worst_wall = max(s["behindWallClock"] for s in samples)
    print(
        f"hls.js latency max {worst_latency:.2f}s, behind wall clock max {worst_wall:.2f}s, "
        f"non-fatal errors {report['errors']}"
    )
    assert worst_latency < MAX_LATENCY and worst_wall < MAX_LATENCY, samples


RECORDING_PAGE = """<!doctype html><html><body><video id="v" autoplay playsinline></video>
<script src="/hls.min.js"></script><script>
window.report = {errors: [], fatal: null, tracks: [], ended: false};
const video = document.getElementById("v");
const hls = new Hls();
hls.on(Hls.Events.ERROR, (event, data) => {
  window.report.errors.push(data.details);
  if (data.fatal) window.report.fatal = data.details;
});
hls.on(Hls.Events.BUFFER_CODECS, (event, data) => {
  window.report.tracks = Object.entries(data).map(([kind, track]) => kind + ":" + (track.codec || ""));
});
video.addEventListener("ended", () => { window.report.ended = true; });
hls.loadSource(%s);
hls.attachMedia(video);
video.volume = 1.0;
video.play().catch((error) => window.report.errors.push("play: " + error.name));
window.sample = () => ({
  time: video.currentTime,
  muted: video.muted,
  audioBytes: video.webkitAudioDecodedByteCount,
  videoBytes: video.webkitVideoDecodedByteCount,
  date: hls.playingDate ? hls.playingDate.getTime() / 1000 : null,
});
</script></body></html>"""
RECORDING_SECONDS = 6.0


async def test_hlsjs_plays_a_recording_with_sound(emulator, gateway, gateway_url, page_server):
    """Done when of issue 19: hls.js in Chromium plays a recording, and its audio decodes."""
    require("chromium")
    from playwright.async_api import async_playwright

    from gateway.hls.recorded import RECORDINGS, RecordingLimits

    gateway.app[RECORDINGS].limits = RecordingLimits(max_seconds=RECORDING_SECONDS, segment_min_duration=1.0)
    at = time.time() - 20
    moment = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    server = await page_server(
        f"{gateway_url}/hls/{emulator.camera_ids[0]}/high/playlist.m3u8?t={moment}", RECORDING_PAGE
    )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(str(server.make_url("/")))
            await page.wait_for_function("document.getElementById('v').currentTime > 1", timeout=30000)
            first = await page.evaluate("window.sample()")
            await page.wait_for_function(
                "window.report.ended || document.getElementById('v').currentTime > 4", timeout=30000
            )
            last = await page.evaluate("window.sample()")
            report = await page.evaluate("window.report")
        finally:
            await browser.close()
    print(f"hls.js recording: tracks {report['tracks']}, audio {last['audioBytes']} B, errors {report['errors']}")
    assert report["fatal"] is None, report
    # one muxed SourceBuffer ("audiovideo") or two: either way, AAC is among its codecs
    codecs = ",".join(track.split(":", 1)[1] for track in report["tracks"])
    assert "mp4a.40.2" in codecs and "avc1." in codecs, report
    assert not last["muted"] and last["audioBytes"] > first["audioBytes"] > 0  # the sound decodes as it plays
    assert last["videoBytes"] > first["videoBytes"]
    # hls.js's clock of the recording: the camera's time (PROGRAM-DATE-TIME), within a GOP of `t`
    assert abs(first["date"] - (at + first["time"])) < 1.0, (first, at)
