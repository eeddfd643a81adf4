"""Faults for the next N /api/v1 calls: an error status, garbage with a 200, a hang; never
/cloud or the control routes."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.emulator.alta.api_client import items


async def test_fail_next_n(alta, api):
    alta.fail_next(2)
    for _ in range(2):
        status, body = await api.get("/api/v1/ongoingAlerts")
        assert status == 500 and body == {"status": 500, "error": "Internal Server Error", "message": "injected fault"}
    assert (await api.get("/api/v1/ongoingAlerts"))[0] == 200
    assert alta.stats["faults"]["fail"] == 2 and alta.stats["faults_pending"] == 0


async def test_fail_with_another_status_hits_dologin_too(alta, make_client):
    client = await make_client(alta, login=False)
    alta.fail_next(1, status=503)
    status, body = await client.login()
    assert status == 503 and body["status"] == 503 and client.cookie() is None
    assert (await client.login())[0] == 200
    assert alta.logins == 1


@pytest.mark.parametrize("kind", ["html", "truncated", "shape"])
async def test_garbage_next_n(alta, api, kind):
    alert = alta.raise_alarm(1)
    alta.garbage_next(2, kind)
    for path in ("/api/v1/ongoingAlerts", f"/api/v1/alerts/{alert['guid']}/bookmarks"):
        async with api.http.get(alta.url + path) as resp:
            assert resp.status == 200
            text = await resp.text()
        if kind == "html":
            assert resp.content_type == "text/html" and text.startswith("<html>")
        elif kind == "truncated":
            assert resp.content_type == "application/json"
            with pytest.raises(ValueError):
                json.loads(text)
        else:
            body = json.loads(text)
            assert isinstance(body, dict) and "alerts" not in body and "bookmarks" not in body
            assert not any(isinstance(v, list) for v in body.values())
    status, body = await api.get("/api/v1/ongoingAlerts")
    assert status == 200 and [a["guid"] for a in items(body, "alerts")] == [alert["guid"]]


async def test_garbage_at_dologin_sets_no_cookie(alta, make_client):
    client = await make_client(alta, login=False)
    alta.garbage_next(1)
    status, body = await client.login()
    assert status == 200 and isinstance(body, str) and client.cookie() is None


async def test_hang_until_the_client_gives_up(alta, make_client):
    api = await make_client(alta, timeout=0.3)
    alta.hang_next(1, seconds=30)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await api.get("/api/v1/alarmZones")
    assert 0.25 < time.monotonic() - started < 2
    assert (await api.get("/api/v1/alarmZones"))[0] == 200


async def test_hang_then_serve(alta, api):
    alta.hang_next(2, seconds=0.2)
    started = time.monotonic()
    results = await asyncio.gather(api.get("/api/v1/alarmZones"), api.get("/api/v1/alerts"))
    assert [status for status, _ in results] == [200, 200]
    assert time.monotonic() - started >= 0.19
    assert alta.stats["faults"]["hang"] == 2


async def test_stop_releases_hung_calls(make_alta, make_client):
    alta = await make_alta()
    api = await make_client(alta)
    alta.hang_next(1, seconds=60)
    call = asyncio.create_task(api.get("/api/v1/alarmZones"))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await alta.stop()
    await asyncio.wait_for(asyncio.gather(call, return_exceptions=True), 3)
    assert time.monotonic() - started < 3


async def test_a_new_fault_replaces_the_last(alta, api):
    alta.fail_next(5)
    alta.garbage_next(1, "shape")
    assert (await api.get("/api/v1/alerts"))[0] == 200  # garbage, with a 200
    assert (await api.get("/api/v1/alerts"))[0] == 200
    assert alta.stats["faults"] == {"fail": 0, "garbage": 1, "hang": 0}


async def test_faults_spare_shared_links_and_control_routes(alta, api):
    alert = alta.raise_alarm(1)
    token = alta.bookmarks(alert["guid"])[0]["guest_token"]
    alta.fail_next(1)
    assert (await api.get("/cloud", params={"t": token}))[0] == 200
    assert (await api.get("/_emulator/stats"))[0] == 200
    assert (await api.get("/api/v1/alerts"))[0] == 500


async def test_faults_over_the_control_routes(alta, api):
    status, body = await api.post("/_emulator/fail", json={"count": 1, "status": 502})
    assert status == 200 and body == {"count": 1, "status": 502}
    assert (await api.get("/api/v1/alerts"))[0] == 502
    status, body = await api.post("/_emulator/garbage", json={"count": 1, "kind": "truncated"})
    assert status == 200 and body == {"count": 1, "kind": "truncated"}
    assert isinstance((await api.get("/api/v1/alerts"))[1], str)
    status, body = await api.post("/_emulator/hang", json={"count": 1, "seconds": 0.1})
    assert status == 200 and body == {"count": 1, "seconds": 0.1}
    assert (await api.get("/api/v1/alerts"))[0] == 200
    for path, body in (("/_emulator/fail", {}), ("/_emulator/fail", {"count": 1, "status": 200}),
                       ("/_emulator/garbage", {"count": 1, "kind": "xml"}), ("/_emulator/hang", {"count": "1"}),
                       ("/_emulator/hang", {"count": 1, "seconds": 0})):  # fmt: skip
        status, _ = await api.post(path, json=body)
        assert status == 400, (path, body)
