"""The open choices as settings: lists wrapped or bare, ids as numbers or strings."""

from __future__ import annotations

import pytest

from tests.emulator.alta.api_client import items

LISTS = {"/api/v1/ongoingAlerts": "alerts", "/api/v1/alerts": "alerts", "/api/v1/alarmZones": "alarm_zones"}


async def test_wrapped_lists_by_default(alta, api):
    alert = alta.raise_alarm(1)
    for path, key in {**LISTS, f"/api/v1/alerts/{alert['guid']}/bookmarks": "bookmarks"}.items():
        _, body = await api.get(path)
        assert isinstance(body, dict) and list(body) == [key] and isinstance(body[key], list), path
    _, body = await api.post("/api/v1/alarmZones/arm", json=[1])
    assert list(body) == ["alarm_zones"]


async def test_bare_lists(make_alta, make_client):
    alta = await make_alta(envelope="bare")
    api = await make_client(alta)
    alert = alta.raise_alarm(1)
    for path in (*LISTS, f"/api/v1/alerts/{alert['guid']}/bookmarks"):
        _, body = await api.get(path)
        assert isinstance(body, list) and body, path
    _, body = await api.post("/api/v1/alarmZones/disarm", json=[2])
    assert isinstance(body, list) and body[0]["armed"] is False
    _, one = await api.get(f"/api/v1/alerts/{alert['guid']}")
    assert one["guid"] == alert["guid"]  # single objects are never wrapped


async def test_string_ids(make_alta, make_client):
    alta = await make_alta(ids="str")
    api = await make_client(alta)
    alert = alta.raise_alarm("2", "201")
    assert alert["alarm_zone_id"] == "2" and alert["origin_id"] == "201"
    _, body = await api.get("/api/v1/ongoingAlerts")
    assert items(body, "alerts")[0]["alarm_zone_id"] == "2"
    _, body = await api.get(f"/api/v1/alerts/{alert['guid']}/bookmarks")
    bookmark = items(body, "bookmarks")[0]
    assert bookmark["id"] == "1" and bookmark["device_id"] == "201"
    _, body = await api.get("/api/v1/alarmZones")
    zone = items(body, "alarm_zones")[0]
    assert zone["id"] == "1" and zone["devices"][0]["id"] == "101"
    status, body = await api.post("/api/v1/alarmZones/disarm", json=["1", 2])
    assert status == 200 and [z["id"] for z in items(body, "alarm_zones")] == ["1", "2"]


@pytest.mark.parametrize("ids", ["int", "str"])
async def test_ids_of_either_type_are_accepted(make_alta, ids):
    alta = await make_alta(ids=ids)
    assert alta.raise_alarm(1, 102)["guid"] == alta.raise_alarm("1", "102")["guid"]
