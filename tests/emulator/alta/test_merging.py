"""Guide: "Similar detections within a short space of time are merged into a single ongoing
alert." A detection within merge_window_s of the zone's alert's last one joins it."""

from __future__ import annotations

import asyncio

from tests.emulator.alta.api_client import items
from tests.emulator.alta.fake_clock import FakeClock


async def test_a_second_detection_within_the_window_merges(make_alta, make_client):
    alta = await make_alta(merge_window_s=0.5)
    api = await make_client(alta)
    first = alta.raise_alarm(1, 101)
    second = alta.raise_alarm(1, 102)
    assert second["guid"] == first["guid"]
    _, body = await api.get("/api/v1/ongoingAlerts")
    (alert,) = items(body, "alerts")
    assert alert["merged"] is True and alert["detections"] == 2
    assert alert["origin_name"] == "Loading Dock South" and alert["origin_id"] == 102  # the latest detection
    assert alert["created_at"] == first["created_at"] and alert["updated_at"] >= first["updated_at"]
    _, body = await api.get(f"/api/v1/alerts/{alert['guid']}/bookmarks")
    bookmarks = items(body, "bookmarks")
    assert [b["device_name"] for b in bookmarks] == ["Loading Dock North", "Loading Dock South"]
    assert len({b["guest_token"] for b in bookmarks}) == 2 and len({b["id"] for b in bookmarks}) == 2
    for bookmark in bookmarks:
        assert (await api.get("/cloud", params={"t": bookmark["guest_token"]}))[0] == 200


async def test_a_detection_after_the_window_is_a_new_alert(make_alta, make_client):
    alta = await make_alta(merge_window_s=0.2)
    api = await make_client(alta)
    first = alta.raise_alarm(1)
    await asyncio.sleep(0.3)
    second = alta.raise_alarm(1)
    assert second["guid"] != first["guid"] and second["merged"] is False
    _, body = await api.get("/api/v1/ongoingAlerts")
    assert [(a["guid"], a["detections"]) for a in items(body, "alerts")] == [(second["guid"], 1), (first["guid"], 1)]


async def test_the_window_counts_from_the_last_detection(make_alta):
    clock = FakeClock()
    alta = await make_alta(clock=clock, merge_window_s=30.0)
    guid = alta.raise_alarm(1)["guid"]
    for _ in range(3):  # 25 s apart: each within 30 s of the one before, 75 s in all
        clock.now += 25
        assert alta.raise_alarm(1)["guid"] == guid
    clock.now += 30.001
    assert alta.raise_alarm(1)["guid"] != guid
    assert alta.alert(guid)["detections"] == 4
    assert alta.stats["alerts_created"] == 2 and alta.stats["detections_merged"] == 3


async def test_zones_do_not_merge_with_each_other(alta):
    assert alta.raise_alarm(1)["guid"] != alta.raise_alarm(2)["guid"]
    assert [a["merged"] for a in alta.alerts()] == [False, False]


async def test_an_ended_alert_takes_no_more_detections(alta, api):
    first = alta.raise_alarm(2)
    await api.post(f"/api/v1/alerts/{first['guid']}/end")
    second = alta.raise_alarm(2)
    assert second["guid"] != first["guid"] and alta.alert(first["guid"])["detections"] == 1


async def test_merge_window_zero_never_merges(make_alta):
    clock = FakeClock()
    alta = await make_alta(clock=clock, merge_window_s=0.0)
    first = alta.raise_alarm(1)
    clock.now += 0.001
    assert alta.raise_alarm(1)["guid"] != first["guid"]
