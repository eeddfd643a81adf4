"""alarmZones, arm and disarm (one zone, or a JSON array of ids); a disarmed zone raises nothing."""

from __future__ import annotations

import pytest

from tests.emulator.alta.api_client import items


async def test_zones_listed_with_their_devices(api):
    status, body = await api.get("/api/v1/alarmZones")
    assert status == 200
    assert items(body, "alarm_zones") == [
        {"id": 1, "name": "Warehouse Perimeter", "armed": True,
         "devices": [{"id": 101, "name": "Loading Dock North"}, {"id": 102, "name": "Loading Dock South"}]},
        {"id": 2, "name": "Main Office", "armed": True,
         "devices": [{"id": 201, "name": "Lobby Entrance"}, {"id": 202, "name": "Server Room Door"}]},
    ]  # fmt: skip
    status, zone = await api.get("/api/v1/alarmZones/2")
    assert status == 200 and zone["name"] == "Main Office"


async def test_arm_and_disarm_one_zone(alta, api):
    status, zone = await api.post("/api/v1/alarmZones/1/disarm")
    assert status == 200 and zone["id"] == 1 and zone["armed"] is False
    assert [z["armed"] for z in alta.zones()] == [False, True]
    status, zone = await api.post("/api/v1/alarmZones/1/arm")
    assert status == 200 and zone["armed"] is True


async def test_arm_and_disarm_many(alta, api):
    status, body = await api.post("/api/v1/alarmZones/disarm", json=[1, "2"])
    assert status == 200 and [z["armed"] for z in items(body, "alarm_zones")] == [False, False]
    status, body = await api.post("/api/v1/alarmZones/arm", json=[2])
    assert status == 200 and [z["id"] for z in items(body, "alarm_zones")] == [2]
    assert [z["armed"] for z in alta.zones()] == [False, True]


async def test_unknown_zones_404_and_change_nothing(alta, api):
    for path in ("/api/v1/alarmZones/9/arm", "/api/v1/alarmZones/9/disarm"):
        status, body = await api.post(path)
        assert status == 404 and body["message"] == "no alarm zone 9"
    status, body = await api.post("/api/v1/alarmZones/disarm", json=[1, 9])
    assert status == 404 and body["message"] == "no alarm zone 9"
    assert [z["armed"] for z in alta.zones()] == [True, True]  # all or none
    assert (await api.get("/api/v1/alarmZones/9"))[0] == 404


@pytest.mark.parametrize("body", [{"ids": [1]}, [True], [[1]], None])
async def test_many_needs_an_array_of_ids(api, body):
    status, answer = await api.post("/api/v1/alarmZones/arm", json=body)
    assert status == 400 and answer["message"] in ("body must be a JSON array of alarm zone ids", "body must be JSON")


async def test_a_disarmed_zone_raises_nothing(alta, api, make_receiver):
    receiver = await make_receiver()
    alta.set_webhook(receiver.url)
    await api.post("/api/v1/alarmZones/2/disarm")
    assert alta.raise_alarm(2) is None
    status, body = await api.post("/_emulator/alarms", json={"zone": 2})
    assert status == 200 and body == {"alert": None}
    await alta.webhooks_done()
    assert alta.alerts() == [] and receiver.posts == [] and alta.webhook_log == []
    _, ongoing = await api.get("/api/v1/ongoingAlerts")
    assert items(ongoing, "alerts") == []
    assert alta.stats["detections_ignored"] == 2
    await api.post("/api/v1/alarmZones/2/arm")
    assert alta.raise_alarm(2) is not None


async def test_disarming_does_not_end_ongoing_alerts(alta, api):
    alert = alta.raise_alarm(1)
    await api.post("/api/v1/alarmZones/1/disarm")
    assert not alta.ended(alert["guid"])


async def test_unknown_zone_or_device_is_a_key_error(alta):
    with pytest.raises(KeyError, match="no alarm zone 5"):
        alta.raise_alarm(5)
    with pytest.raises(KeyError, match="alarm zone 1 has no device 201"):
        alta.raise_alarm(1, 201)
