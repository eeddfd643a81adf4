"""The event log with a fake clock: shapes, START/STOP links, ACTIVE, pages and tokens."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.emulator.cameras import SERVER_ID
from gateway.emulator.event_log import EventLog, EventQuery, decode_token, encode_token, iso_ms, parse_iso_ms


class Clock:
    def __init__(self):
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        self.now += 0.5
        return self.now


def test_events_have_the_guide_shape_and_stop_links_start():
    log = EventLog(100, Clock())
    start = log.append("DEVICE_MOTION_START", "cam1")
    assert start == {"thisId": "1", "timestamp": iso_ms(1_700_000_000_500), "type": "DEVICE_MOTION_START",
                     "cameraId": "cam1", "linkedEventId": "-1", "originatingEventId": "1",
                     "originatingServerId": SERVER_ID, "originatingServerName": "WEP-EMULATOR"}  # fmt: skip
    assert start["timestamp"] == "2023-11-14T22:13:20.500Z"
    stop = log.append("DEVICE_MOTION_STOP", "cam1")
    assert stop["linkedEventId"] == "1"
    assert log.events()[0]["linkedEventId"] == "2"  # the logged START now links its STOP
    assert start["linkedEventId"] == "-1"  # what was already handed out is not changed
    assert "linkedEventId" not in log.append("USER_LOGIN", userName="admin")
    with pytest.raises(ValueError, match="thisId"):
        log.append("USER_LOGIN", thisId="9")


def test_active_is_what_started_and_has_not_stopped():
    log = EventLog(100, Clock())
    log.append("DEVICE_RECORDING_STARTED", "cam1")
    log.append("DEVICE_MOTION_START", "cam1")
    log.append("DEVICE_MOTION_START", "cam2")
    log.append("DEVICE_MOTION_STOP", "cam1")
    log.append("DEVICE_DIGITAL_INPUT_ON", "cam2")
    log.append("ALARM_TRIGGERED", "cam1", alarmId="a1", alarmName="Door")
    log.append("ALARM_TRIGGERED", None, alarmId="a2", alarmName="Gate")
    log.append("ALARM_CLAIMED", None, alarmId="a2", alarmName="Gate")
    log.append("ALARM_ACKNOWLEDGED", "cam1", alarmId="a1", alarmName="Door")
    assert [e["thisId"] for e in log.active()] == ["1", "3", "5", "7"]


def test_pages_return_every_match_once_in_order_and_survive_a_token_round_trip():
    clock = Clock()
    log = EventLog(100, clock)
    for i in range(30):
        log.append("DEVICE_MOTION_START" if i % 3 else "USER_LOGIN", f"cam{i % 2}" if i % 3 else None)
    query = EventQuery(0, 2**53, ("DEVICE",), ("cam1",), limit=4)
    expected = [e["thisId"] for e in log.events() if e["type"].startswith("DEVICE") and e.get("cameraId") == "cam1"]
    seen, after = [], 0
    while True:
        events, more = log.search(query, after)
        seen += [e["thisId"] for e in events]
        if more is None:
            break
        query, after = decode_token(encode_token(query, more))
        assert len(events) == 4
    assert seen == expected


def test_time_bounds_are_inclusive_to_the_millisecond():
    log = EventLog(10, Clock())
    events = [log.append("USER_LOGIN") for _ in range(5)]
    lo, hi = parse_iso_ms(events[1]["timestamp"]), parse_iso_ms(events[3]["timestamp"])
    assert [e["thisId"] for e in log.search(EventQuery(lo, hi))[0]] == ["2", "3", "4"]


def test_the_log_is_bounded_and_searches_what_remains():
    log = EventLog(3, Clock())
    for _ in range(5):
        log.append("DEVICE_MOTION_START", "cam")
    assert [e["thisId"] for e in log.events()] == ["3", "4", "5"]
    assert [e["thisId"] for e in log.search(EventQuery(0, 2**53), after_seq=1)[0]] == ["3", "4", "5"]
    assert [e["thisId"] for e in log.active()] == ["5"]


@pytest.mark.parametrize("token", ["", "!!!", "bm90IGpzb24=", "e30="])
def test_foreign_tokens_are_refused(token):
    with pytest.raises(ValueError, match="token"):
        decode_token(token)


@given(st.integers(0, 4_000_000_000_000))
def test_timestamps_round_trip_to_the_millisecond(ms):
    assert parse_iso_ms(iso_ms(ms)) == ms
