"""dologin and the session cookie: 200 with Set-Cookie, 401 and 400 refusals, expiry."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.emulator.alta.api_client import items
from tests.emulator.alta.fake_clock import FakeClock

PROTECTED = [("GET", "/api/v1/ongoingAlerts"), ("GET", "/api/v1/alerts"), ("GET", "/api/v1/alerts/x"),
             ("POST", "/api/v1/alerts/x"), ("POST", "/api/v1/alerts/x/end"), ("GET", "/api/v1/alerts/x/bookmarks"),
             ("GET", "/api/v1/alarmZones"), ("POST", "/api/v1/alarmZones/1/arm"), ("POST", "/api/v1/alarmZones/arm")]  # fmt: skip


async def test_login_sets_an_http_only_cookie(alta, make_client):
    client = await make_client(alta, login=False)
    async with client.http.post(
        alta.url + "/api/v1/dologin", json={"username": alta.settings.username, "password": alta.settings.password}
    ) as resp:
        assert resp.status == 200
        assert resp.content_type == "application/json"
        body = await resp.json()
        morsel = resp.cookies[alta.settings.cookie_name]
    assert body["user"]["email"] == "operator@example.com"
    assert morsel["httponly"] is True and morsel["path"] == "/"
    assert morsel["secure"] == ""  # plain HTTP; Secure under TLS
    assert len(morsel.value) >= 32
    assert client.cookie() == morsel.value
    status, body = await client.get("/api/v1/ongoingAlerts")
    assert status == 200 and items(body, "alerts") == []
    assert alta.logins == 1


async def test_username_is_an_email_matched_without_case(alta, make_client):
    client = await make_client(alta, login=False)
    assert (await client.login(username="Operator@Example.COM"))[0] == 200


async def test_wrong_credentials_401(alta, make_client):
    client = await make_client(alta, login=False)
    for username, password in (("operator@example.com", "wrong"), ("someone@example.com", alta.settings.password)):
        status, body = await client.login(username, password)
        assert status == 401
        assert body == {"status": 401, "error": "Unauthorized", "message": "invalid username or password"}
    assert client.cookie() is None
    assert alta.logins == 0 and alta.stats["login_failures"] == 2


async def test_bad_login_body_400(alta, make_client):
    client = await make_client(alta, login=False)
    for kwargs in ({"data": b"not json", "headers": {"Content-Type": "application/json"}},
                   {"json": ["operator@example.com", "x"]}, {"json": {"username": "operator@example.com"}},
                   {"json": {"username": 1, "password": "x"}}):  # fmt: skip
        status, body = await client.post("/api/v1/dologin", **kwargs)
        assert status == 400, kwargs
        assert body["status"] == 400 and body["error"] == "Bad Request" and body["message"]


async def test_every_route_needs_the_cookie(alta, make_client):
    client = await make_client(alta, login=False)
    for method, path in PROTECTED:
        status, body = await client.call(method, path, json={})
        assert status == 401, (method, path)
        assert body["status"] == 401 and body["message"].startswith("authentication required")
    cookie = {alta.settings.cookie_name: "forged-value"}
    status, _ = await client.get("/api/v1/ongoingAlerts", cookies=cookie)
    assert status == 401
    assert alta.stats["unauthorized"] == len(PROTECTED) + 1


async def test_the_cookie_works_without_a_jar(alta, make_client):
    """A client holding the value itself (as the gateway's may) sends it in a Cookie header."""
    logged = await make_client(alta)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        headers = {"Cookie": f"{alta.settings.cookie_name}={logged.cookie()}"}
        async with http.get(alta.url + "/api/v1/alarmZones", headers=headers) as resp:
            assert resp.status == 200


async def test_session_expires_after_ttl_and_a_new_login_works(make_alta, make_client):
    clock = FakeClock()
    alta = await make_alta(clock=clock, session_ttl=600)
    client = await make_client(alta)
    clock.now += 599.9
    assert (await client.get("/api/v1/alerts"))[0] == 200
    clock.now += 0.1
    assert (await client.get("/api/v1/alerts"))[0] == 401  # used or not: ttl counts from dologin
    assert (await client.login())[0] == 200
    assert (await client.get("/api/v1/alerts"))[0] == 200
    assert alta.logins == 2 and alta.stats["sessions"] == 1


async def test_session_expires_in_real_time(make_alta, make_client):
    alta = await make_alta(session_ttl=0.2)
    client = await make_client(alta)
    await asyncio.sleep(0.25)
    assert (await client.get("/api/v1/alerts"))[0] == 401


async def test_expire_sessions_on_demand(alta, make_client):
    first, second = await make_client(alta), await make_client(alta)
    assert alta.stats["sessions"] == 2
    assert alta.expire_sessions() == 2
    for client in (first, second):
        assert (await client.get("/api/v1/ongoingAlerts"))[0] == 401
    status, body = await first.post("/_emulator/expire")
    assert status == 200 and body == {"expired": 0}
    assert (await first.login())[0] == 200
    assert (await first.get("/api/v1/ongoingAlerts"))[0] == 200


async def test_cookie_name_is_a_setting(make_alta, make_client):
    alta = await make_alta(cookie_name="ALTASESSID")
    client = await make_client(alta)
    assert client.cookie() is not None
    assert (await client.get("/api/v1/alarmZones"))[0] == 200


async def test_tls(make_alta, make_client):
    import ssl

    alta = await make_alta(tls=True)
    assert alta.url.startswith("https://127.0.0.1:") and alta.cert_path
    client = await make_client(alta, login=False)
    context = ssl.create_default_context(cafile=alta.cert_path)
    s = alta.settings
    async with client.http.post(alta.url + "/api/v1/dologin", json={"username": s.username, "password": s.password},
                                ssl=context) as resp:  # fmt: skip
        assert resp.status == 200
        assert resp.cookies[s.cookie_name]["secure"] is True


async def test_unknown_api_route_is_a_json_404(api):
    status, body = await api.get("/api/v1/nothingHere")
    assert status == 404 and body["status"] == 404 and body["error"] == "Not Found"
    status, body = await api.call("DELETE", "/api/v1/alerts")
    assert status == 405 and body["status"] == 405
