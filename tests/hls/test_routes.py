"""LL-HLS protocol semantics over HTTP, against the gateway in front of the WEP emulator."""

import asyncio
import re

import aiohttp
import pytest

from gateway.media.fmp4 import Fmp4Reader

pytestmark = pytest.mark.timeout(90)


def parse(text: str) -> dict:
    parts = re.findall(r'#EXT-X-PART:DURATION=([\d.]+),URI="([^"]+)"(,INDEPENDENT=YES)?', text)
    return {
        "msn": int(re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text).group(1)),
        "segments": re.findall(r"^(seg\d+\.m4s[^\n]*)$", text, re.MULTILINE),
        "parts": parts,
        "hint": re.search(r'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"', text).group(1),
        "map": re.findall(r'#EXT-X-MAP:URI="([^"]+)"', text),
    }


@pytest.fixture
async def http():
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


async def test_playlists_media_and_blocking_reload(emulator, gateway_url, http):
    camera = emulator.camera_ids[0]
    base = f"{gateway_url}/hls/{camera}"
    async with http.get(f"{base}/index.m3u8?token=t1") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/vnd.apple.mpegurl"
        assert response.headers["Cache-Control"] == "no-cache"
        assert "Access-Control-Allow-Origin" not in response.headers  # [server] cors_origins is empty
        index = await response.text()
    assert "high/playlist.m3u8?token=t1" in index and "low/playlist.m3u8?token=t1" in index
    assert re.search(r'BANDWIDTH=\d+,RESOLUTION=640x360,CODECS="avc1\.[0-9A-Fa-f]{6}', index)

    async with http.get(f"{base}/high/playlist.m3u8?token=t1") as response:
        assert response.status == 200  # waits for the first segment instead of an empty list
        text = await response.text()
    info = parse(text)
    assert info["segments"] and all(uri.endswith("?token=t1") for uri in info["segments"])
    assert all(uri.endswith("?token=t1") for _, uri, _ in info["parts"]) and info["hint"].endswith("?token=t1")
    assert "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6" in text

    # init + a segment: real fMP4 with the advertised track
    async with http.get(f"{base}/high/{info['map'][0]}") as response:
        assert response.headers["Content-Type"] == "video/mp4"
        assert "immutable" in response.headers["Cache-Control"]
        init = await response.read()
    async with http.get(f"{base}/high/{info['segments'][-1]}") as response:
        assert response.status == 200
        segment = await response.read()
    events = Fmp4Reader().feed(init + segment)
    assert events[0].track("video").width == 640
    samples = [s for e in events[1:] for s in e.samples if s.track_id == 1]
    assert samples[0].is_keyframe

    # too far ahead: more than two segments past the last one (RFC 8216bis 6.2.5.2)
    open_msn = info["msn"] + len(info["segments"])
    async with http.get(f"{base}/high/playlist.m3u8?_HLS_msn={open_msn + 2}") as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "bad_request"
    async with http.get(f"{base}/high/playlist.m3u8?_HLS_part=1") as response:
        assert response.status == 400

    # blocking: the next segment's first part is not there yet; the answer lists it
    target = open_msn + 1
    async with http.get(f"{base}/high/playlist.m3u8?_HLS_msn={target}&_HLS_part=0&token=t1") as response:
        assert response.status == 200
        assert response.headers["Cache-Control"].startswith("max-age=")
        blocked = await response.text()
    assert f"seg{open_msn}.m4s?token=t1" in blocked  # the open segment closed meanwhile
    assert "_HLS_" not in blocked

    # preload hint: the request blocks until the part is whole, then gives the listed bytes
    hint = parse(blocked)["hint"]
    hinted = asyncio.ensure_future(http.get(f"{base}/high/{hint}"))
    async with http.get(f"{base}/high/playlist.m3u8?_HLS_msn={target}&_HLS_part=1") as response:
        listed = await response.text()
    assert f'URI="{hint.split("?")[0]}"' in listed
    async with await hinted as response:
        assert response.status == 200
        part = await response.read()
    assert part[4:8] == b"moof"

    # delta update: EXT-X-SKIP replaces the segments older than CAN-SKIP-UNTIL (6 s here),
    # so let the window fill first
    while len(parse(listed)["segments"]) < 7:
        target += 1
        async with http.get(f"{base}/high/playlist.m3u8?_HLS_msn={target}") as response:
            listed = await response.text()
    async with http.get(f"{base}/high/playlist.m3u8?_HLS_msn={target}&_HLS_skip=YES") as response:
        delta = await response.text()
    skipped = int(re.search(r"#EXT-X-SKIP:SKIPPED-SEGMENTS=(\d+)", delta).group(1))
    assert skipped >= 1 and len(parse(delta)["segments"]) + skipped == len(parse(listed)["segments"])

    # out of the window: 404 JSON
    async with http.get(f"{base}/high/seg{info['msn'] - 1}.m4s") as response:
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "not_found"
    async with http.get(f"{base}/nope/playlist.m3u8") as response:
        assert response.status == 400
    async with http.get(f"{gateway_url}/hls/no-such-camera/high/playlist.m3u8") as response:
        assert response.status == 404
