"""RTSP framing fed bytes: requests, interleaved frames, split at every offset."""

from __future__ import annotations

import pytest

from gateway.emulator.amcrest.rtsp_framing import (
    InterleavedFrame,
    RtspFramingError,
    RtspReader,
    RtspRequest,
    interleaved,
    parse_transport,
    render_request,
    render_response,
)

URL = "rtsp://127.0.0.1:554/cam/realmonitor?channel=1&subtype=0"
# What FFmpeg sends, an RTCP receiver report on channel 1, a request with a body, a
# folded header line and a stray CRLF between messages.
STREAM = (
    f"OPTIONS {URL} RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: Lavf59.27.100\r\n\r\n".encode()
    + b"$\x01\x00\x08\x81\xc9\x00\x01\x12\x34\x56\x78"
    + f"SETUP {URL}/trackID=0 RTSP/1.0\r\nTransport: RTP/AVP/TCP;unicast;\r\n interleaved=0-1\r\n"
    "CSeq: 3\r\n\r\n".encode()
    + b"\r\n"
    + f"SET_PARAMETER {URL} RTSP/1.0\r\nCSeq: 4\r\nContent-Type: text/parameters\r\nContent-Length: 13\r\n\r\n"
    "barparam: xy\n".encode()
    + b"$\x00\x00\x00"
)
EXPECTED = [
    RtspRequest("OPTIONS", URL, "RTSP/1.0", {"cseq": "1", "user-agent": "Lavf59.27.100"}),
    InterleavedFrame(1, b"\x81\xc9\x00\x01\x12\x34\x56\x78"),
    RtspRequest("SETUP", URL + "/trackID=0", "RTSP/1.0",
                {"transport": "RTP/AVP/TCP;unicast; interleaved=0-1", "cseq": "3"}),
    RtspRequest("SET_PARAMETER", URL, "RTSP/1.0",
                {"cseq": "4", "content-type": "text/parameters", "content-length": "13"}, b"barparam: xy\n"),
    InterleavedFrame(0, b""),
]  # fmt: skip


def test_the_whole_stream_at_once():
    assert RtspReader().feed(STREAM) == EXPECTED


def test_split_at_every_offset():
    for cut in range(len(STREAM) + 1):
        reader = RtspReader()
        events = reader.feed(STREAM[:cut]) + reader.feed(STREAM[cut:])
        assert events == EXPECTED, cut


def test_byte_by_byte():
    reader = RtspReader()
    events = [event for i in range(len(STREAM)) for event in reader.feed(STREAM[i : i + 1])]
    assert events == EXPECTED


def test_a_rendered_request_reads_back():
    data = render_request("GET_PARAMETER", URL, [("CSeq", "9"), ("Session", "ABC")], b"x")
    assert RtspReader().feed(data) == [
        RtspRequest("GET_PARAMETER", URL, "RTSP/1.0", {"cseq": "9", "session": "ABC", "content-length": "1"}, b"x")
    ]
    assert RtspReader().feed(data)[0].cseq == "9"


@pytest.mark.parametrize(
    "data, message",
    [
        (b"GET / HTTP/1.1\r\n\r\n", "bad request line 'GET / HTTP/1.1'"),
        (b"OPTIONS * RTSP/1.0\r\nno colon\r\n\r\n", "bad header line 'no colon'"),
        (b"OPTIONS * RTSP/1.0\r\n folded\r\n\r\n", "continuation line before any header"),
        (b"OPTIONS * RTSP/1.0\r\nContent-Length: -1\r\n\r\n", "Content-Length '-1' is not a number"),
        (b"OPTIONS * RTSP/1.0\r\nContent-Length: 70000\r\n\r\n", "request body of 70000 bytes exceeds 65536"),
        (b"OPTIONS * RTSP/1.0\r\nX: \xff\r\n\r\n", "request head is not UTF-8 text"),
        (b"A" * 20000, "request head longer than 16384 bytes"),
    ],
)
def test_errors_are_exact_and_final(data, message):
    reader = RtspReader()
    with pytest.raises(RtspFramingError) as caught:
        reader.feed(data)
    assert str(caught.value) == message
    with pytest.raises(RtspFramingError, match="reader stopped after an earlier error"):
        reader.feed(b"OPTIONS * RTSP/1.0\r\n\r\n")


def test_response_echoes_cseq_and_counts_the_body():
    assert (
        render_response(200, "5", [("Public", "OPTIONS")]) == b"RTSP/1.0 200 OK\r\nCSeq: 5\r\nPublic: OPTIONS\r\n\r\n"
    )
    assert render_response(461, "2") == b"RTSP/1.0 461 Unsupported Transport\r\nCSeq: 2\r\n\r\n"
    assert (
        render_response(200, "3", [], b"v=0\r\n") == b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nContent-Length: 5\r\n\r\nv=0\r\n"
    )


def test_interleaved_frame_layout():
    assert interleaved(3, b"\x80\x60") == b"$\x03\x00\x02\x80\x60"
    with pytest.raises(RtspFramingError, match="65536-byte packet does not fit"):
        interleaved(0, bytes(65536))


def test_transport_offers():
    specs = parse_transport("RTP/AVP;unicast;client_port=5000-5001, RTP/AVP/TCP;unicast;interleaved=2-3")
    assert [(s.protocol, s.tcp) for s in specs] == [("RTP/AVP", False), ("RTP/AVP/TCP", True)]
    assert specs[0].params == {"unicast": "", "client_port": "5000-5001"}
    assert specs[1].interleaved_channels() == (2, 3)
    assert parse_transport("rtp/avp/tcp;interleaved=4")[0].interleaved_channels() == (4, 5)
    assert parse_transport("RTP/AVP/UDP;unicast")[0].protocol == "RTP/AVP"
    assert parse_transport("RTP/AVP/TCP;unicast")[0].interleaved_channels() is None
    with pytest.raises(RtspFramingError, match="bad interleaved='a-b'"):
        parse_transport("RTP/AVP/TCP;interleaved=a-b")[0].interleaved_channels()
