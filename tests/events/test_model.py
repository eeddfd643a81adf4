"""gateway/events/model.py: WEP's event entries (the guide's own samples) and camera events
into the one `Event` shape."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from gateway.backends.base import CameraEvent
from gateway.events.model import (
    MAX_TYPE,
    Event,
    EventError,
    TopicFilter,
    family_of,
    from_camera_event,
    from_wep,
    links,
    state_of,
)

CAMERA = "4xIx1DMwMLSwMDUyMLewSNRLTsw1MBASWFrTcl-dw2XC-okhjeq33H8CAA"
SERVER = "pXyE3ycIRJCvkVSBJ9pH-Q"

# Guide, /events/search with eventTopics=DEVICE_MOTION_START (the PDF's line breaks inside
# strings joined again).
MOTION_START = {
    "thisId": "64227",
    "linkedEventId": "64229",
    "timestamp": "2020-01-27T19:00:20.674Z",
    "recordTriggerParams": {
        "prePostRecordTime": "1970-01-01T00:00:05.000Z",
        "isPrePost": True,
        "triggerJiffy": 2989741156,
        "isTriggerJiffy": True,
    },
    "originatingEventId": "64227",
    "originatingServerName": "SULLAH-01",
    "type": "DEVICE_MOTION_START",
    "originatingServerId": SERVER,
    "cameraId": CAMERA,
}

# Guide, /events/search with eventTopics=USER_LOGIN: a server event, no camera.
USER_LOGIN = {
    "userName": "administrator",
    "clientId": "5k7vJVskRP26_6fgZGgldQ",
    "clientName": "string",
    "userUuid": "TZ6shHLARv-_iI3yRVfLVw",
    "clientType": 9,
    "clientIp": {"addrType": "ADDR_IP_V4", "addrIpV4": "10.89.121.200"},
    "thisId": "64430",
    "timestamp": "2020-01-27T20:07:57.078Z",
    "originatingEventId": "64430",
    "originatingServerName": "SULLAH-01",
    "type": "USER_LOGIN",
    "originatingServerId": SERVER,
}

MOTION_AT = datetime(2020, 1, 27, 19, 0, 20, 674000, tzinfo=UTC).timestamp()


def entry(**changes) -> dict:
    raw = copy.deepcopy(MOTION_START)
    for key, value in changes.items():
        if value is ...:
            del raw[key]
        else:
            raw[key] = value
    return raw


def rejected(raw) -> str:
    with pytest.raises(EventError) as raised:
        from_wep(raw)
    return str(raised.value)


# -- from_wep: the guide's samples -------------------------------------------------------------


def test_motion_start_sample():
    event = from_wep(MOTION_START)
    assert event == Event(
        id="wep:64227",
        camera=CAMERA,
        type="DEVICE_MOTION_START",
        state="start",
        time="2020-01-27T19:00:20.674Z",
        source="wep",
        data={
            "linkedEventId": "64229",
            "recordTriggerParams": MOTION_START["recordTriggerParams"],
            "originatingEventId": "64227",
            "originatingServerName": "SULLAH-01",
            "originatingServerId": SERVER,
        },
        links={},
        at=MOTION_AT,
    )
    assert event.family == "motion"


def test_motion_start_data_keeps_raw_fields_but_not_the_lifted_ones():
    data = from_wep(MOTION_START).data
    assert set(data) == set(MOTION_START) - {"thisId", "type", "timestamp", "cameraId"}
    assert all(data[key] == MOTION_START[key] for key in data)


def test_from_wep_does_not_change_its_input():
    raw = copy.deepcopy(MOTION_START)
    from_wep(raw)
    assert raw == MOTION_START


def test_user_login_sample_has_no_camera():
    event = from_wep(USER_LOGIN)
    assert (event.id, event.camera, event.type, event.state, event.time, event.source) == (
        "wep:64430",
        None,
        "USER_LOGIN",
        "pulse",
        "2020-01-27T20:07:57.078Z",
        "wep",
    )
    assert event.family == "user"
    assert event.data["userName"] == "administrator"
    assert event.data["clientIp"] == {"addrType": "ADDR_IP_V4", "addrIpV4": "10.89.121.200"}
    assert "thisId" not in event.data and "timestamp" not in event.data and "type" not in event.data


@pytest.mark.parametrize("camera", ["", None, 17, ["a"]])
def test_camera_that_is_not_a_name_is_none(camera):
    event = from_wep(entry(cameraId=camera))
    assert event.camera is None
    assert "cameraId" not in event.data


def test_integer_this_id():
    assert from_wep(entry(thisId=64227)).id == "wep:64227"
    assert from_wep(entry(thisId=0)).id == "wep:0"


# -- states and families -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "event_type, state",
    [
        ("DEVICE_MOTION_START", "start"),
        ("DEVICE_RECORDING_STARTED", "start"),
        ("DEVICE_DIGITAL_INPUT_ON", "start"),
        ("DEVICE_MOTION_STOP", "stop"),
        ("DEVICE_RECORDING_STOPPED", "stop"),
        ("DEVICE_ANALYTICS_END", "stop"),
        ("DEVICE_DIGITAL_INPUT_OFF", "stop"),
        ("USER_LOGIN", "pulse"),
        ("ALARM_TRIGGERED", "pulse"),
        ("DEVICE_CONNECTION", "pulse"),  # ends in "ON" but not "_ON"
        ("DEVICE_BACKSTOP", "pulse"),  # ends in "STOP" but not "_STOP"
    ],
)
def test_state_of(event_type, state):
    assert state_of(event_type) == state
    assert from_wep(entry(type=event_type)).state == state


@pytest.mark.parametrize(
    "event_type, family",
    [
        ("DEVICE_MOTION_START", "motion"),
        ("DEVICE_MOTION_STOP", "motion"),
        ("DEVICE_ANALYTICS_START", "analytics"),
        ("DEVICE_ANALYTICS_STOP", "analytics"),
        ("ALARM_TRIGGERED", "alarm"),
        ("ALARM_ACKNOWLEDGED", "alarm"),
        ("DEVICE_DIGITAL_INPUT_ON", "device"),
        ("DEVICE_RECORDING_STOPPED", "device"),
        ("AMCREST_VIDEO_LOSS", "device"),
        ("USER_LOGIN", "user"),
        ("USER_LOGIN_FAILURE", "user"),
        ("SERVER_STARTED", "system"),
        ("STORAGE_FULL", "system"),
        ("", "system"),
    ],
)
def test_family_of(event_type, family):
    assert family_of(event_type) == family


# -- times ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "timestamp, time",
    [
        ("2020-01-27T19:00:20.674Z", "2020-01-27T19:00:20.674Z"),
        ("2020-01-27T19:00:20Z", "2020-01-27T19:00:20.000Z"),
        ("2020-01-27T19:00:20.674123Z", "2020-01-27T19:00:20.674Z"),
        ("2020-01-27T21:00:20.674+02:00", "2020-01-27T19:00:20.674Z"),
        ("2020-01-27T14:30:20.674-04:30", "2020-01-27T19:00:20.674Z"),
        ("2020-01-27T19:00:20.674+00:00", "2020-01-27T19:00:20.674Z"),
        ("2020-01-27T19:00:20.674", "2020-01-27T19:00:20.674Z"),  # no zone: read as UTC
    ],
)
def test_time_is_normalised_to_utc_with_milliseconds(timestamp, time):
    event = from_wep(entry(timestamp=timestamp))
    assert event.time == time
    assert datetime.fromtimestamp(event.at, UTC).isoformat(timespec="milliseconds") == time.replace("Z", "+00:00")


def test_at_orders_like_time():
    early = from_wep(entry(timestamp="2020-01-27T21:00:20.674+02:00"))
    late = from_wep(entry(timestamp="2020-01-27T19:00:20.675Z"))
    assert early.at == MOTION_AT
    assert late.at > early.at


# -- entries that are not events -----------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, [], [MOTION_START], "DEVICE_MOTION_START", 64227, True])
def test_not_an_object(raw):
    assert rejected(raw) == "event is not a JSON object"


@pytest.mark.parametrize("this_id", [..., None, "", True, False, 1.5, [], {}])
def test_no_this_id(this_id):
    assert rejected(entry(thisId=this_id)) == "event has no thisId"


@pytest.mark.parametrize("event_type", [..., None, "", 7, ["DEVICE_MOTION_START"], "D" * (MAX_TYPE + 1)])
def test_no_type(event_type):
    assert rejected(entry(type=event_type)) == "event has no type"


def test_longest_type_accepted():
    assert from_wep(entry(type="D" * MAX_TYPE)).type == "D" * MAX_TYPE


@pytest.mark.parametrize(
    "timestamp, message",
    [
        (..., "time None is not an ISO 8601 time"),
        (None, "time None is not an ISO 8601 time"),
        (1580151620674, "time 1580151620674 is not an ISO 8601 time"),
        ("", "time '' is not an ISO 8601 time"),
        ("yesterday", "time 'yesterday' is not an ISO 8601 time"),
        ("2020-01-27", "time '2020-01-27' is not an ISO 8601 time"),  # a date is not a time
        ("2020-13-27T19:00:20Z", "time '2020-13-27T19:00:20Z' is not an ISO 8601 time"),
        ("2020-01-27T19:00:20.674 Z", "time '2020-01-27T19:00:20.674 Z' is not an ISO 8601 time"),
        ("2020-01-27T" + "9" * 100, "time '2020-01-27T" + "9" * 45 + "... is not an ISO 8601 time"),
    ],
)
def test_bad_timestamp(timestamp, message):
    assert rejected(entry(timestamp=timestamp)) == message


@pytest.mark.parametrize("timestamp", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:30:00+01:00"])
def test_timestamp_out_of_range_is_an_event_error(timestamp):
    assert rejected(entry(timestamp=timestamp)) == f"time {timestamp!r} is not an ISO 8601 time"


# -- camera events -------------------------------------------------------------------------------


def test_from_camera_event():
    camera_event = CameraEvent(
        id="17",
        camera="front",
        type="DEVICE_MOTION_START",
        state="start",
        time="2024-05-01T14:00:00.5+02:00",
        source="amcrest",
        data={"Code": "VideoMotion", "action": "Start", "index": 0},
    )
    event = from_camera_event(camera_event)
    assert event == Event(
        id="amcrest:17",
        camera="front",
        type="DEVICE_MOTION_START",
        state="start",
        time="2024-05-01T12:00:00.500Z",
        source="amcrest",
        data={"Code": "VideoMotion", "action": "Start", "index": 0},
        at=datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC).timestamp(),
    )
    assert event.data is not camera_event.data  # a copy: the backend may reuse its dict


def test_from_camera_event_keeps_the_backends_state():
    # The backend knows its own states; the type's suffix does not override them.
    camera_event = CameraEvent("1", "front", "AMCREST_CROSS_LINE", "pulse", "2024-05-01T12:00:00Z", "amcrest")
    assert from_camera_event(camera_event).state == "pulse"


def test_from_camera_event_without_camera():
    camera_event = CameraEvent("1", "", "AMCREST_STORAGE_FAILURE", "pulse", "2024-05-01T12:00:00Z", "amcrest")
    assert from_camera_event(camera_event).camera is None


def test_from_camera_event_bad_time():
    camera_event = CameraEvent("1", "front", "DEVICE_MOTION_START", "start", "soon", "amcrest")
    with pytest.raises(EventError) as raised:
        from_camera_event(camera_event)
    assert str(raised.value) == "time 'soon' is not an ISO 8601 time"


# -- links ---------------------------------------------------------------------------------------


def test_links_encode_camera_and_time_and_step_back_pre_s():
    assert links(CAMERA, MOTION_AT, 5, snapshot=True, recording=True) == {
        "snapshot": f"/api/v1/cameras/{CAMERA}/snapshot.jpg?t=2020-01-27T19%3A00%3A20.674Z",
        "recording": f"/hls/{CAMERA}/high/playlist.m3u8?t=2020-01-27T19%3A00%3A15.674Z",
    }


def test_links_encode_every_reserved_character_of_the_camera_id():
    found = links("cam/1 a?b#c&d", MOTION_AT, 0.5, snapshot=True, recording=True)
    assert found == {
        "snapshot": "/api/v1/cameras/cam%2F1%20a%3Fb%23c%26d/snapshot.jpg?t=2020-01-27T19%3A00%3A20.674Z",
        "recording": "/hls/cam%2F1%20a%3Fb%23c%26d/high/playlist.m3u8?t=2020-01-27T19%3A00%3A20.174Z",
    }


def test_links_across_midnight():
    at = datetime(2024, 1, 1, 0, 0, 2, tzinfo=UTC).timestamp()
    assert links("c", at, 5, snapshot=False, recording=True)["recording"] == (
        "/hls/c/high/playlist.m3u8?t=2023-12-31T23%3A59%3A57.000Z"
    )


@pytest.mark.parametrize("snapshot, recording", [(False, False), (True, False), (False, True)])
def test_links_left_out(snapshot, recording):
    found = links("c", MOTION_AT, 5, snapshot=snapshot, recording=recording)
    assert set(found) == {"snapshot", "recording"}
    assert (found["snapshot"] is not None) == snapshot
    assert (found["recording"] is not None) == recording


# -- topic filter --------------------------------------------------------------------------------


def test_topic_filter_default_allows_everything():
    topics = TopicFilter()
    assert topics.wep() == {"whitelist": ["ALL"]}
    assert topics.search_topics() == ()
    assert all(topics.allows(t) for t in ("DEVICE_MOTION_START", "USER_LOGIN", "ALARM_TRIGGERED", "X"))


def test_topic_filter_whitelist_of_topics_and_groups():
    topics = TopicFilter(whitelist=("DEVICE_MOTION_START", "USER"))
    assert topics.wep() == {"whitelist": ["DEVICE_MOTION_START", "USER"]}
    assert topics.search_topics() == ("DEVICE_MOTION_START", "USER")
    assert topics.allows("DEVICE_MOTION_START")
    assert topics.allows("USER_LOGIN")
    assert topics.allows("USER_LOGIN_FAILURE")
    assert not topics.allows("DEVICE_MOTION_STOP")
    assert not topics.allows("ALARM_TRIGGERED")


def test_topic_filter_group_is_the_first_word_only():
    assert TopicFilter(whitelist=("DEVICE",)).allows("DEVICE_MOTION_START")
    assert not TopicFilter(whitelist=("DEVICE_MOTION",)).allows("DEVICE_MOTION_START")
    assert not TopicFilter(whitelist=("DEV",)).allows("DEVICE_MOTION_START")


def test_topic_filter_whitelist_with_all_searches_everything():
    topics = TopicFilter(whitelist=("USER", "ALL"))
    assert topics.search_topics() == ()
    assert topics.allows("DEVICE_MOTION_START")


def test_topic_filter_blacklist_of_topics_and_groups():
    topics = TopicFilter(blacklist=("USER", "DEVICE_MOTION_STOP"))
    assert topics.wep() == {"blacklist": ["USER", "DEVICE_MOTION_STOP"]}
    assert topics.search_topics() == ()  # search takes only a list to include: filtered here instead
    assert not topics.allows("USER_LOGIN")
    assert not topics.allows("DEVICE_MOTION_STOP")
    assert topics.allows("DEVICE_MOTION_START")
    assert topics.allows("ALARM_TRIGGERED")


def test_topic_filter_blacklist_wins_over_whitelist():
    topics = TopicFilter(whitelist=("USER",), blacklist=("ALARM",))
    assert topics.wep() == {"blacklist": ["ALARM"]}
    assert topics.allows("DEVICE_MOTION_START")
    assert not topics.allows("ALARM_TRIGGERED")


# -- json ------------------------------------------------------------------------------------------


def test_json_is_one_line_and_round_trips():
    event = from_wep(entry(linkedEventId="line one\nline two\r\n", note="ünïcode\u2028"))
    text = event.json()
    assert "\n" not in text and "\r" not in text
    assert json.loads(text) == event.public()
    assert json.loads(text)["data"]["linkedEventId"] == "line one\nline two\r\n"
    assert "ünïcode" in text  # not \u-escaped


def test_json_fields():
    event = from_wep(MOTION_START)
    assert list(json.loads(event.json())) == ["id", "camera", "type", "state", "time", "source", "data", "links"]
    assert event.json().startswith(
        '{"id":"wep:64227","camera":"' + CAMERA + '","type":"DEVICE_MOTION_START",'
        '"state":"start","time":"2020-01-27T19:00:20.674Z","source":"wep","data":{'
    )
