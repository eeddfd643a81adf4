"""ongoingAlerts, alerts, one alert, verify, end and bookmarks over HTTP, with their refusals."""

from __future__ import annotations

import re

import aiohttp
import pytest

from tests.emulator.alta.api_client import items

GUIDE_KEYS = {"guid", "alarm_zone_id", "alarm_zone_name", "merged", "origin_name", "origin_id", "created_at",
              "updated_at", "detections", "acknowledgment_code", "state"}  # fmt: skip
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def verify_body(alert: dict, code: int = 201, **overrides) -> dict:
    body = {"acknowledgment_code": code, "guid": alert["guid"], "merged": alert["merged"],
            "origin_name": alert["origin_name"]}  # fmt: skip
    body.update(overrides)
    return body


async def test_an_alarm_shows_as_an_ongoing_alert(alta, api):
    raised = alta.raise_alarm(2, 202)
    status, body = await api.get("/api/v1/ongoingAlerts")
    assert status == 200
    (alert,) = items(body, "alerts")
    assert GUIDE_KEYS <= alert.keys()
    assert alert == raised
    assert alert["alarm_zone_id"] == 2 and alert["alarm_zone_name"] == "Main Office"
    assert alert["origin_id"] == 202 and alert["origin_name"] == "Server Room Door"
    assert alert["merged"] is False and alert["detections"] == 1
    assert alert["acknowledgment_code"] is None and alert["state"] == "ongoing"
    assert ISO_MS.match(alert["created_at"]) and alert["updated_at"] == alert["created_at"]
    assert re.fullmatch(r"[0-9a-f-]{36}", alert["guid"])
    status, one = await api.get(f"/api/v1/alerts/{alert['guid']}")
    assert status == 200 and one == alert


async def test_default_device_is_the_zones_first(alta):
    assert alta.raise_alarm(1)["origin_name"] == "Loading Dock North"


async def test_alerts_lists_ended_ones_too_newest_first(alta, api):
    first = alta.raise_alarm(1)
    second = alta.raise_alarm(2)
    assert (await api.post(f"/api/v1/alerts/{first['guid']}/end"))[0] == 200
    _, ongoing = await api.get("/api/v1/ongoingAlerts")
    assert [a["guid"] for a in items(ongoing, "alerts")] == [second["guid"]]
    _, every = await api.get("/api/v1/alerts")
    listed = items(every, "alerts")
    assert [a["guid"] for a in listed] == [second["guid"], first["guid"]]
    assert [a["state"] for a in listed] == ["ongoing", "ended"]


async def test_unknown_alert_404(api):
    for method, path in (("GET", "/api/v1/alerts/nope"), ("GET", "/api/v1/alerts/nope/bookmarks"),
                         ("POST", "/api/v1/alerts/nope/end")):  # fmt: skip
        status, body = await api.call(method, path)
        assert status == 404 and body == {"status": 404, "error": "Not Found", "message": "no alert nope"}
    status, _ = await api.post("/api/v1/alerts/nope", json={"acknowledgment_code": 201, "guid": "nope",
                                                            "merged": False, "origin_name": "x"})  # fmt: skip
    assert status == 404


@pytest.mark.parametrize("code", [101, 201, 202])
async def test_verify_stores_the_code_and_logs_the_body(alta, api, code):
    alert = alta.raise_alarm(1, 102)
    body = verify_body(alert, code)
    status, answer = await api.post(f"/api/v1/alerts/{alert['guid']}", json=body)
    assert status == 200
    assert answer["acknowledgment_code"] == code
    assert answer["acknowledged_by"] == "operator@example.com" and ISO_MS.match(answer["acknowledged_at"])
    assert alta.alert(alert["guid"])["acknowledgment_code"] == code
    assert alta.verifications(alert["guid"]) == [body]
    _, shown = await api.get(f"/api/v1/alerts/{alert['guid']}")
    assert shown["acknowledgment_code"] == code and shown["state"] == "ongoing"


async def test_every_verify_is_kept_and_the_latest_code_wins(alta, api):
    alert = alta.raise_alarm(1)
    for code in (201, 202):
        assert (await api.post(f"/api/v1/alerts/{alert['guid']}", json=verify_body(alert, code)))[0] == 200
    assert [v["acknowledgment_code"] for v in alta.verifications(alert["guid"])] == [201, 202]
    assert alta.alert(alert["guid"])["acknowledgment_code"] == 202
    assert alta.stats["verifications"] == 2


async def test_verify_refusals(alta, api):
    alert = alta.raise_alarm(1)
    other = alta.raise_alarm(2)
    path = f"/api/v1/alerts/{alert['guid']}"
    bad = [
        ({"guid": alert["guid"], "merged": False, "origin_name": "x"}, "missing acknowledgment_code"),
        ({"acknowledgment_code": 201, "merged": False}, "missing guid, origin_name"),
        (verify_body(alert, 200), "acknowledgment_code must be 101 (none), 201 (valid) or 202 (false), not 200"),
        (verify_body(alert, "201"), "acknowledgment_code must be 101 (none), 201 (valid) or 202 (false), not '201'"),
        (verify_body(alert, True), "acknowledgment_code must be 101 (none), 201 (valid) or 202 (false), not True"),
        (verify_body(alert, guid=other["guid"]), f"guid {other['guid']!r} does not match the alert {alert['guid']}"),
        (verify_body(alert, merged="no"), "merged must be true or false"),
        (verify_body(alert, origin_name=None), "origin_name must be a string"),
        ([201], "body must be a JSON object"),
    ]
    for body, message in bad:
        status, answer = await api.post(path, json=body)
        assert (status, answer["message"]) == (400, message), body
    status, answer = await api.post(path, data=b"{", headers={"Content-Type": "application/json"})
    assert (status, answer["message"]) == (400, "body must be JSON")
    assert alta.verifications(alert["guid"]) == [] and alta.alert(alert["guid"])["acknowledgment_code"] is None
    assert alta.stats["refused"] == len(bad) + 1


