"""Every viewer route against a gateway with access control on: no token, an expired
token, a token for another camera, a token without the route's action, a good one (which
must really get the media: real offers, real files). Admin routes: no key, a wrong key."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import pytest

from gateway.auth.tokens import TokenAuthority
from tests.auth.secure import (
    ADMIN_KEY,
    TOKEN_SECRET,
    admin_headers,
    mint,
    secure_config,
    short_wav,
    talker_offer,
    viewer_offer,
)


@pytest.fixture
async def secure(aiohttp_server, emulator):
    from gateway.app import create_app

    server = await aiohttp_server(create_app(secure_config(emulator)))
    async with aiohttp.ClientSession() as http:
        base = str(server.make_url("")).rstrip("/")
        every = await mint(http, base, ["*"], ["view"])
        async with http.get(f"{base}/api/v1/cameras", headers={"Authorization": f"Bearer {every}"}) as response:
            cameras = (await response.json())["cameras"]
        speaker = next(c["id"] for c in cameras if c["speaker"])
        other = next(c["id"] for c in cameras if c["id"] != speaker)
        yield Secure(server, http, base, speaker, other)


@dataclass
class Secure:
    server: object
    http: aiohttp.ClientSession
    base: str
    camera: str  # has a speaker: every action works on it
    other: str


Call = Callable[[Secure, str, dict, dict], Awaitable[int]]


async def _get(s: Secure, path: str, params: dict, headers: dict, check=None) -> int:
    async with s.http.get(f"{s.base}{path}", params=params, headers=headers) as response:
        if response.status == 200 and check is not None:
            check(response, await response.content.read(4096))
        return response.status


async def hls_index(s, camera, params, headers):
    return await _get(
        s,
        f"/hls/{camera}/index.m3u8",
        params,
        headers,
        lambda r, body: body.startswith(b"#EXTM3U") or pytest.fail("not a playlist"),
    )


async def hls_playlist(s, camera, params, headers):
    return await _get(
        s,
        f"/hls/{camera}/low/playlist.m3u8",
        params,
        headers,
        lambda r, body: b"#EXT-X-PART" in body or pytest.fail("not an LL-HLS playlist"),
    )


async def hls_init(s, camera, params, headers):
    return await _get(
        s,
        f"/hls/{camera}/low/init.mp4",
        params,
        headers,
        lambda r, body: body[4:8] == b"ftyp" or pytest.fail("not an init segment"),
    )


async def live(s, camera, params, headers):
    return await _get(
        s,
        f"/live/{camera}.mp4",
        {**params, "quality": "low"},
        headers,
        lambda r, body: body[4:8] == b"ftyp" or pytest.fail("not fMP4"),
    )


async def snapshot(s, camera, params, headers):
    return await _get(
        s,
        f"/api/v1/cameras/{camera}/snapshot.jpg",
        params,
        headers,
        lambda r, body: body[:2] == b"\xff\xd8" or pytest.fail("not a JPEG"),
    )


async def whep(s, camera, params, headers):
    async with (
        viewer_offer() as offer,
        s.http.post(
            f"{s.base}/whep/{camera}", params=params, data=offer, headers={**headers, "Content-Type": "application/sdp"}
        ) as response,
    ):
        if response.status == 201:
            assert (await response.text()).startswith("v=0")
            # The session id in the Location is the credential: no token needed to hang up.
            async with s.http.delete(f"{s.base}{response.headers['Location']}") as deleted:
                assert deleted.status == 200
        return response.status


async def whip(s, camera, params, headers):
    async with (
        talker_offer() as offer,
        s.http.post(
            f"{s.base}/whip/{camera}/talk",
            params=params,
            data=offer,
            headers={**headers, "Content-Type": "application/sdp"},
        ) as response,
    ):
        if response.status == 201:
            async with s.http.delete(f"{s.base}{response.headers['Location']}") as deleted:
                assert deleted.status == 200
        return response.status


async def talkdown(s, camera, params, headers):
    async with s.http.post(
        f"{s.base}/api/v1/cameras/{camera}/talkdown",
        params=params,
        data=short_wav(),
        headers={**headers, "Content-Type": "audio/wav"},
    ) as response:
        if response.status == 200:
            assert (await response.json())["bytes"] > 0
        return response.status


ROUTES: dict[str, tuple[str, Call, int]] = {
    "hls index": ("view", hls_index, 200),
    "hls playlist": ("view", hls_playlist, 200),
    "hls media": ("view", hls_init, 200),
    "live fmp4": ("view", live, 200),
    "whep": ("view", whep, 201),
    "whip talk": ("talk", whip, 201),
    "talkdown file": ("talk", talkdown, 200),
    "snapshot": ("snapshot", snapshot, 200),
}


def expired_token(cameras: list[str], actions: list[str]) -> str:
    return TokenAuthority(TOKEN_SECRET, clock=lambda: time.time() - 3600).mint(cameras, actions, 60)[0]


@pytest.mark.parametrize("route", list(ROUTES))
async def test_viewer_route(secure, route):
    action, call, ok = ROUTES[route]
    others = [a for a in ("view", "talk", "snapshot") if a != action]
    good = await mint(secure.http, secure.base, [secure.camera], [action])
    elsewhere = await mint(secure.http, secure.base, [secure.other], ["view", "talk", "snapshot"])
    no_action = await mint(secure.http, secure.base, [secure.camera], others)

    def bearer(token):
        return {"Authorization": f"Bearer {token}"}

    assert await call(secure, secure.camera, {}, {}) == 401
    assert await call(secure, secure.camera, {"token": "not-a-jwt"}, {}) == 401
    assert await call(secure, secure.camera, {}, bearer(expired_token([secure.camera], [action]))) == 401
    assert await call(secure, secure.camera, {"token": elsewhere}, {}) == 403
    assert await call(secure, secure.camera, {}, bearer(no_action)) == 403
    # A token for every camera and one in the query both work.
    assert await call(secure, secure.camera, {}, bearer(good)) == ok
    star = await mint(secure.http, secure.base, ["*"], [action])
    assert await call(secure, secure.camera, {"token": star}, {}) == ok


@pytest.mark.parametrize("route", list(ROUTES))
async def test_the_admin_key_opens_viewer_routes_from_the_header_never_from_the_url(secure, route):
    _, call, ok = ROUTES[route]
    assert await call(secure, secure.camera, {}, admin_headers()) == ok
    # ?token= ends up in access logs, proxies and browser history: never for the admin key.
    assert await call(secure, secure.camera, {"token": ADMIN_KEY}, {}) == 401


async def test_snapshots_behind_tokens_are_private_to_caches(secure):
    token = await mint(secure.http, secure.base, [secure.camera], ["snapshot"])
    async with secure.http.get(
        f"{secure.base}/api/v1/cameras/{secure.camera}/snapshot.jpg", params={"token": token}
    ) as response:
        assert response.status == 200
        assert response.headers["Cache-Control"].startswith("private, max-age=")


async def test_unauthorized_answers_say_how(secure):
    async with secure.http.get(f"{secure.base}/live/{secure.camera}.mp4") as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await response.json())["error"]["code"] == "unauthorized"


async def test_camera_list_is_cut_to_the_token(secure):
    url = f"{secure.base}/api/v1/cameras"
    async with secure.http.get(url) as response:
        assert response.status == 401
    async with secure.http.get(url, params={"token": expired_token(["*"], ["view"])}) as response:
        assert response.status == 401
    one = await mint(secure.http, secure.base, [secure.other], ["snapshot"])
    async with secure.http.get(url, params={"token": one}) as response:
        assert response.status == 200
        assert [camera["id"] for camera in (await response.json())["cameras"]] == [secure.other]
    every = await mint(secure.http, secure.base, ["*"], ["view"])
    async with secure.http.get(url, params={"token": every}) as response:
        assert {camera["id"] for camera in (await response.json())["cameras"]} >= {secure.camera, secure.other}


ADMIN_ROUTES = [
    ("GET", "/api/v1/pushes", None, 200),
    ("GET", "/api/v1/pushes/nope", None, 404),
    ("DELETE", "/api/v1/pushes/nope", None, 404),
    ("POST", "/api/v1/pushes", {"camera": "x", "url": "ftp://nowhere"}, 400),
    ("POST", "/api/v1/tokens", {"cameras": ["*"], "actions": ["view"], "ttl": 60}, 201),
]


@pytest.mark.parametrize("method, path, body, ok", ADMIN_ROUTES)
async def test_admin_route(secure, method, path, body, ok):
    async def call(headers: dict) -> int:
        async with secure.http.request(method, f"{secure.base}{path}", json=body, headers=headers) as response:
            return response.status

    assert await call({}) == 401
    assert await call(admin_headers("wrong-key")) == 401
    assert await call(admin_headers(ADMIN_KEY[:-1])) == 401
    # A viewer token is not the admin key.
    viewer = await mint(secure.http, secure.base, ["*"], ["view", "talk", "snapshot"])
    assert await call({"Authorization": f"Bearer {viewer}"}) == 401
    assert await call(admin_headers()) == ok


async def test_admin_routes_are_off_without_an_admin_key(aiohttp_server, emulator):
    import dataclasses

    from gateway.app import create_app

    config = secure_config(emulator)
    config = dataclasses.replace(config, auth=dataclasses.replace(config.auth, admin_key=""))
    server = await aiohttp_server(create_app(config))
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            server.make_url("/api/v1/tokens"), json={"cameras": ["*"], "actions": ["view"]}, headers=admin_headers("")
        ) as response,
    ):
        assert response.status == 403


@pytest.mark.parametrize(
    "body, message",
    [
        ({"cameras": [], "actions": ["view"]}, "cameras"),
        ({"cameras": ["*"], "actions": ["fly"]}, "actions"),
        ({"cameras": ["*"], "actions": ["view"], "ttl": 0}, "ttl"),
        ({"cameras": ["*"], "actions": ["view"], "ttl": 10**9}, "ttl"),
        ({"cameras": ["*"], "actions": ["view"], "admin": True}, "unknown"),
        ({"cameras": ["*"], "actions": None}, "actions"),  # left out is ["view"]; null is no list
        ({"actions": ["view"]}, "cameras"),
    ],
)
async def test_token_request_errors(secure, body, message):
    async with secure.http.post(f"{secure.base}/api/v1/tokens", json=body, headers=admin_headers()) as response:
        assert response.status == 400
        assert message in (await response.json())["error"]["message"]


async def test_a_token_minted_without_actions_may_view_only(secure):
    async with secure.http.post(
        f"{secure.base}/api/v1/tokens", json={"cameras": [secure.camera]}, headers=admin_headers()
    ) as response:
        assert response.status == 201
        minted = await response.json()
    assert minted["actions"] == ["view"]
    token = {"token": minted["token"]}
    assert await hls_index(secure, secure.camera, token, {}) == 200
    assert await snapshot(secure, secure.camera, token, {}) == 403


async def test_viewer_auth_off_opens_viewer_routes_not_admin_ones(aiohttp_server, emulator, caplog):
    import dataclasses

    from gateway.app import create_app

    config = secure_config(emulator)
    config = dataclasses.replace(config, auth=dataclasses.replace(config.auth, viewer_auth=False))
    server = await aiohttp_server(create_app(config))
    assert "viewer_auth = false" in caplog.text
    async with aiohttp.ClientSession() as http:
        async with http.get(server.make_url("/api/v1/cameras")) as response:
            assert response.status == 200
        async with http.get(server.make_url("/api/v1/pushes")) as response:
            assert response.status == 401


async def test_hls_playlists_carry_the_token_to_every_uri(secure):
    token = await mint(secure.http, secure.base, [secure.camera], ["view"])
    base = f"{secure.base}/hls/{secure.camera}"
    async with secure.http.get(f"{base}/index.m3u8", params={"token": token}) as response:
        index = await response.text()
    variants = [line for line in index.splitlines() if line and not line.startswith("#")]
    assert variants and all(line.endswith(f"?token={token}") for line in variants)
    async with secure.http.get(f"{base}/{variants[-1]}") as response:  # the URI alone is enough
        assert response.status == 200
        playlist = await response.text()
    uris = [line.split('URI="')[1].split('"')[0] for line in playlist.splitlines() if 'URI="' in line]
    uris += [line for line in playlist.splitlines() if line and not line.startswith("#")]
    assert len(uris) > 5 and all(uri.endswith(f"?token={token}") for uri in uris)
    quality = variants[-1].split("/")[0]
    for uri in [u for u in uris if "PRELOAD" not in u][:4]:
        async with secure.http.get(f"{base}/{quality}/{uri}") as response:
            assert response.status == 200, uri
        async with secure.http.get(f"{base}/{quality}/{uri.split('?')[0]}") as response:
            assert response.status == 401, uri
