"""The viewer page: served from the package with a strict CSP; MSE fallback plays in Chromium."""

import aiohttp

from .chromium import chromium_page, frames_keep_rising, wait_playing


async def test_page_and_static_files(gateway_url):
    async with aiohttp.ClientSession() as http:
        async with http.get(gateway_url + "/") as response:
            assert response.status == 200
            assert response.content_type == "text/html"
            html = await response.text()
            assert "/static/app.js" in html and "http" not in html.split("<body>")[1]
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        for name, content_type in [("app.js", "text/javascript"), ("style.css", "text/css")]:
            async with http.get(f"{gateway_url}/static/{name}") as response:
                assert response.status == 200 and response.content_type == content_type
                assert "https://" not in await response.text()
        for bad in ["/static/..%2Froutes.py", "/static/routes.py", "/static/.hidden.js", "/static/nope.js"]:
            async with http.get(gateway_url + bad) as response:
                assert response.status == 404, bad


async def test_mse_fallback_plays_when_webrtc_is_off(gateway_url, emulator):
    async with chromium_page() as page:
        await page.goto(gateway_url + "/?mode=mse")
        found = await wait_playing(page, len(emulator.camera_ids), "mse")
        assert sorted(p["id"] for p in found) == sorted(emulator.camera_ids)
        await frames_keep_rising(page, 5)


async def test_token_from_the_page_url_goes_to_every_request(gateway_url, emulator):
    seen = []
    async with chromium_page() as page:
        page.on("request", lambda request: seen.append(request.url))
        await page.goto(gateway_url + "/?mode=mse&token=abc123")
        await wait_playing(page, len(emulator.camera_ids), "mse")
    api = [url for url in seen if "/api/" in url or "/live/" in url]
    assert api and all("token=abc123" in url for url in api), api


async def test_phone_sized_viewport_stacks_tiles(gateway_url, emulator):
    async with chromium_page(viewport={"width": 375, "height": 740}) as page:
        await page.goto(gateway_url + "/?mode=mse")
        await wait_playing(page, len(emulator.camera_ids), "mse")
        boxes = [await tile.bounding_box() for tile in await page.query_selector_all(".tile")]
        assert len({round(box["x"]) for box in boxes}) == 1, "one column on a phone"
        assert all(box["width"] <= 375 for box in boxes)
        overflow = await page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        assert not overflow, "nothing wider than the screen"
