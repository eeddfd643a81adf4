"""CORS: same origin only by default (even where a handler sets its own headers), the
configured origins get preflights and readable answers, errors included."""

from __future__ import annotations

import aiohttp
import pytest

from tests.auth.secure import mint, secure_config, viewer_offer

ALLOWED = "https://viewer.example"


@pytest.fixture
async def make_gateway(aiohttp_server, emulator):
    from gateway.app import create_app

    async def make(origins: str) -> str:
        server = await aiohttp_server(create_app(secure_config(emulator, server={"cors_origins": origins})))
        return str(server.make_url("")).rstrip("/")

    return make


def preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    }


async def test_default_is_same_origin_only(make_gateway, emulator):
    base = await make_gateway("")
    camera = emulator.camera_ids[0]
    async with aiohttp.ClientSession() as http:
        async with http.options(f"{base}/whep/{camera}", headers=preflight(ALLOWED)) as response:
            assert response.status == 403
            assert "Access-Control-Allow-Origin" not in response.headers
        token = await mint(http, base, ["*"], ["view"])
        # The WHEP handler sets "*" of its own accord; a browser from elsewhere must not get it.
        async with (
            viewer_offer() as offer,
            http.post(
                f"{base}/whep/{camera}",
                data=offer,
                params={"token": token},
                headers={"Origin": ALLOWED, "Content-Type": "application/sdp"},
            ) as response,
        ):
            assert response.status == 201
            assert not [h for h in response.headers if h.lower().startswith("access-control-")]
            async with http.delete(f"{base}{response.headers['Location']}"):
                pass


async def test_allowed_origin_gets_preflights_and_readable_answers(make_gateway, emulator):
    base = await make_gateway(f"{ALLOWED}, https://other.example")
    camera = emulator.camera_ids[0]
    async with aiohttp.ClientSession() as http:
        for path, method in (
            (f"/whep/{camera}", "POST"),
            (f"/whip/{camera}/talk", "POST"),
            (f"/whep/{camera}/some-session", "DELETE"),
        ):
            async with http.options(f"{base}{path}", headers=preflight(ALLOWED, method)) as response:
                assert response.status == 204, path
                assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
                assert method in response.headers["Access-Control-Allow-Methods"]
                assert "authorization" in response.headers["Access-Control-Allow-Headers"].lower()
                assert "Origin" in response.headers["Vary"]
        async with http.options(f"{base}/whep/{camera}", headers=preflight("https://evil.example")) as response:
            assert response.status == 403
            assert "Access-Control-Allow-Origin" not in response.headers
        # An error is readable too, or a page could not tell "log in" from "network down".
        async with http.get(f"{base}/live/{camera}.mp4", headers={"Origin": ALLOWED}) as response:
            assert response.status == 401
            assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
            assert "WWW-Authenticate" in response.headers["Access-Control-Expose-Headers"]
        token = await mint(http, base, ["*"], ["view"])
        async with (
            viewer_offer() as offer,
            http.post(
                f"{base}/whep/{camera}",
                data=offer,
                headers={"Origin": ALLOWED, "Content-Type": "application/sdp", "Authorization": f"Bearer {token}"},
            ) as response,
        ):
            assert response.status == 201
            assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
            assert "Location" in response.headers["Access-Control-Expose-Headers"]
            async with http.delete(f"{base}{response.headers['Location']}", headers={"Origin": ALLOWED}) as gone:
                assert gone.status == 200
                assert gone.headers["Access-Control-Allow-Origin"] == ALLOWED
        # A streamed answer (headers sent by prepare()) carries it as well.
        async with http.get(
            f"{base}/live/{camera}.mp4", params={"token": token, "quality": "low"}, headers={"Origin": ALLOWED}
        ) as response:
            assert response.status == 200
            assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
            assert (await response.content.readexactly(8))[4:8] == b"ftyp"


async def test_any_origin(make_gateway, emulator):
    base = await make_gateway("*")
    async with (
        aiohttp.ClientSession() as http,
        http.options(f"{base}/whep/{emulator.camera_ids[0]}", headers=preflight("https://a.example")) as r,
    ):
        assert r.status == 204 and r.headers["Access-Control-Allow-Origin"] == "*"
