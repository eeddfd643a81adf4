"""Alta's answers and webhook payloads, read whatever shape the guide leaves open."""

from __future__ import annotations

import json

import pytest

from gateway.backends.alta.readers import (
    AltaShapeError,
    items,
    read_alerts,
    read_bookmarks,
    read_zones,
    shared_link,
    webhook_ids,
)

ALERT = {
    "guid": "9f1c",
    "alarm_zone_id": 7,
    "alarm_zone_name": "Loading dock",
    "merged": False,
    "origin_name": "Dock camera",
    "updated_at": "2026-11-30T09:00:00Z",
}


@pytest.mark.parametrize(
    "payload",
    [
        [ALERT],
        {"data": [ALERT]},
        {"alerts": [ALERT]},
        {"ongoing_alerts": [ALERT], "total": 1},
        {"whatever_they_call_it": [ALERT], "page": 1},
    ],
)
def test_a_list_is_found_bare_or_wrapped(payload):
    [alert], unreadable = read_alerts(payload)
    assert (alert.guid, alert.zone_id, alert.zone_name, alert.merged, alert.origin_name) == (
        "9f1c",
        "7",
        "Loading dock",
        False,
        "Dock camera",
    )
    assert unreadable == 0


def test_ids_compare_as_text_and_unreadable_entries_are_counted():
    alerts, unreadable = read_alerts({"alerts": [{**ALERT, "alarm_zone_id": "7"}, {"guid": "x"}, "junk", ALERT]})
    assert [alert.zone_id for alert in alerts] == ["7", "7"]
    assert unreadable == 1  # "junk" is no object at all: not even an entry


@pytest.mark.parametrize("payload", ["text", 3, None, {"a": [1], "b": [2]}, {"nothing": {}}])
def test_no_list_is_a_clear_error(payload):
    with pytest.raises(AltaShapeError, match="expected a list"):
        items(payload, "ongoingAlerts")


def test_bookmarks_give_shared_links():
    bookmarks = read_bookmarks(
        {"bookmarks": [{"guest_token": "tok/en+1", "device_name": "Dock camera"}, {"no_token": True}]}
    )
    assert [b.guest_token for b in bookmarks] == ["tok/en+1"]
    assert (
        shared_link("https://site.eu.alta.avigilon.com/", "tok/en+1")
        == "https://site.eu.alta.avigilon.com/cloud?t=tok%2Fen%2B1"
    )


def test_zones():
    zones = read_zones([{"id": 7, "name": "Dock", "armed": True}, {"alarm_zone_id": "8"}, {"name": "no id"}])
    assert [zone.public() for zone in zones] == [
        {"id": "7", "name": "Dock", "armed": True},
        {"id": "8", "name": "8", "armed": None},
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (json.dumps({"alarmZoneId": 7, "deviceId": "cam-3"}).encode(), ("7", "cam-3")),
        (json.dumps({"alarm": {"alarmZoneId": "7"}}).encode(), ("7", None)),  # one level down
        (b"alarmZoneId=7&deviceId=cam-3", ("7", "cam-3")),  # form fields, whatever the content type said
    ],
)
def test_webhook_payloads(body, expected):
    assert webhook_ids(body, "alarmZoneId", "deviceId") == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "neither"),
        (b"\xff\xfe", "UTF-8"),
        (b"[1, 2]", "neither"),
        (json.dumps({"zone": 7}).encode(), "alarmZoneId"),
        (json.dumps({"alarmZoneId": True}).encode(), "alarmZoneId"),
    ],
)
def test_unreadable_payloads_say_what_is_missing(body, message):
    with pytest.raises(AltaShapeError, match=message):
        webhook_ids(body, "alarmZoneId", "deviceId")
