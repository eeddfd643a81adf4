"""The edge tier as deployed: Debian's nginx running deploy/nginx/edge.conf (the file itself,
beside a gateways.conf and a listen.conf naming this test's ports) in front of two gateway
processes in plain single-node mode, and the WEP emulator behind them.

Each node's /metrics tells what reached it, so the tests see what the edge kept to itself."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from gateway.emulator.settings import EmulatorSettings
from tests.cluster.edge import Edge
from tests.conftest import TEST_EMULATOR
from tests.gateway_process import start_gateway, wep_toml
from tests.hls.test_ffmpeg import assert_clean, ffmpeg_frames
from tests.rtmp.nginx import free_port
from tests.webrtc.whep_viewer import WhepViewer, counting_decoders

pytestmark = [pytest.mark.peer, pytest.mark.timeout(240)]

ADMIN_KEY = "edge-admin-key-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
TOKEN_SECRET = "edge-token-secret-0123456789abcdef0123"
TOKEN_SLOT = "__wepgw_token__"


@pytest.fixture
def emulator_settings(emulator_cache) -> EmulatorSettings:
    return EmulatorSettings(host="127.0.0.1", port=0, cache_dir=emulator_cache, **{**TEST_EMULATOR, "cameras": 3})


class Site:
    """Two gateway nodes and the edge in front of them."""

    def __init__(self, tmp_path: Path, emulator):
        self.tmp = tmp_path
        self.emulator = emulator
        self.ports = [free_port(), free_port()]
        self.nodes: list[asyncio.subprocess.Process] = []
        self.edge = Edge(tmp_path / "edge", self.ports)

    def node_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports[index]}"

    def _config(self, index: int) -> Path:
        home = self.tmp / f"node-{index}"
        home.mkdir(parents=True, exist_ok=True)
        path = home / "gateway.toml"
        path.write_text(f"""
[server]
listen = "127.0.0.1:{self.ports[index]}"
{wep_toml(self.emulator)}[auth]
admin_key = "{ADMIN_KEY}"
token_secret = "{TOKEN_SECRET}"
viewer_auth = true
[sources]
idle_close_after = 5.0
[pushes]
db_path = "{home / "gateway.sqlite3"}"
[rules]
clips_dir = "{home / "clips"}"
snapshots_dir = "{home / "snapshots"}"
""")
        return path

    async def start(self) -> None:
        self.nodes = list(
            await asyncio.gather(
                *(
                    start_gateway(self._config(i), self.tmp / f"node-{i}" / "gateway.log", self.node_url(i))
                    for i in range(len(self.ports))
                )
            )
        )
        await self.edge.start()

    async def stop(self) -> None:
        await self.edge.stop()
        await self.stop_nodes()

    async def stop_nodes(self) -> None:
        for process in self.nodes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in self.nodes:
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()

    async def hls_counter(self, http: aiohttp.ClientSession, name: str, camera: str) -> list[float]:
        """`wepgw_hls_<name>_total` of the camera's high quality, per node."""
        pattern = re.compile(
            rf'^wepgw_hls_{name}_total\{{camera="{re.escape(camera)}",quality="high"\}} ([0-9.e+]+)$', re.MULTILINE
        )
        values = []
        for index in range(len(self.ports)):
            async with http.get(f"{self.node_url(index)}/metrics") as response:
                match = pattern.search(await response.text())
            values.append(float(match.group(1)) if match else 0.0)
        return values


@pytest.fixture
async def site(emulator, tmp_path):
    site = Site(tmp_path, emulator)
    try:
        await site.start()
        yield site
    finally:
        await site.stop()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield session


async def mint(http: aiohttp.ClientSession, site: Site, cameras: list[str], actions=("view",)) -> str:
    body = {"cameras": cameras, "actions": list(actions), "ttl": 600}
    async with http.post(f"{site.node_url(0)}/api/v1/tokens", json=body, headers=ADMIN) as response:
        assert response.status == 201, await response.text()
        return (await response.json())["token"]


async def fetch(http: aiohttp.ClientSession, url: str, **kwargs) -> tuple[int, dict, bytes]:
    async with http.get(url, **kwargs) as response:
        return response.status, dict(response.headers), await response.read()


def listed(playlist: str) -> dict:
    """Segment and part URIs of a media playlist, and the (msn, part) a player blocks for next."""
    lines = playlist.splitlines()
    sequence = int(next(line for line in lines if line.startswith("#EXT-X-MEDIA-SEQUENCE:")).split(":")[1])
    segments = [lines[i + 1] for i, line in enumerate(lines) if line.startswith("#EXTINF:")]
    last = max(i for i, line in enumerate(lines) if line.startswith("#EXTINF:"))
    open_parts = [line for line in lines[last:] if line.startswith("#EXT-X-PART:")]
    return {
        "segments": segments,
        "parts": re.findall(r'#EXT-X-PART:[^\n]*URI="([^"]+)"', playlist),
        "next": (sequence + len(segments), len(open_parts)),
    }


