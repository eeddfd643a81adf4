"""gateway/events/sse.py: the exact bytes of Server-Sent Events and the ids clients send back."""

from __future__ import annotations

import pytest

from gateway.events.sse import KEEP_ALIVE, RETRY_MS, EventId, comment, frame, parse_event_id, preamble


def test_frame_bytes():
    assert frame("motion", EventId("b", 1), '{"id":"wep:1"}') == b'event: motion\nid: b-1\ndata: {"id":"wep:1"}\n\n'


def test_frame_keeps_non_ascii_as_utf8():
    assert frame("user", EventId("lq0", 12), '{"n":"é"}') == 'event: user\nid: lq0-12\ndata: {"n":"é"}\n\n'.encode()


def test_frame_with_empty_data():
    assert frame("system", EventId("b", 0), "") == b"event: system\nid: b-0\ndata: \n\n"


@pytest.mark.parametrize("data", ["a\nb", "a\rb", "a\r\nb", "\n", "trailing\n"])
def test_frame_refuses_multi_line_data(data):
    with pytest.raises(ValueError) as raised:
        frame("motion", EventId("b", 1), data)
    assert str(raised.value) == "SSE data must be one line"


def test_preamble_and_keep_alive():
    assert RETRY_MS == 2000
    assert preamble() == b"retry: 2000\n\n"
    assert KEEP_ALIVE == b": keep-alive\n\n"


def test_comment():
    assert comment("some events were missed") == b": some events were missed\n\n"


def test_comment_strips_newlines():
    assert comment("one\ntwo\r\nthree\rfour") == b": one two  three four\n\n"


# -- ids -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event_id", [EventId("b", 1), EventId("lq0xyz", 0), EventId("lq0xyz", 10**18 - 1), EventId("a-b", 5)]
)
def test_event_id_round_trip(event_id):
    assert parse_event_id(str(event_id)) == event_id


def test_event_id_str():
    assert str(EventId("lq0xyz", 42)) == "lq0xyz-42"


def test_parse_event_id_strips_whitespace():
    assert parse_event_id("  lq0-7 \r\n") == EventId("lq0", 7)


def test_parse_event_id_leading_zeros():
    assert parse_event_id("lq0-007") == EventId("lq0", 7)


@pytest.mark.parametrize(
    "value", [None, "", "   ", "abc", "-5", "x-", "x-1a", "x-+5", "x-5.0", "x- 5", "x-" + "9" * 19, "x-" + "1" * 30]
)
def test_parse_event_id_rejects_garbage(value):
    assert parse_event_id(value) is None


@pytest.mark.parametrize("value", ["x-²", "x-٣"])
def test_parse_event_id_rejects_non_ascii_digits(value):
    assert parse_event_id(value) is None
