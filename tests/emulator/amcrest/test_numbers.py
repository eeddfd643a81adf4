"""The Amcrest emulator reads numbers in RTSP URLs and headers, event queries and its
control routes as ASCII digits only: '²' passes `str.isdigit()` and makes `int()` raise,
which took an RTSP connection or a route down (issue 19)."""

from __future__ import annotations

import pytest

from gateway.emulator.amcrest.event_wire import EventRequestError, parse_heartbeat
from gateway.emulator.amcrest.rtsp_connection import RtspStatus, resolve
from gateway.emulator.amcrest.rtsp_framing import RtspFramingError, RtspReader, parse_transport

URL = "rtsp://127.0.0.1:554/cam/realmonitor"
BAD = ["²", "٣", "99999999999999999999"]


@pytest.mark.parametrize("value", BAD)
def test_a_channel_that_is_not_ascii_digits_is_a_400(value):
    with pytest.raises(RtspStatus) as caught:
        resolve(f"{URL}?channel={value}&subtype=0", 4)
    assert caught.value.status == 400


@pytest.mark.parametrize("value", BAD)
def test_a_content_length_that_is_not_ascii_digits_is_a_framing_error(value):
    with pytest.raises(RtspFramingError, match="Content-Length"):
        RtspReader().feed(f"OPTIONS {URL} RTSP/1.0\r\nCSeq: 1\r\nContent-Length: {value}\r\n\r\n".encode())


@pytest.mark.parametrize("value", ["²-3", "0-٣", "99999999999999999999"])
def test_interleaved_channels_that_are_not_ascii_digits_are_a_framing_error(value):
    [spec] = parse_transport(f"RTP/AVP/TCP;unicast;interleaved={value}")
    with pytest.raises(RtspFramingError):
        spec.interleaved_channels()


@pytest.mark.parametrize("value", ["٣", "²", "1e1", " 5", "nan"])
def test_a_heartbeat_that_is_not_an_ascii_number_is_refused(value):
    with pytest.raises(EventRequestError):
        parse_heartbeat(value, 30.0)