async def test_a_camera_stays_on_one_node_and_its_media_is_served_from_the_cache(site, emulator, http):
    cameras = emulator.camera_ids
    token = await mint(http, site, ["*"])
    for camera in cameras:
        status, headers, body = await fetch(http, f"{site.edge.url}/hls/{camera}/index.m3u8?token={token}")
        assert (status, headers["X-Cache-Status"]) == (200, "BYPASS")  # no-cache: never behind the lock
        assert f"high/playlist.m3u8?token={token}" in body.decode()
        base = f"{site.edge.url}/hls/{camera}/high"
        for _ in range(2):
            status, headers, body = await fetch(http, f"{base}/playlist.m3u8?token={token}")
            assert status == 200, body
            assert headers["Cache-Control"] == "max-age=1"
        text = body.decode()
        assert TOKEN_SLOT not in text  # the edge wrote the viewer's token into every URI
        uris = listed(text)
        assert uris["segments"] and uris["parts"]
        assert all(uri.endswith(f"?token={token}") for uri in uris["segments"] + uris["parts"])
        for uri in (uris["segments"][-1], uris["parts"][-1]):
            first = await fetch(http, f"{base}/{uri}")
            again = await fetch(http, f"{base}/{uri}")
            assert first[0] == again[0] == 200
            assert first[1]["Cache-Control"] == "public, max-age=60, immutable"
            assert (first[1]["X-Cache-Status"], again[1]["X-Cache-Status"]) == ("MISS", "HIT")
            assert first[2] == again[2]

    for camera in cameras:
        playlists = await site.hls_counter(http, "playlist_requests", camera)
        assert sorted(value > 0 for value in playlists) == [False, True], (camera, playlists)  # one node only
        owner = playlists.index(max(playlists))
        # Each segment and part was fetched twice through the edge, once from the node.
        assert (await site.hls_counter(http, "segments_served", camera))[owner] == 1
        assert (await site.hls_counter(http, "parts_served", camera))[owner] == 1


async def test_a_cached_answer_goes_only_to_viewers_the_gateway_accepts(site, emulator, http):
    camera, other = emulator.camera_ids[:2]
    token = await mint(http, site, [camera])
    base = f"{site.edge.url}/hls/{camera}/high"
    status, _, body = await fetch(http, f"{base}/playlist.m3u8?token={token}")
    assert status == 200, body
    part = listed(body.decode())["parts"][-1].split("?")[0]
    status, headers, media = await fetch(http, f"{base}/{part}?token={token}")
    assert status == 200 and headers["X-Cache-Status"] == "MISS"

    other_camera = await mint(http, site, [other])
    no_view = await mint(http, site, [camera], ["snapshot"])
    refused = {
        "no credential": ({}, 401),
        "a bad token": ({"params": {"token": "not-a-token"}}, 401),
        "another camera's token": ({"params": {"token": other_camera}}, 403),
        "a token without view": ({"params": {"token": no_view}}, 403),
        "the admin key in the URL": ({"params": {"token": ADMIN_KEY}}, 401),
    }
    for what, (kwargs, expected) in refused.items():
        status, headers, body = await fetch(http, f"{base}/{part}", **kwargs)
        assert status == expected, what
        assert headers.get("X-Cache-Status") != "HIT", what
        assert headers["Content-Type"].startswith("application/json"), what  # the gateway's own answer
        assert body != media, what

    for kwargs in ({"params": {"token": token}}, {"headers": {"Authorization": f"Bearer {token}"}}, {"headers": ADMIN}):
        status, headers, body = await fetch(http, f"{base}/{part}", **kwargs)
        assert (status, headers["X-Cache-Status"], body) == (200, "HIT", media)

    # A header token gets a playlist without one in its URIs (the player sends the header).
    status, _, body = await fetch(http, f"{base}/playlist.m3u8", headers={"Authorization": f"Bearer {token}"})
    assert status == 200 and "token=" not in body.decode() and TOKEN_SLOT not in body.decode()

    # Guest links: checked per URL. A live link opens live HLS (from the cache); a recorded
    # window's link does not, cached or not. Links live in the owner's database (no cluster).
    playlists = await site.hls_counter(http, "playlist_requests", camera)
    owner = site.node_url(playlists.index(max(playlists)))
    now = datetime.now(UTC)
    links = {}
    for kind, body in {
        "live": {"camera": camera, "live": True},
        "window": {"camera": camera, "from": (now - timedelta(minutes=2)).isoformat(), "to": now.isoformat()},
    }.items():
        async with http.post(f"{owner}/api/v1/links", json=body, headers=ADMIN) as response:
            assert response.status == 201, await response.text()
            links[kind] = (await response.json())["id"]
    for _ in range(2):  # the first answer is not kept for the next
        status, headers, body = await fetch(http, f"{base}/{part}", params={"token": links["live"]})
        assert (status, headers["X-Cache-Status"], body) == (200, "HIT", media)
        status, headers, _ = await fetch(http, f"{base}/{part}", params={"token": links["window"]})
        assert status == 403 and headers.get("X-Cache-Status") != "HIT"

    # What the gateway refuses to have is never stored: a name past the window.
    gone = f"{base}/part1.m4s?token={token}"
    for _ in range(2):
        status, headers, _ = await fetch(http, gone)
        assert status == 404 and headers["Cache-Control"] == "no-store" and headers["X-Cache-Status"] == "MISS"


