"""The eventManager attach wire: parts byte for byte, codes and heartbeat parameters."""

from __future__ import annotations

import pytest

from gateway.emulator.amcrest.event_wire import (
    CONTENT_TYPE,
    HEARTBEAT_PART,
    EventRequestError,
    event_body,
    event_part,
    parse_codes,
    parse_heartbeat,
)


def test_a_part_as_the_camera_writes_it():
    assert CONTENT_TYPE == "multipart/x-mixed-replace; boundary=myboundary"
    assert event_part(event_body("VideoMotion", "Start", 0)) == (
        b"--myboundary\r\nContent-Type: text/plain\r\nContent-Length: 37\r\n\r\n"
        b"Code=VideoMotion;action=Start;index=0\r\n\r\n"
    )
    assert HEARTBEAT_PART == b"--myboundary\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nHeartbeat\r\n\r\n"


def test_data_is_styled_json():
    body = event_body("CrossLineDetection", "Pulse", 3, {"Name": "Rule1", "Id": [0]})
    assert body == (
        b'Code=CrossLineDetection;action=Pulse;index=3;data={\n   "Name" : "Rule1",\n   "Id" : [\n      0\n   ]\n}'
    )


def test_codes():
    assert parse_codes("[All]") is None
    assert parse_codes("[VideoMotion,AudioMutation]") == {"VideoMotion", "AudioMutation"}
    assert parse_codes("VideoMotion") == {"VideoMotion"}
    with pytest.raises(EventRequestError, match="codes is required"):
        parse_codes(None)
    with pytest.raises(EventRequestError, match=r"codes '\[\]' names no event code"):
        parse_codes("[]")


def test_heartbeat():
    assert parse_heartbeat(None, 5.0) == 5.0
    assert parse_heartbeat("2", 5.0) == 2.0
    for bad in ("0", "x", "-1"):
        with pytest.raises(EventRequestError):
            parse_heartbeat(bad, 5.0)
