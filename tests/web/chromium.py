"""Debian's Chromium driven by Playwright from PyPI (never `playwright install`)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from tests.conftest import require

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
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


@contextlib.asynccontextmanager
async def chromium_browser(microphone: Path | None = None) -> AsyncIterator:
    """A new headless Chromium; `microphone`: a WAV file it hears as its microphone."""
    require(CHROMIUM)
    from playwright.async_api import async_playwright

    flags = (
        FLAGS
        if microphone is None
        else [
            *FLAGS,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-audio-capture={microphone}",
        ]
    )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
        try:
            yield browser
        finally:
            await browser.close()


async def new_page(browser, viewport: dict | None = None):
    """A page in a context of its own (its own storage: another person at another desk)."""
    context = await browser.new_context(viewport=viewport or {"width": 1000, "height": 700})
    page = await context.new_page()
    page.on("console", lambda message: print(f"[page {message.type}] {message.text}"))
    return page


@contextlib.asynccontextmanager
async def chromium_page(viewport: dict | None = None, microphone: Path | None = None) -> AsyncIterator:
    """A page of a new headless Chromium; `microphone`: a WAV file it hears as its microphone."""
    async with chromium_browser(microphone) as browser:
        yield await new_page(browser, viewport)


# For each player on the page: camera id, transport, status and its decoded-frame counter
# (inbound-rtp framesDecoded for WebRTC, getVideoPlaybackQuality() for MSE), and the
# audio packets received over WebRTC.
PLAYERS_JS = """async () => Promise.all(window.gatewayViewer.players.map(async (p) => {
  let frames = null, audioPackets = null;
  if (p.pc) {
    (await p.pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') frames = r.framesDecoded;
      if (r.type === 'inbound-rtp' && r.kind === 'audio') audioPackets = r.packetsReceived;
    });
  } else {
    const q = p.video.getVideoPlaybackQuality();
    frames = q.totalVideoFrames - q.droppedVideoFrames;
  }
  return {id: p.camera.id, transport: p.transport, status: p.status, frames, audioPackets,
          width: p.video.videoWidth, reloaded: !window.__notReloaded};
}))"""


async def players(page) -> list[dict]:
    return await page.evaluate(PLAYERS_JS)


async def wait_playing(page, count: int, transport: str, timeout: float = 30.0) -> list[dict]:
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    seen: list[dict] = []
    while time.monotonic() < deadline:
        seen = await players(page)
        if len(seen) == count and all(p["transport"] == transport and (p["frames"] or 0) > 0 for p in seen):
            return seen
        await asyncio.sleep(0.5)
    raise AssertionError(f"not all {count} cameras play over {transport} after {timeout}s: {seen}")


async def frames_keep_rising(page, seconds: float, step: float = 1.0) -> list[list[dict]]:
    """Samples of every player once a second; asserts every counter rose at each step."""
    import asyncio

    samples = [await players(page)]
    for _ in range(int(seconds / step)):
        await asyncio.sleep(step)
        samples.append(await players(page))
        for before, after in zip(samples[-2], samples[-1]):
            assert after["frames"] > before["frames"], f"{after['id']} stopped decoding: {before} -> {after}"
    return samples