async def test_identical_blocking_reloads_in_flight_reach_the_gateway_once(site, emulator, http):
    camera = emulator.camera_ids[0]
    viewers = 40
    tokens = await asyncio.gather(*(mint(http, site, [camera]) for _ in range(viewers)))
    base = f"{site.edge.url}/hls/{camera}/high/playlist.m3u8"
    status, _, body = await fetch(http, f"{base}?token={tokens[0]}")
    assert status == 200, body
    msn, part = listed(body.decode())["next"]
    before = sum(await site.hls_counter(http, "playlist_requests", camera))

    async def reload(token: str) -> tuple[int, str, str, float]:
        async with http.get(base, params={"_HLS_msn": str(msn), "_HLS_part": str(part), "token": token}) as response:
            text = await response.text()
            return response.status, response.headers.get("X-Cache-Status", ""), text, time.monotonic()

    answers = await asyncio.gather(*(reload(token) for token in tokens))
    assert [status for status, *_ in answers] == [200] * viewers, answers[0][2]
    assert sum(await site.hls_counter(http, "playlist_requests", camera)) - before == 1
    assert Counter(cache for _, cache, _, _ in answers) == {"MISS": 1, "HIT": viewers - 1}
    for token, (_, _, text, _) in zip(tokens, answers, strict=True):
        # One answer for all, each with its own viewer's token in it.
        assert f"?token={token}" in text and TOKEN_SLOT not in text
        assert not any(other in text for other in tokens if other != token)
    finished = [at for *_, at in answers]
    print(f"\n{viewers} blocking reloads: the last answered {max(finished) - min(finished):.3f} s after the first")


async def test_ffmpeg_plays_the_llhls_stream_through_the_edge(site, emulator, http):
    token = await mint(http, site, ["*"])
    pts, errors = await ffmpeg_frames(f"{site.edge.url}/hls/{emulator.camera_ids[0]}/index.m3u8?token={token}", 6)
    assert_clean(pts, errors, 6)


async def test_webrtc_events_and_internal_routes_at_the_edge(site, emulator, http):
    camera = emulator.camera_ids[0]
    token = await mint(http, site, ["*"])
    with counting_decoders():
        viewer = WhepViewer(http, f"{site.edge.url}/whep/{camera}?quality=low&token={token}")
        await viewer.start()  # 201 through the edge, with the node's answer
        try:
            deadline = time.monotonic() + 20
            while viewer.tally.frames < 15 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert viewer.tally.frames >= 15  # media from the node that answered
        finally:
            status = await viewer.stop()  # DELETE on the Location, through the edge: the same node
    assert status in (200, 204)

    timeout = aiohttp.ClientTimeout(total=None, sock_read=10)
    async with http.get(f"{site.edge.url}/api/v1/events/stream?token={token}", timeout=timeout) as response:
        assert response.status == 200 and response.headers["Content-Type"] == "text/event-stream"
        assert await asyncio.wait_for(response.content.readany(), 10)  # the preamble, unbuffered

    for headers in ({}, ADMIN):
        status, answer_headers, body = await fetch(
            http, f"{site.edge.url}/internal/v1/live/{camera}/high", headers=headers
        )
        assert status == 404 and answer_headers["Content-Type"] == "application/json" and b'"not_found"' in body

    status, _, body = await fetch(http, f"{site.edge.url}/api/v1/cameras", params={"token": token})
    assert status == 200 and camera in body.decode()

    # No node left: the edge answers as a gateway would, 503 with Retry-After, in JSON.
    await site.stop_nodes()
    for path in ("/api/v1/cameras", f"/hls/{camera}/high/playlist.m3u8"):
        status, headers, body = await fetch(http, f"{site.edge.url}{path}", params={"token": token})
        assert (status, headers["Content-Type"], headers["Retry-After"]) == (503, "application/json", "2"), path
        assert b'"upstream_unavailable"' in body
