"""Malformed requests over raw sockets, to the gateway as `serve` runs it (GatewayRunner,
no handler cancellation): each is answered 400 (or, where the client is gone, its
connection closes) and logged as at most one line, with no traceback; a flood is a few
lines. Before, aiohttp logged each as "Error handling request" with a traceback at ERROR
(issue 19). These tests also guard the public hook the gateway uses: if aiohttp stopped
logging a parse error with its exception to the runner's `logger`, they would fail."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, BadStatusLine, InvalidURLError, LineTooLong

from gateway.api.malformed import MALFORMED, MalformedLog, describe
from gateway.app import create_app
from gateway.snapshots.fast_path import GatewayRunner
from tests.conftest import config_for

HEAD_400 = re.compile(rb"HTTP/1\.[01] 400 ")


def get(*fields: bytes, target: bytes = b"/healthz") -> bytes:
    return b"GET " + target + b" HTTP/1.1\r\nHost: gw\r\n" + b"".join(f + b"\r\n" for f in fields) + b"\r\n"


def post_offer(*fields: bytes, body: bytes = b"") -> bytes:
    """A WHEP offer: the route reads its body."""
    head = b"POST /whep/CAM HTTP/1.1\r\nHost: gw\r\nContent-Type: application/sdp\r\n"
    return head + b"".join(f + b"\r\n" for f in fields) + b"\r\n" + body


CHUNKED = b"Transfer-Encoding: chunked"
BAD_CHUNK = b"zz\r\nabc\r\n0\r\n\r\n"
# name -> (writes, then half-close?, what the client gets: "400", or "closed" where it is gone).
CASES = {
    "a NUL in a header": ([get(b"X-A: a\x00b")], False, "400"),
    "a bad HTTP version": ([b"GET /healthz HTTP/9.9\r\nHost: gw\r\n\r\n"], False, "400"),
    "a space in the target": ([b"GET /a b HTTP/1.1\r\nHost: gw\r\n\r\n"], False, "400"),
    "an over-long request line": ([get(target=b"/" + b"a" * 9000)], False, "400"),
    "an over-long header": ([get(b"X-A: " + b"a" * 9000)], False, "400"),
    "an invalid URL": ([get(target=b"http://[::1/?token=secret")], False, "400"),
    "a header name with a space": ([get(b"Bad Name: x")], False, "400"),
    "a bare LF": ([b"GET /healthz HTTP/1.1\nHost: gw\n\n"], False, "400"),
    "too many headers": ([get(*(b"X-%d: a" % i for i in range(200)))], False, "400"),
    "a bad Content-Length": ([post_offer(b"Content-Length: abc")], False, "400"),
    "Content-Length and chunked": (
        [post_offer(b"Content-Length: 3", CHUNKED, body=b"3\r\nabc\r\n0\r\n\r\n")],
        False,
        "400",
    ),
    "a bad chunk size": ([post_offer(CHUNKED, body=BAD_CHUNK)], False, "400"),
    "a bad gzip body, read": (
        [post_offer(b"Content-Encoding: gzip", b"Content-Length: 5", body=b"abcde")],
        False,
        "400",
    ),
    "a bad gzip body, unread": (
        [get(b"Content-Encoding: gzip", b"Content-Length: 5", target=b"/nowhere") + b"abcde"],
        False,
        "404",
    ),
    "a NUL in a snapshot request (fast path)": (
        [get(b"X-A: \x00", target=b"/api/v1/cameras/CAM/snapshot.jpg")],
        False,
        "400",
    ),
    "TLS to the HTTP port": ([b"\x16\x03\x01\x00\xa5\x01\x00\x00\r\n\r\n"], False, "400"),
    # The client leaves before its body ends: nobody is left to answer.
    "a body shorter than its Content-Length": ([post_offer(b"Content-Length: 100", body=b"v=0\r\n")], True, "closed"),
    # aiohttp never fails the body of a request whose head it had passed on (aio-libs/aiohttp
    # #10596's kind): the handler waits until the client gives up.
    "a bad chunk after the head": ([post_offer(CHUNKED), BAD_CHUNK], True, "closed"),
}


@pytest.fixture
async def served(emulator):
    """The gateway as `wep-gateway serve` runs it (cli.py): GatewayRunner, and no handler
    cancellation, unlike aiohttp's TestServer."""
    runner = GatewayRunner(create_app(config_for(emulator)), handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1], emulator.camera_ids[0].encode()
    finally:
        await runner.cleanup()


async def exchange(port: int, writes: list[bytes], half_close: bool) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for data in writes:
            writer.write(data)
            await writer.drain()
            await asyncio.sleep(0.1)  # separate reads on the server
        if half_close:
            writer.write_eof()
        return await asyncio.wait_for(reader.read(), 10)  # until the server closes
    except ConnectionResetError:
        return b""
    finally:
        writer.close()


def lines_about(caplog, peer: str = "127.0.0.1") -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "gateway.http" and peer in r.getMessage()]


