"""Snapshot routes end to end: the gateway in front of the WEP emulator, counted at the emulator."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import numpy as np
import pytest

from gateway.app import WEP, create_app
from gateway.snapshots.routes import SNAPSHOTS
from tests.conftest import config_for
from transcoders.jpeg import decode_rgb

PAST = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def renders(emulator) -> int:
    return sum(emulator.stats["jpeg_renders"].values())


@pytest.fixture
async def http():
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture
def camera(emulator) -> str:
    return emulator.camera_ids[0]


def snapshot_url(gateway_url, camera, **query) -> str:
    return str(aiohttp.client.URL(f"{gateway_url}/api/v1/cameras/{camera}/snapshot.jpg").with_query(query))


async def get(http, url, **headers) -> tuple[int, dict, bytes]:
    async with http.get(url, headers=headers) as response:
        return response.status, response.headers.copy(), await response.read()


def hold_upstream_until(gateway, misses: int) -> None:
    """Make the concurrency deterministic: the gateway's WEP client waits until `misses`
    requests have reached the store before its one real call goes to the emulator."""
    client, store = gateway.app[WEP], gateway.app[SNAPSHOTS]
    real = client.jpeg

    async def held(*args, **kwargs):
        deadline = time.monotonic() + 10
        while store.stats.misses < misses and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        return await real(*args, **kwargs)

    client.jpeg = held


async def test_50_concurrent_requests_one_upstream_fetch(gateway, gateway_url, emulator, camera, http):
    hold_upstream_until(gateway, 50)
    url = snapshot_url(gateway_url, camera, t=PAST, roi="0.1,0.1,0.6,0.6", size="160x90")
    answers = await asyncio.gather(*(get(http, url) for _ in range(50)))
    assert [status for status, _, _ in answers] == [200] * 50
    assert len({body for _, _, body in answers}) == 1
    assert decode_rgb(answers[0][2]).shape == (90, 160, 3)
    assert emulator.stats["jpeg_renders"] == {camera: 1}
    stats = gateway.app[SNAPSHOTS].stats
    assert (stats.misses, stats.coalesced, stats.upstream_fetches) == (50, 49, 1)


async def test_past_snapshot_fetched_once_and_immutable(gateway_url, emulator, camera, http):
    url = snapshot_url(gateway_url, camera, t=PAST)
    first = await get(http, url)
    # The same instant spelled another way is the same snapshot.
    basic = PAST.replace("-", "").replace(":", "") + ",c"
    later = [await get(http, snapshot_url(gateway_url, camera, t=spelling)) for spelling in (PAST, basic, PAST)]
    assert first[0] == 200 and all(answer[2] == first[2] for answer in later)
    assert first[1]["Cache-Control"] == "public, max-age=86400, immutable"
    assert first[1]["Content-Type"] == "image/jpeg"
    assert renders(emulator) == 1


async def test_other_roi_cut_locally_matches_the_emulator(gateway, gateway_url, emulator, camera, http):
    status, _, _ = await get(http, snapshot_url(gateway_url, camera, t=PAST))
    assert status == 200 and renders(emulator) == 1
    roi, size = "0.2,0.3,0.7,0.9", "200x144"
    status, _, local = await get(http, snapshot_url(gateway_url, camera, t=PAST, roi=roi, size=size))
    assert status == 200
    assert renders(emulator) == 1 and gateway.app[SNAPSHOTS].stats.local_crops == 1  # no upstream fetch
    wep_t = PAST.replace("-", "").replace(":", "") + ",c"
    upstream = await gateway.app[WEP].jpeg(camera, t=wep_t, roi=roi, size="200,144")  # the emulator's own crop
    assert renders(emulator) == 2
    ours, theirs = decode_rgb(local).astype(np.int16), decode_rgb(upstream).astype(np.int16)
    assert ours.shape == theirs.shape == (144, 200, 3)
    assert np.abs(ours - theirs).mean() < 4.0
    other_camera = await gateway.app[WEP].jpeg(emulator.camera_ids[1], t=wep_t, roi=roi, size="200,144")
    assert np.abs(ours - decode_rgb(other_camera).astype(np.int16)).mean() > 10  # the check has teeth


async def test_cache_stays_under_its_bound(aiohttp_server, emulator, camera, http):
    bound = 40_000
    server = await aiohttp_server(create_app(config_for(emulator, snapshots={"cache_bytes": bound})))
    base, store = str(server.make_url("")).rstrip("/"), server.app[SNAPSHOTS]
    start = datetime.now(UTC) - timedelta(hours=2)
    times = [(start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(30)]
    for t in times:
        status, _, body = await get(http, snapshot_url(base, camera, t=t))
        assert status == 200 and decode_rgb(body).ndim == 3
        assert 0 < store.cache.bytes <= bound
    assert store.cache.evictions > 0 and renders(emulator) == 30
    await get(http, snapshot_url(base, camera, t=times[-1]))  # still cached
    assert renders(emulator) == 30
    await get(http, snapshot_url(base, camera, t=times[0]))  # evicted long ago
    assert renders(emulator) == 31 and store.cache.bytes <= bound


async def test_304_on_matching_etag(gateway_url, emulator, camera, http):
    url = snapshot_url(gateway_url, camera, t=PAST, size="64x36")
    status, headers, body = await get(http, url)
    etag = headers["ETag"]
    assert status == 200 and etag.startswith('"')
    for match in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
        status, again, empty = await get(http, url, **{"If-None-Match": match})
        assert (status, empty, again["ETag"]) == (304, b"", etag)
        assert again["Cache-Control"] == "public, max-age=86400, immutable"
    status, _, same = await get(http, url, **{"If-None-Match": '"something-else"'})
    assert status == 200 and same == body
    assert renders(emulator) == 1


BAD = [
    ("snapshot.jpg", {"t": "yesterday"}, "t"),
    ("snapshot.jpg", {"t": "2016-03-10T21:01:00"}, "t"),
    ("snapshot.jpg", {"t": "2016-03-10T21:01:00Z,x"}, "t"),
    ("snapshot.jpg", {"roi": "0.1,0.2,0.3"}, "roi"),
    ("snapshot.jpg", {"roi": "0.5,0,0.4,1"}, "roi"),
    ("snapshot.jpg", {"roi": "0,0,1.5,1"}, "roi"),
    ("snapshot.jpg", {"roi": "nan,0,1,1"}, "roi"),
    ("snapshot.jpg", {"size": "15x16"}, "size"),
    ("snapshot.jpg", {"size": "640x4097"}, "size"),
    ("snapshot.jpg", {"size": "big"}, "size"),
    ("snapshot.jpg", [("t", "live"), ("t", "live")], "t"),
    ("image-ref", {"type": "THUMBNAIL"}, "path"),
    ("image-ref", {"path": "x"}, "type"),
    ("image-ref", {"path": "x", "type": "../etc"}, "type"),
]


async def test_every_bad_parameter_is_400_and_nothing_reaches_wep(gateway, gateway_url, emulator, camera, http):
    async with http.get(f"{gateway_url}/api/v1/cameras") as response:  # login and camera list done
        assert response.status == 200
    before = emulator.stats["requests"]
    for route, query, parameter in BAD:
        url = aiohttp.client.URL(f"{gateway_url}/api/v1/cameras/{camera}/{route}").with_query(query)
        async with http.get(url) as response:
            answer = await response.json()
            assert response.status == 400, (query, answer)
        assert answer["error"]["code"] == "bad_request"
        assert answer["error"]["message"].startswith(parameter + " "), (query, answer)
    assert emulator.stats["requests"] == before and renders(emulator) == 0
    assert gateway.app[SNAPSHOTS].stats.upstream_fetches == 0


async def test_unknown_camera_is_404_without_a_render(gateway_url, emulator, http):
    status, _, body = await get(http, snapshot_url(gateway_url, "no-such-camera"))
    assert status == 404 and b"no-such-camera" in body and renders(emulator) == 0


async def test_upstream_error_goes_to_every_waiter_and_is_not_cached(gateway, gateway_url, emulator, camera, http):
    async with http.get(f"{gateway_url}/api/v1/cameras") as response:
        assert response.status == 200
    hold_upstream_until(gateway, 10)
    emulator.fail_next(1, 503)
    url = snapshot_url(gateway_url, camera, t=PAST)
    answers = await asyncio.gather(*(get(http, url) for _ in range(10)))
    assert [status for status, _, _ in answers] == [503] * 10
    assert all(b'"upstream_unavailable"' in body for _, _, body in answers)
    assert emulator.stats["failures_injected"] == 1 and renders(emulator) == 0
    stats = gateway.app[SNAPSHOTS].stats
    assert (stats.upstream_fetches, stats.upstream_errors, len(gateway.app[SNAPSHOTS].cache)) == (1, 1, 0)
    status, _, body = await get(http, url)  # not cached: asked again, and this time it works
    assert status == 200 and renders(emulator) == 1 and decode_rgb(body).ndim == 3


async def test_live_snapshot_is_short_lived(gateway_url, emulator, camera, http):
    status, headers, body = await get(http, snapshot_url(gateway_url, camera, t="live"))
    assert status == 200 and decode_rgb(body).shape == (360, 640, 3)
    assert headers["Cache-Control"] in ("public, max-age=0", "public, max-age=1")


async def test_image_ref_proxied_and_cached(gateway_url, emulator, camera, http):
    url = f"{gateway_url}/api/v1/cameras/{camera}/image-ref?path=events/7/image&type=THUMBNAIL"
    first, second = await get(http, url), await get(http, url)
    assert first[0] == second[0] == 200 and first[2] == second[2]
    assert first[1]["Cache-Control"].endswith("immutable") and renders(emulator) == 1
    assert decode_rgb(first[2]).ndim == 3
