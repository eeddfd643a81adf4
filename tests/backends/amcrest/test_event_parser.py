"""The eventManager multipart parser, fed real-shaped bytes split at every offset."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.backends.amcrest.event_parser import (
    MAX_BODY,
    MAX_LINE,
    EventPart,
    EventStreamError,
    EventStreamParser,
    Heartbeat,
    boundary_from_content_type,
    parse_body,
)

BOUNDARY = "myboundary"
# Dahua writes data= JSON styled (3-space indent, "key" : value), with ; and = in strings.
DETAILS = {
    "Name": "Rule;1=front",
    "Object": {"ObjectType": "Human", "BoundingBox": [2856, 1280, 3880, 4880]},
    "UTC": 1711446999,
}


def part(body: bytes, *, length: bool = True, boundary: str = BOUNDARY) -> bytes:
    head = f"--{boundary}\r\nContent-Type: text/plain\r\n"
    if length:
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body + b"\r\n\r\n"


def event_body(code: str, action: str, index: int, data: dict | None = None) -> bytes:
    body = f"Code={code};action={action};index={index}"
    if data is not None:
        body += ";data=" + json.dumps(data, indent=3, separators=(",", " : "))
    return body.encode()


STRAY_HEAD = (
    b"HTTP/1.1 200 OK\r\nServer: Device/1.0\r\nContent-Type: multipart/x-mixed-replace; boundary=myboundary\r\n\r\n"
)
STREAM = b"".join(
    [
        part(event_body("VideoMotion", "Start", 0)),
        part(b"Heartbeat"),
        STRAY_HEAD,
        part(event_body("CrossLineDetection", "Pulse", 1, DETAILS)),
        b"HTTP/1.1 200 OK\r\n",  # the status line alone, straight before a boundary
        part(event_body("AudioMutation", "Stop", 0), length=False),
        f"--{BOUNDARY}--\r\n".encode(),  # a closing delimiter some firmware writes, then goes on
        part(event_body("VideoMotion", "Stop", 0)),
    ]
)
EXPECTED = [
    EventPart("VideoMotion", "Start", 0, None, "Code=VideoMotion;action=Start;index=0"),
    Heartbeat(),
    EventPart(
        "CrossLineDetection", "Pulse", 1, DETAILS, event_body("CrossLineDetection", "Pulse", 1, DETAILS).decode()
    ),
    EventPart("AudioMutation", "Stop", 0, None, "Code=AudioMutation;action=Stop;index=0"),
    EventPart("VideoMotion", "Stop", 0, None, "Code=VideoMotion;action=Stop;index=0"),
]


def feed_pieces(pieces: list[bytes], boundary: str = BOUNDARY) -> tuple[list, EventStreamError | None]:
    """Everything the parser gives for these pieces, and the error that stopped it."""
    parser = EventStreamParser(boundary)
    events: list = []
    for piece in pieces:
        try:
            events += parser.feed(piece)
        except EventStreamError as exc:
            return events + exc.events, exc
    return events, None


def test_whole_stream():
    parser = EventStreamParser(BOUNDARY)
    assert parser.feed(STREAM) == EXPECTED
    assert not parser.pending
    parser.close()


def test_split_at_every_offset():
    for split in range(len(STREAM) + 1):
        events, error = feed_pieces([STREAM[:split], STREAM[split:]])
        assert (events, error) == (EXPECTED, None), f"split at {split}"


def test_byte_by_byte():
    assert feed_pieces([STREAM[i : i + 1] for i in range(len(STREAM))]) == (EXPECTED, None)


def test_data_json_keeps_semicolons_and_equals():
    body = event_body("SmartMotionHuman", "Start", 3, {"rule": "a;b=c;data=d"})
    parsed = parse_body(body)
    assert parsed == EventPart("SmartMotionHuman", "Start", 3, {"rule": "a;b=c;data=d"}, body.decode())


def test_heartbeat_and_field_tolerance():
    assert parse_body(b"Heartbeat\r\n") == Heartbeat()
    # Key case and spacing vary across firmware; a missing index is channel 0.
    assert parse_body(b"code=AlarmLocal; Action=Start") == EventPart(
        "AlarmLocal", "Start", 0, None, "code=AlarmLocal; Action=Start"
    )
    assert parse_body(b"Code=X;action=Pulse;index=0;data=[1, 2]").data == {"value": [1, 2]}


def test_quoted_and_dashed_boundaries():
    assert boundary_from_content_type('multipart/x-mixed-replace; boundary="myboundary"') == "myboundary"
    assert boundary_from_content_type("Multipart/X-Mixed-Replace;charset=utf-8; Boundary=abc") == "abc"
    # Some firmware puts the dashes in the header too: the lines are then that string.
    dashed = part(b"Heartbeat", boundary="myboundary")
    assert feed_pieces([dashed], boundary=boundary_from_content_type("multipart/mixed; boundary=--myboundary")) == (
        [Heartbeat()],
        None,
    )


@pytest.mark.parametrize(
    "value, message",
    [
        ("text/plain", "event stream is b'text/plain', not multipart"),
        ("application/json; boundary=x", "not multipart"),
        ("", "not multipart"),
        ("multipart/x-mixed-replace", "multipart event stream without a boundary"),
        ('multipart/x-mixed-replace; boundary=""', "without a boundary"),
    ],
)
def test_content_types_without_a_boundary(value, message):
    with pytest.raises(EventStreamError, match=message):
        boundary_from_content_type(value)


def test_garbage_after_a_part_at_every_split():
    garbage = b"\x00\xffnot a multipart part\r\n\xfe\x01garbage\r\n\r\n"  # what the emulator's fault sends
    data = part(event_body("VideoMotion", "Start", 0)) + garbage + part(b"Heartbeat")
    for split in range(len(data) + 1):
        events, error = feed_pieces([data[:split], data[split:]])
        assert events == EXPECTED[:1], f"split at {split}"
        assert error is not None and "expected a boundary" in str(error)


def test_garbage_is_caught_before_its_line_ends():
    parser = EventStreamParser(BOUNDARY)
    with pytest.raises(EventStreamError, match=r"expected a boundary, got b'\\x00\\xff'"):
        parser.feed(b"\x00\xff")
    with pytest.raises(EventStreamError):  # a failed parser stays failed
        parser.feed(part(b"Heartbeat"))


def test_error_messages_are_one_short_line():
    for data in (
        b"x" * 100_000,
        b"--myboundary\r\n" + b"y" * 100_000,
        b"--myboundary\r\n\r\n" + b"z" * 100_000,
        part(b"Code=" + b"q" * 5000 + b";index=nope"),
    ):
        _, error = feed_pieces([data])
        assert error is not None
        message = str(error)
        assert "\n" not in message and len(message) < 160, message


def test_bounds():
    # A line without an end, a body too large, a part without length and no boundary,
    # and blank lines forever: each is refused once past its bound, not buffered on.
    cases = {
        b"--myboundary" + b" " * (MAX_LINE + 1): "line longer than",
        b"--myboundary\r\nContent-Length: 70000\r\n\r\n": "Content-Length 70000",
        b"--myboundary\r\n\r\n" + b"w" * (MAX_BODY + 1): "no boundary in",
        b"\r\n" * (MAX_BODY // 2 + 1): "no boundary in",
    }
    for data, message in cases.items():
        _, error = feed_pieces([data])
        assert error is not None and message in str(error)


@pytest.mark.parametrize(
    "body, message",
    [
        (b"hello", "without a Code"),
        (b"", "without a Code"),
        (b"Code=VideoMotion;action=Start;index=one", "bad index"),
        (b"Code=VideoMotion;action=Start;index=0;data={not json", "not JSON"),
    ],
)
def test_unparseable_bodies(body, message):
    _, error = feed_pieces([part(body)])
    assert error is not None and message in str(error)


@pytest.mark.parametrize("header", [b"no colon here", b"Content-Length: ten"])
def test_bad_part_headers(header):
    _, error = feed_pieces([b"--myboundary\r\n" + header + b"\r\n\r\nHeartbeat\r\n"])
    assert error is not None


def test_body_cut_short_waits_then_fails_at_the_end():
    whole = part(event_body("VideoMotion", "Start", 0))
    for cut in range(1, len(whole) - 4):  # everything short of the body's last byte
        parser = EventStreamParser(BOUNDARY)
        assert parser.feed(whole[:cut]) == []
        assert parser.pending, f"cut at {cut}"
        with pytest.raises(EventStreamError, match="ended inside"):
            parser.close()
    parser = EventStreamParser(BOUNDARY)
    parser.feed(whole[:-12])  # the emulator's "cut" fault
    with pytest.raises(EventStreamError, match=r"ended inside a part: 29 of 37 body bytes"):
        parser.close()


def test_stream_ending_between_parts_is_clean():
    parser = EventStreamParser(BOUNDARY)
    parser.feed(part(b"Heartbeat") + b"\r\n" + STRAY_HEAD)
    assert not parser.pending
    parser.close()


codes = st.sampled_from(["VideoMotion", "CrossLineDetection", "AudioMutation", "_DoTalkAction_", "NewFile"])
details = st.none() | st.dictionaries(
    st.text(min_size=1, max_size=8),
    st.text(alphabet=st.sampled_from(';=,:{}[]" \nab'), max_size=12) | st.integers(),
    max_size=3,
)


@st.composite
def events(draw) -> tuple[bytes, list]:
    code, action = draw(codes), draw(st.sampled_from(["Start", "Stop", "Pulse"]))
    index, data = draw(st.integers(0, 15)), draw(details)
    body = event_body(code, action, index, data)
    event = EventPart(code, action, index, data, body.decode())
    if draw(st.booleans()):
        return part(body), [event]
    # Without Content-Length a body runs to the next boundary line, so a part follows at once.
    return part(body, length=False) + part(b"Heartbeat"), [event, Heartbeat()]


items = st.one_of(
    events(), st.just((part(b"Heartbeat"), [Heartbeat()])), st.just((STRAY_HEAD, [])), st.just((b"\r\n", []))
)


@settings(max_examples=300, deadline=None)
@given(st.lists(items, max_size=12), st.lists(st.integers(0, 4000), max_size=8))
def test_any_stream_any_split(stream, cuts):
    data = b"".join(chunk for chunk, _ in stream)
    expected = [event for _, produced in stream for event in produced]
    points = sorted({min(cut, len(data)) for cut in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    assert feed_pieces(pieces) == (expected, None)
