"""Login, sessions, cameras and the error envelope, through real HTTP (and accapi)."""

import asyncio
import ssl
import time

import aiohttp
import pytest
from accapi.client import AccClientFactory

from gateway.emulator.auth_token import make_token
from tests.emulator.conftest import api, assert_envelope, login, login_body


async def test_health_is_plain_good(emulator, http):
    async with http.get(api(emulator, "health")) as resp:
        assert resp.status == 200
        assert resp.content_type == "text/plain"
        assert await resp.text() == "GOOD"


async def test_accapi_third_party_client_logs_in_and_lists_cameras(emulator):
    s = emulator.settings

    def use_accapi():
        client = AccClientFactory(s.user_nonce, s.user_key).create(emulator.url, s.username, s.password)
        return client.get_cameras(verbosity="LOW")

    cameras = await asyncio.get_running_loop().run_in_executor(None, use_accapi)
    assert [c["id"] for c in cameras] == emulator.camera_ids
    assert all(c["connectionState"] == "CONNECTED" and c["model"] for c in cameras)
    assert "capabilities" not in cameras[0]  # LOW leaves capabilities out
    assert emulator.stats["logins"] == 1


@pytest.mark.parametrize(
    "override, message",
    [
        ({"password": "wrong"}, "invalid username or password"),
        ({"username": "nobody"}, "invalid username or password"),
        ({"authorizationToken": make_token("wep-emulator-nonce", "other-key", int(time.time()))}, "hash"),
        (
            {"authorizationToken": make_token("wep-emulator-nonce", "wep-emulator-key", int(time.time()) - 7200)},
            "window",
        ),
    ],
)
async def test_wrong_credentials_or_token_get_the_401_envelope(emulator, http, override, message):
    async with http.post(api(emulator, "login"), json=login_body(emulator, **override)) as resp:
        assert resp.status == 401
        body = await resp.json()
    assert_envelope(body, 401, "UNAUTHORIZED")
    assert message in body["message"]
    assert "wep-emulator-key" not in body["message"]  # secrets never echoed
    assert emulator.stats["login_failures"] == 1


async def test_session_from_query_header_and_body_and_logout(emulator, http):
    session = await login(http, emulator)
    async with http.get(api(emulator, "cameras"), headers={"x-avg-session": session}) as resp:
        assert resp.status == 200
    cid = emulator.camera_ids[1]
    async with http.get(api(emulator, "camera"), params={"session": session, "ids": cid, "verbosity": "HIGH"}) as resp:
        cameras = (await resp.json())["result"]["cameras"]
    assert [c["id"] for c in cameras] == [cid]
    assert cameras[0]["capabilities"]["speaker"] is False  # the last camera is the plain one
    async with http.get(api(emulator, "camera"), params={"session": session, "id": "nope"}) as resp:
        assert_envelope(await resp.json(), 404, "NOT_FOUND")
    async with http.post(api(emulator, "logout"), json={"session": session}) as resp:
        assert resp.status == 200
    async with http.get(api(emulator, "cameras"), params={"session": session}) as resp:
        assert_envelope(await resp.json(), 401, "UNAUTHORIZED")


async def test_idle_session_expires_but_not_while_streaming(make_emulator, http):
    emulator = await make_emulator(session_idle_expiry=0.5)
    idle = await login(http, emulator)
    streaming = await login(http, emulator)
    cid = emulator.camera_ids[0]
    async with http.get(api(emulator, "media"), params={"session": streaming, "cameraId": cid}) as stream:
        assert stream.status == 200
        await asyncio.sleep(1.0)
        async with http.get(api(emulator, "cameras"), params={"session": idle}) as resp:
            assert resp.status == 401
            assert_envelope(await resp.json(), 401, "UNAUTHORIZED")
        async with http.get(api(emulator, "cameras"), params={"session": streaming}) as resp:
            assert resp.status == 200


async def test_every_error_is_the_envelope(emulator, http):
    session = await login(http, emulator)
    cid = emulator.camera_ids[0]
    cases = [
        ("GET", "no/such/route", {}, 404, "NOT_FOUND"),
        ("GET", "cameras", {}, 401, "UNAUTHORIZED"),
        ("GET", "media", {"session": session}, 400, "BAD_REQUEST"),
        ("GET", "media", {"session": session, "cameraId": "unknown"}, 404, "NOT_FOUND"),
        ("GET", "media", {"session": session, "cameraId": cid, "format": "avi"}, 400, "BAD_REQUEST"),
        ("GET", "media", {"session": session, "cameraId": cid, "t": "not-a-time"}, 400, "BAD_REQUEST"),
        ("GET", "media", {"session": session, "cameraId": cid, "quality": "ultra"}, 400, "BAD_REQUEST"),
        ("GET", "cameras", {"session": session, "verbosity": "LOUD"}, 400, "BAD_REQUEST"),
        ("DELETE", "cameras", {"session": session}, 405, "METHOD_NOT_ALLOWED"),
    ]
    for method, path, params, status, name in cases:
        async with http.request(method, api(emulator, path), params=params) as resp:
            assert resp.status == status, (path, params)
            assert_envelope(await resp.json(), status, name)
    async with http.post(
        api(emulator, "login"), data=b"{not json", headers={"Content-Type": "application/json"}
    ) as resp:
        assert_envelope(await resp.json(), 400, "BAD_REQUEST")


async def test_https_with_the_self_signed_certificate(make_emulator):
    emulator = await make_emulator(tls=True)
    assert emulator.url.startswith("https://127.0.0.1:")
    context = ssl.create_default_context(cafile=emulator.cert_path)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as http:
        session = await login(http, emulator)
        async with http.get(api(emulator, "cameras"), params={"session": session}) as resp:
            assert len((await resp.json())["result"]["cameras"]) == 2
    async with aiohttp.ClientSession() as untrusting:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await untrusting.get(api(emulator, "health"))
