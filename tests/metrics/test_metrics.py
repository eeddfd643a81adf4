"""`/metrics` scraped while viewers come and go: the key series move with them."""

from __future__ import annotations

import asyncio
import time

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.auth.secure import admin_headers, secure_config


async def scrape(http: aiohttp.ClientSession, base: str) -> dict[tuple[str, tuple], float]:
    async with http.get(f"{base}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def until(http, base, condition, what: str, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        samples = await scrape(http, base)
        if condition(samples):
            return samples
        if time.monotonic() > deadline:
            raise AssertionError(f"metrics never showed {what}")
        await asyncio.sleep(0.2)


async def test_series_follow_viewers(emulator, gateway_url):
    camera = emulator.camera_ids[0]
    base = gateway_url
    async with aiohttp.ClientSession() as http:
        before = await scrape(http, base)
        assert value(before, "wepgw_viewers", camera=camera, protocol="live") == 0
        assert value(before, "wepgw_pushes", state="live") == 0

        viewers = [await http.get(f"{base}/live/{camera}.mp4", params={"quality": "low"}) for _ in range(2)]
        for response in viewers:
            assert response.status == 200
            await response.content.readexactly(64 * 1024)
        during = await scrape(http, base)
        assert value(during, "wepgw_viewers", camera=camera, protocol="live") == 2
        assert value(during, "wepgw_hub_readers", camera=camera, quality="low") == 2
        assert value(during, "wepgw_upstream_up", camera=camera, quality="low") == 1
        assert value(during, "wepgw_upstream_connections_total", camera=camera, quality="low") >= 1
        assert value(during, "wepgw_viewers_admitted_total", protocol="live") == 2
        received = value(during, "wepgw_upstream_bytes_total", camera=camera, quality="low")
        assert received > 0
        assert value(during, "wepgw_wep_request_duration_seconds_count", route="media.mpd") >= 1
        assert value(during, "wepgw_wep_logged_in") == 1
        for response in viewers:
            await response.content.readexactly(32 * 1024)
        later = await scrape(http, base)
        assert value(later, "wepgw_upstream_bytes_total", camera=camera, quality="low") > received
        assert value(later, "wepgw_hub_frames_published_total", camera=camera, quality="low") > 0

        for response in viewers:
            response.close()
        gone = await until(
            http,
            base,
            lambda s: value(s, "wepgw_viewers", camera=camera, protocol="live") == 0,
            "the live viewers leaving",
        )
        assert value(gone, "wepgw_bytes_out_total", camera=camera, protocol="live") >= 2 * 96 * 1024
        # The source closes after idle_close_after: its counters must not go backwards.
        closed = await until(
            http,
            base,
            lambda s: (
                value(s, "wepgw_upstream_up", camera=camera, quality="low") == 0
                and ("wepgw_upstream_up", (("camera", camera), ("quality", "low"))) not in s
            ),
            "the idle source closing",
        )
        assert value(closed, "wepgw_upstream_bytes_total", camera=camera, quality="low") >= received

        async with http.get(f"{base}/hls/{camera}/low/playlist.m3u8") as response:
            assert response.status == 200
        hls = await scrape(http, base)
        assert value(hls, "wepgw_viewers", camera=camera, protocol="hls") == 1
        assert value(hls, "wepgw_hls_muxers") == 1
        assert value(hls, "wepgw_hls_playlist_requests_total", camera=camera, quality="low") == 1

        for _ in range(2):
            async with http.get(f"{base}/api/v1/cameras/{camera}/snapshot.jpg") as response:
                assert response.status == 200
        snaps = await scrape(http, base)
        assert value(snaps, "wepgw_snapshot_misses_total") >= 1 and value(snaps, "wepgw_snapshot_hits_total") >= 1
        assert value(snaps, "wepgw_snapshot_cache_bytes") > 0
        assert value(snaps, "wepgw_webrtc_sessions") == 0
        assert value(snaps, "wepgw_talk_sessions") == 0


async def test_metrics_behind_the_admin_key(aiohttp_server, emulator):
    from gateway.app import create_app

    server = await aiohttp_server(create_app(secure_config(emulator, metrics={"require_admin_key": True})))
    async with aiohttp.ClientSession() as http:
        async with http.get(server.make_url("/metrics")) as response:
            assert response.status == 401
        async with http.get(server.make_url("/metrics"), headers=admin_headers()) as response:
            assert response.status == 200
            assert "wepgw_viewers" in await response.text()


def test_delay_histogram_buckets():
    from gateway.delay_histogram import DelayHistogram
    from gateway.metrics import delay_histogram

    histogram = DelayHistogram()
    for seconds in (0.0004, 0.003, 0.003, 0.2, 5.0):
        histogram.record(seconds)
    family = delay_histogram("d", "doc", [], [((), histogram)])
    buckets = {s.labels["le"]: s.value for s in family.samples if s.name == "d_bucket"}
    assert buckets["0.001"] == 1 and buckets["0.005"] == 3 and buckets["0.25"] == 4 and buckets["2.0"] == 4
    assert buckets["+Inf"] == 5
    assert next(s.value for s in family.samples if s.name == "d_count") == 5
