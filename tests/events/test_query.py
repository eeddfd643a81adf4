"""gateway/events/query.py: GET /api/v1/events' parameters, checked with messages that name
the parameter, and which events they select."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.events.model import Event
from gateway.events.query import DEFAULT_LIMIT, MAX_LIMIT, EventQuery, newest

NOON = datetime(2024, 5, 1, 12, 0, tzinfo=UTC).timestamp()


def event(event_id: str, at: float, camera: str | None = "front", event_type: str = "DEVICE_MOTION_START") -> Event:
    time = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return Event(event_id, camera, event_type, "start", time, "wep", at=at)


def refused(query: dict[str, str]) -> str:
    with pytest.raises(ValueError) as raised:
        EventQuery.parse(query)
    return str(raised.value)


# -- parse -----------------------------------------------------------------------------------------


def test_defaults():
    assert EventQuery.parse({}) == EventQuery(camera=None, types=frozenset(), start=None, end=None, limit=100)
    assert (DEFAULT_LIMIT, MAX_LIMIT) == (100, 1000)


def test_every_parameter():
    query = EventQuery.parse(
        {
            "camera": "front",
            "type": "DEVICE_MOTION_START,USER_LOGIN",
            "from": "2024-05-01T12:00:00Z",
            "to": "2024-05-01T13:00:00.500Z",
            "limit": "7",
            "token": "a viewer token",
        }
    )
    assert query == EventQuery("front", frozenset({"DEVICE_MOTION_START", "USER_LOGIN"}), NOON, NOON + 3600.5, 7)


def test_empty_camera_is_every_camera():
    assert EventQuery.parse({"camera": ""}).camera is None


def test_type_list_tolerates_spaces_and_empty_items():
    assert EventQuery.parse({"type": " DEVICE_MOTION_START , ,USER_LOGIN,"}).types == frozenset(
        {"DEVICE_MOTION_START", "USER_LOGIN"}
    )
    assert EventQuery.parse({"type": ""}).types == frozenset()


def test_from_with_an_offset_whose_plus_was_form_decoded_to_a_space():
    assert EventQuery.parse({"from": "2024-05-01T14:00:00 02:00"}).start == NOON
    assert EventQuery.parse({"from": "2024-05-01T14:00:00+02:00"}).start == NOON


def test_from_without_zone_is_utc():
    assert EventQuery.parse({"from": "2024-05-01T12:00:00"}).start == NOON


def test_from_equal_to_to_is_allowed():
    query = EventQuery.parse({"from": "2024-05-01T12:00:00Z", "to": "2024-05-01T14:00:00+02:00"})
    assert query.start == query.end == NOON


@pytest.mark.parametrize("limit", ["1", "1000", "0100"])
def test_limit_bounds(limit):
    assert EventQuery.parse({"limit": limit}).limit == int(limit)


@pytest.mark.parametrize(
    "query, message",
    [
        ({"cameras": "front"}, "unknown parameter(s): cameras"),
        ({"since": "x", "camera": "front", "after": "y"}, "unknown parameter(s): after, since"),
        (
            {"type": "device_motion_start"},
            ("type must be event type names like DEVICE_MOTION_START, got 'device_motion_start'"),
        ),
        ({"type": "USER_LOGIN,1ABC,DEVICE-X"}, "type must be event type names like DEVICE_MOTION_START, got '1ABC'"),
        ({"type": "D" * 129}, "type must be event type names like DEVICE_MOTION_START, got '" + "D" * 60 + "'"),
        ({"from": "yesterday"}, "from must be an ISO 8601 time such as 2024-05-01T12:00:00Z, got 'yesterday'"),
        ({"from": "2024-05-01"}, "from must be an ISO 8601 time such as 2024-05-01T12:00:00Z, got '2024-05-01'"),
        ({"from": ""}, "from must be an ISO 8601 time such as 2024-05-01T12:00:00Z, got ''"),
        (
            {"to": "2024-05-01T25:00:00Z"},
            ("to must be an ISO 8601 time such as 2024-05-01T12:00:00Z, got '2024-05-01T25:00:00Z'"),
        ),
        ({"to": "T" * 100}, "to must be an ISO 8601 time such as 2024-05-01T12:00:00Z, got '" + "T" * 60 + "'"),
        ({"from": "2024-05-01T12:00:00.001Z", "to": "2024-05-01T12:00:00Z"}, "from must not be after to"),
        ({"limit": "0"}, "limit must be a whole number from 1 to 1000"),
        ({"limit": "1001"}, "limit must be a whole number from 1 to 1000"),
        ({"limit": "abc"}, "limit must be a whole number from 1 to 1000"),
        ({"limit": ""}, "limit must be a whole number from 1 to 1000"),
        ({"limit": "-1"}, "limit must be a whole number from 1 to 1000"),
        ({"limit": "1.5"}, "limit must be a whole number from 1 to 1000"),
        ({"limit": " 5"}, "limit must be a whole number from 1 to 1000"),
    ],
)
def test_bad_parameter(query, message):
    assert refused(query) == message


@pytest.mark.parametrize("limit", ["²", "٣"])
def test_limit_of_non_ascii_digits(limit):
    assert refused({"limit": limit}) == "limit must be a whole number from 1 to 1000"


def test_from_out_of_datetime_range():
    assert refused({"from": "9999-12-31T23:59:59-01:00"}) == (
        "from must be an ISO 8601 time such as 2024-05-01T12:00:00Z, got '9999-12-31T23:59:59-01:00'"
    )


# -- matches ---------------------------------------------------------------------------------------


def test_empty_query_matches_everything():
    query = EventQuery()
    assert query.matches(event("a", NOON))
    assert query.matches(event("b", NOON, camera=None, event_type="USER_LOGIN"))


def test_matches_camera():
    query = EventQuery(camera="front")
    assert query.matches(event("a", NOON, camera="front"))
    assert not query.matches(event("b", NOON, camera="back"))
    assert not query.matches(event("c", NOON, camera=None))


def test_matches_types():
    query = EventQuery(types=frozenset({"DEVICE_MOTION_START", "USER_LOGIN"}))
    assert query.matches(event("a", NOON, event_type="DEVICE_MOTION_START"))
    assert query.matches(event("b", NOON, camera=None, event_type="USER_LOGIN"))
    assert not query.matches(event("c", NOON, event_type="DEVICE_MOTION_STOP"))


def test_matches_range_inclusive_at_both_ends():
    query = EventQuery(start=NOON, end=NOON + 60)
    assert query.matches(event("a", NOON))
    assert query.matches(event("b", NOON + 60))
    assert not query.matches(event("c", NOON - 0.001))
    assert not query.matches(event("d", NOON + 60.001))


def test_matches_open_ranges():
    assert EventQuery(start=NOON).matches(event("a", NOON + 10**6))
    assert not EventQuery(start=NOON).matches(event("b", NOON - 1))
    assert EventQuery(end=NOON).matches(event("c", 0))
    assert not EventQuery(end=NOON).matches(event("d", NOON + 1))


def test_matches_every_condition():
    query = EventQuery.parse({"camera": "front", "type": "DEVICE_MOTION_START", "from": "2024-05-01T12:00:00Z"})
    assert query.matches(event("a", NOON))
    assert not query.matches(event("b", NOON, camera="back"))
    assert not query.matches(event("c", NOON, event_type="USER_LOGIN"))
    assert not query.matches(event("d", NOON - 1))


# -- newest ----------------------------------------------------------------------------------------


def test_newest_first():
    events = [event("a", NOON + 1), event("b", NOON + 3), event("c", NOON + 2)]
    assert [e.id for e in newest(events, 10)] == ["b", "c", "a"]


def test_newest_dedupes_by_id():
    # The ring and WEP's search both hold the same event.
    ring = [event("wep:1", NOON + 1), event("wep:2", NOON + 2)]
    searched = [event("wep:0", NOON), event("wep:1", NOON + 1)]
    assert [e.id for e in newest(ring + searched, 10)] == ["wep:2", "wep:1", "wep:0"]


def test_newest_limit_keeps_the_newest():
    events = [event(str(n), NOON + n) for n in range(10)]
    assert [e.id for e in newest(events, 3)] == ["9", "8", "7"]
    assert [e.id for e in newest(events + events, 3)] == ["9", "8", "7"]


def test_newest_of_nothing():
    assert newest([], 5) == []
    assert newest(iter([event("a", NOON)]), 5) == [event("a", NOON)]
