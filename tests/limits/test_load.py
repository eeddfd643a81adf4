"""Over the limits: new viewers get 503 + Retry-After at once, and the viewers already in
keep receiving. Also the body-size bound and the request timeout (which a stream outlives)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.auth.secure import admin_headers, mint, secure_config, viewer_offer

LIMITS = {
    "max_viewers_per_camera": 3,
    "max_viewers_total": 4,
    "retry_after": 7,
    "request_timeout": 1.0,
    "max_body_bytes": 2000,
}


@pytest.fixture
async def make_limited(aiohttp_server, emulator):
    from gateway.app import create_app

    async with aiohttp.ClientSession() as http:

        async def make(**overrides):
            server = await aiohttp_server(create_app(secure_config(emulator, limits={**LIMITS, **overrides})))
            make.server = server
            return str(server.make_url("")).rstrip("/"), http

        yield make


@pytest.fixture
async def limited(make_limited):
    return await make_limited()


async def _refused(response: aiohttp.ClientResponse) -> None:
    assert response.status == 503, await response.text()
    assert response.headers["Retry-After"] == "7"
    assert (await response.json())["error"]["code"] == "too_many_viewers"


async def test_over_the_limits_new_viewers_are_refused_and_old_ones_keep_watching(limited, emulator):
    base, http = limited
    first, second = emulator.camera_ids[:2]
    token = await mint(http, base, ["*"], ["view", "talk", "snapshot"])

    def live(camera):
        return http.get(f"{base}/live/{camera}.mp4", params={"quality": "low", "token": token})

    watching = [await live(first) for _ in range(3)]
    for response in watching:
        assert response.status == 200
        await response.content.readexactly(16 * 1024)

    # A burst over the per-camera limit: every one refused, none left hanging.
    burst = await asyncio.wait_for(asyncio.gather(*(live(first) for _ in range(8))), 10)
    for response in burst:
        await _refused(response)
        response.close()
    async with (
        viewer_offer() as offer,
        http.post(
            f"{base}/whep/{first}", data=offer, params={"token": token}, headers={"Content-Type": "application/sdp"}
        ) as response,
    ):
        await _refused(response)
    other_player = await mint(http, base, ["*"], ["view"])
    async with http.get(f"{base}/hls/{first}/index.m3u8", params={"token": other_player}) as response:
        await _refused(response)

    # The total: one more on another camera fits, the next does not.
    fourth = await live(second)
    assert fourth.status == 200
    async with live(second) as response:
        await _refused(response)

    # The viewers in keep receiving, well past the request timeout of 1 s.
    for _ in range(2):
        for response in [*watching, fourth]:
            chunk = await asyncio.wait_for(response.content.readexactly(16 * 1024), 10)
            assert len(chunk) == 16 * 1024

    # One leaves: a newcomer gets the seat.
    watching.pop().close()
    for _ in range(100):
        async with live(first) as response:
            if response.status == 200:
                assert (await response.content.readexactly(8))[4:8] == b"ftyp"
                break
            await _refused(response)
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the freed seat was never given out")
    for response in [*watching, fourth]:
        response.close()


async def test_hls_players_are_counted_per_token(make_limited, emulator):
    # A muxer's first playlist waits for a whole first segment: more than 1 s.
    base, http = await make_limited(request_timeout=20.0)
    camera = emulator.camera_ids[0]
    tokens = [await mint(http, base, [camera], ["view"]) for _ in range(4)]
    for token in tokens[:3]:
        async with http.get(f"{base}/hls/{camera}/low/playlist.m3u8", params={"token": token}) as response:
            assert response.status == 200
    async with http.get(f"{base}/hls/{camera}/low/playlist.m3u8", params={"token": tokens[3]}) as response:
        await _refused(response)
    # Players already counted go on polling and fetching media.
    for token in tokens[:3]:
        async with http.get(f"{base}/hls/{camera}/low/playlist.m3u8", params={"token": token}) as response:
            assert response.status == 200
            playlist = await response.text()
        part = next(
            line.split('URI="')[1].split('"')[0] for line in playlist.splitlines() if line.startswith("#EXT-X-PART:")
        )
        async with http.get(f"{base}/hls/{camera}/low/{part}") as response:
            assert response.status == 200 and len(await response.read()) > 0


async def test_declared_bodies_over_the_bound_are_refused_unread(limited):
    base, http = limited
    body = b'{"cameras": ["*"], "actions": ["view"], "pad": "' + b"x" * 3000 + b'"}'
    async with http.post(
        f"{base}/api/v1/tokens", data=body, headers={**admin_headers(), "Content-Type": "application/json"}
    ) as response:
        assert response.status == 413
        assert (await response.json())["error"]["code"] == "too_large"


async def test_no_answer_in_time_is_a_503_not_a_hang(limited, emulator):
    base, http = limited
    token = await mint(http, base, ["*"], ["view"])
    emulator.stall_streams(20)  # no frames: a first segment would take until the muxer gives up (15 s)
    async with http.get(f"{base}/hls/{emulator.camera_ids[0]}/low/playlist.m3u8", params={"token": token}) as response:
        assert response.status == 503
        assert response.headers["Retry-After"] == "7"
        assert (await response.json())["error"]["code"] == "timeout"


async def test_webrtc_sessions_hold_their_seat_until_they_end(make_limited, emulator):
    from gateway.webrtc.routes import WHEP_SESSIONS

    base, http = await make_limited(max_viewers_per_camera=1, request_timeout=20.0)
    camera = emulator.camera_ids[0]
    token = {"token": await mint(http, base, [camera], ["view"])}

    async def offer_status() -> tuple[int, str]:
        async with (
            viewer_offer() as offer,
            http.post(
                f"{base}/whep/{camera}", data=offer, params=token, headers={"Content-Type": "application/sdp"}
            ) as response,
        ):
            return response.status, response.headers.get("Location", "")

    status, location = await offer_status()
    assert status == 201
    assert (await offer_status())[0] == 503  # the session holds the seat after its POST ended
    async with http.delete(f"{base}{location}") as response:
        assert response.status == 200
    status, location = await offer_status()
    assert status == 201  # DELETE gave it back
    # A session that ends on its own (ICE failure, shutdown) gives it back as well.
    assert await make_limited.server.app[WHEP_SESSIONS].close(location.rsplit("/", 1)[1])
    assert (await offer_status())[0] == 201