async def test_each_malformed_request_is_answered_400_and_logged_once(served, caplog, monkeypatch):
    monkeypatch.setattr(MALFORMED, "lines", 1000)  # every line shows: the budget has its own test
    caplog.set_level(logging.DEBUG)
    port, camera = served
    problems = []
    for name, (writes, half_close, expected) in CASES.items():
        caplog.clear()
        answer = await exchange(port, [data.replace(b"CAM", camera) for data in writes], half_close)
        await asyncio.sleep(0.2)  # aiohttp drains an unread body after answering: its record comes late
        lines = lines_about(caplog) + [
            r.getMessage() for r in caplog.records if r.name == "gateway.http" and "a client" in r.getMessage()
        ]
        if expected == "400" and not HEAD_400.match(answer):
            problems.append(f"{name}: answered {answer[:40]!r}")
        if expected == "404" and not answer.startswith(b"HTTP/1.1 404 "):
            problems.append(f"{name}: answered {answer[:40]!r}")
        if expected == "closed" and answer and not HEAD_400.match(answer):
            problems.append(f"{name}: answered {answer[:40]!r}")
        if len(lines) != 1:
            problems.append(f"{name}: {len(lines)} lines {lines}")
        tracebacks = [r for r in caplog.records if r.exc_info or r.exc_text or r.levelno >= logging.ERROR]
        if tracebacks or "Traceback" in caplog.text:
            problems.append(f"{name}: {[(r.name, r.getMessage()) for r in tracebacks]}")
        if "secret" in caplog.text:
            problems.append(f"{name}: the URL's token was logged")
    assert not problems, "\n".join(problems)


async def test_a_flood_of_malformed_requests_is_a_few_lines(served, caplog, monkeypatch):
    monkeypatch.setattr(MALFORMED, "period", 3600.0)  # no window ends during the flood
    caplog.set_level(logging.INFO)
    port, _ = served
    noted = MALFORMED.noted
    await asyncio.gather(*(exchange(port, [b"GET /healthz HTTP/9.9\r\n\r\n"], False) for _ in range(100)))
    assert MALFORMED.noted - noted == 100
    # At most the window's budget (what earlier tests left of it); the rest is counted, for
    # the next line to report.
    written = len(lines_about(caplog))
    assert written <= MALFORMED.lines
    assert MALFORMED.held_back >= 100 - written
    assert "Traceback" not in caplog.text


def test_lines_beyond_the_budget_are_counted_and_reported_with_the_next(caplog):
    caplog.set_level(logging.INFO)
    now = [0.0]
    budget = MalformedLog(lines=3, period=10.0, clock=lambda: now[0])
    for _ in range(50):
        budget.note("10.0.0.1", "Invalid HTTP version")
    assert [r.getMessage() for r in caplog.records] == ["malformed request from 10.0.0.1: Invalid HTTP version"] * 3
    assert (budget.noted, budget.held_back) == (50, 47)
    now[0] = 10.0
    budget.note("10.0.0.2", "invalid URL")
    assert caplog.records[-1].getMessage() == "malformed request from 10.0.0.2: invalid URL (47 more not logged)"
    assert budget.held_back == 0


def test_an_exception_is_noted_once(caplog):
    caplog.set_level(logging.INFO)
    budget, exc = MalformedLog(), BadHttpMessage("Invalid character in chunk size:\n\n  b'zz'\n    ^")
    budget.note("10.0.0.1", describe(exc), exc=exc)
    budget.note(None, describe(exc), exc=exc)  # aiohttp draining the unread body meets it again
    assert [r.getMessage() for r in caplog.records] == [
        "malformed request from 10.0.0.1: Invalid character in chunk size"
    ]


@pytest.mark.parametrize(
    "exc, text",
    [
        (BadHttpMessage("Invalid header value char:\n\n  b'X-A: a\\x00b'\n          ^"), "Invalid header value char"),
        (
            BadStatusLine("", "Bad status line:\n  Invalid HTTP version:\n\n  b'GET / HTTP/9.9'\n      ^"),
            "Invalid HTTP version",
        ),
        (LineTooLong(b"GET /?token=secret" + b"a" * 9000, 8190), "Got more than 8190 bytes when reading"),
        (InvalidURLError("http://[::1/?token=secret"), "invalid URL"),  # its message is the URL itself
        (BadStatusLine("GET /?token=secret"), "Bad status line"),  # the pure-Python parser quotes the line
        (
            BadHttpMessage("Transfer-Encoding can't be present with Content-Length:\n\n  b'x'"),
            "Transfer-Encoding can't be present with Content-Length",
        ),
        (
            web.RequestPayloadError("400, message:\n  Can not decode content-encoding: gzip"),
            "Can not decode content-encoding",
        ),
        (BadHttpMessage("\x1b[31mred\x07"), "?[31mred?"),
    ],
)
def test_describe_says_what_without_the_input(exc, text):
    assert describe(exc) == text