async def test_verify_does_not_compare_merged_or_origin(alta, api):
    """The alert may have merged again since the caller read it: logged as sent."""
    alert = alta.raise_alarm(1)
    body = verify_body(alert, 201, merged=True, origin_name="somewhere else")
    assert (await api.post(f"/api/v1/alerts/{alert['guid']}", json=body))[0] == 200
    assert alta.verifications(alert["guid"]) == [body]


async def test_end(alta, api):
    alert = alta.raise_alarm(2)
    status, ended = await api.post(f"/api/v1/alerts/{alert['guid']}/end")
    assert status == 200 and ended["state"] == "ended" and ISO_MS.match(ended["ended_at"])
    assert alta.ended(alert["guid"])
    _, ongoing = await api.get("/api/v1/ongoingAlerts")
    assert items(ongoing, "alerts") == []
    status, body = await api.post(f"/api/v1/alerts/{alert['guid']}/end")
    assert status == 409 and body["message"] == f"alert {alert['guid']} has already ended"
    status, body = await api.post(f"/api/v1/alerts/{alert['guid']}", json=verify_body(alert))
    assert status == 409 and body["message"] == f"alert {alert['guid']} has ended"
    status, _ = await api.get(f"/api/v1/alerts/{alert['guid']}/bookmarks")
    assert status == 200  # the video stays


async def test_ending_again_can_be_idempotent(make_alta, make_client):
    alta = await make_alta(end_again="ok")
    api = await make_client(alta)
    alert = alta.raise_alarm(1)
    first = await api.post(f"/api/v1/alerts/{alert['guid']}/end")
    second = await api.post(f"/api/v1/alerts/{alert['guid']}/end")
    assert first[0] == second[0] == 200 and first[1] == second[1]


async def test_a_new_detection_after_the_end_is_a_new_alert(alta):
    first = alta.raise_alarm(1)
    alta.book.end(first["guid"], again_ok=False)
    second = alta.raise_alarm(1)
    assert second["guid"] != first["guid"] and second["merged"] is False


async def test_bookmarks_and_their_shared_links(alta, api):
    alert = alta.raise_alarm(2, 201)
    status, body = await api.get(f"/api/v1/alerts/{alert['guid']}/bookmarks")
    assert status == 200
    (bookmark,) = items(body, "bookmarks")
    assert {"id", "guest_token", "device_id", "device_name", "start", "end"} <= bookmark.keys()
    assert bookmark["device_id"] == 201 and bookmark["device_name"] == "Lobby Entrance"
    assert isinstance(bookmark["id"], int)
    assert ISO_MS.match(bookmark["start"]) and bookmark["start"] < bookmark["end"]
    assert len(bookmark["guest_token"]) >= 32 and re.fullmatch(r"[A-Za-z0-9_-]+", bookmark["guest_token"])
    # Guide: the link is <deployment>/cloud?t=<guest_token>; it needs no login.
    async with aiohttp.ClientSession() as guest:
        async with guest.get(f"{alta.url}/cloud", params={"t": bookmark["guest_token"]}) as resp:
            assert resp.status == 200 and resp.content_type == "text/html"
            page = await resp.text()
        async with guest.get(f"{alta.url}/cloud", params={"t": bookmark["guest_token"] + "x"}) as resp:
            assert resp.status == 404 and "invalid" in await resp.text()
        async with guest.get(f"{alta.url}/cloud") as resp:
            assert resp.status == 404
    assert '<dd id="zone">Main Office</dd>' in page and '<dd id="device">Lobby Entrance</dd>' in page
    assert f'<dd id="start">{bookmark["start"]}</dd>' in page and f'<dd id="end">{bookmark["end"]}</dd>' in page
    assert alert["guid"] in page
    assert alta.stats["cloud_views"] == 1


async def test_shared_link_page_escapes_names(make_alta, make_client):
    from gateway.emulator.alta import DeviceSpec, ZoneSpec

    alta = await make_alta(zones=(ZoneSpec(7, "Yard <north> & gate", (DeviceSpec(70, 'Cam "A"'),)),))
    api = await make_client(alta)
    alert = alta.raise_alarm(7)
    (bookmark,) = items((await api.get(f"/api/v1/alerts/{alert['guid']}/bookmarks"))[1], "bookmarks")
    _, page = await api.get("/cloud", params={"t": bookmark["guest_token"]})
    assert "Yard &lt;north&gt; &amp; gate" in page and "Cam &quot;A&quot;" in page
