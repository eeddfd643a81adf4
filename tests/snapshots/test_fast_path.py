"""The snapshot fast path over real sockets: same answers as aiohttp, in the same order.

The gateway (GatewayRunner, as `serve` runs it) and the WEP emulator run on an event loop
in a thread; tests speak raw HTTP/1.1 over blocking sockets, so they choose exactly how
requests are split and pipelined. The reference is the same gateway on a connection whose
first request pins it to aiohttp (a Content-Length field): same store, same cache entry.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.app import create_app
from gateway.auth.routes import TOKENS
from gateway.emulator.server import Emulator
from gateway.emulator.settings import EmulatorSettings
from gateway.limits.middleware import TRAFFIC
from gateway.snapshots import fast_path
from gateway.snapshots.fast_path import FastPathConnection, FastPathServer, GatewayRunner
from gateway.snapshots.routes import SNAPSHOTS
from tests.conftest import TEST_EMULATOR, config_for

PAST = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
PIN = b"GET /no-such-path HTTP/1.1\r\nHost: gw\r\nContent-Length: 0\r\n\r\n"  # aiohttp's for good from here
LAST = b"GET /no-such-path HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"  # so the answers end in EOF
NOT_FOUND = b"404: Not Found"  # aiohttp's body for PIN and LAST
KEEPALIVE = 1.5


class ThreadGateway:
    """Emulator and gateway on their own loop, in a thread; stopped by close()."""

    def __init__(self, emulator_cache: str, keepalive: float, **sections):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.call(self._start(emulator_cache, keepalive, sections))

    def call(self, coro, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self, emulator_cache, keepalive, sections) -> None:
        from aiohttp import web

        self.emulator = Emulator(EmulatorSettings(host="127.0.0.1", port=0, cache_dir=emulator_cache, **TEST_EMULATOR))
        await self.emulator.start()
        self.app = create_app(config_for(self.emulator, **sections))
        self.runner = GatewayRunner(self.app, access_log=None, keepalive_timeout=keepalive)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]
        self.camera = self.emulator.camera_ids[0]

    async def _stop(self) -> None:
        await self.runner.cleanup()
        await self.emulator.stop()

    def close(self) -> None:
        try:
            self.call(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)

    @property
    def answered(self) -> int:
        answered = self.runner.fast_path.stats.answered
        # What wepgw_snapshot_fast_path_answers exports agrees with it.
        assert self.app[SNAPSHOTS].stats.fast_path_answers == answered
        return answered


def snapshot_head(camera: str, query: str = f"t={PAST}", *fields: str, method: str = "GET") -> bytes:
    lines = [f"{method} /api/v1/cameras/{camera}/snapshot.jpg?{query} HTTP/1.1", "Host: gw", *fields, "", ""]
    return "\r\n".join(lines).encode()


def exchange(port: int, pieces: list[bytes], pause: float = 0.002, pinned: bool = False) -> bytes:
    """Send `pieces` as separate writes, then read until the server closes. `pinned`: first
    send PIN and read its answer, so the connection is aiohttp's before `pieces` arrive."""
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if pinned:
            sock.sendall(PIN)
            while not re.search(rb"\r\n\r\n.{%d}" % len(NOT_FOUND), received, re.DOTALL):
                received += sock.recv(1 << 16)
        for piece in pieces:
            sock.sendall(piece)
            time.sleep(pause)  # separate reads on the server, mostly: a split it must put together
            sock.setblocking(False)  # take what is there (a socket with a timeout would wait for more)
            try:
                while chunk := sock.recv(1 << 20):
                    received += chunk
            except BlockingIOError:
                pass
            sock.settimeout(20)
        while chunk := sock.recv(1 << 20):
            received += chunk
    return bytes(received)


def responses(raw: bytes, methods: list[str]) -> list[tuple[str, list[tuple[str, str]], bytes]]:
    """Status lines, fields (Date checked, then masked) and bodies, one per request answered."""
    answers, at = [], 0
    for method in methods:
        if at == len(raw):
            break
        end = raw.index(b"\r\n\r\n", at)
        status, *lines = raw[at:end].decode("latin-1").split("\r\n")
        fields = [tuple(line.split(": ", 1)) for line in lines]
        for name, value in fields:
            if name == "Date":
                assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", value), value
        fields = [(name, "<date>" if name == "Date" else value) for name, value in fields]
        length = int(dict(fields).get("Content-Length", "0"))
        if method == "HEAD" or status.split()[1] in ("204", "304"):
            length = 0
        body = raw[end + 4 : end + 4 + length]
        at = end + 4 + length
        answers.append((status, fields, body))
    assert at == len(raw), "bytes after the last expected answer"
    return answers


def method_of(request: bytes) -> str:
    return request.split(b" ", 1)[0].decode()


def compare_with_aiohttp(gw: ThreadGateway, requests: list[bytes], pieces: list[bytes]) -> list:
    """Answers to `pieces` (the requests, cut anywhere) == aiohttp's answers to the requests."""
    # A stream ends in a request that closes the connection, so its answers end in EOF. Nothing
    # may follow one that closes it already: llhttp refuses data after `Connection: close`, and
    # bytes unread at a close (after aiohttp's 400 for a missing Host) make a reset.
    closes = b"Connection: close" in requests[-1] or b"\r\nHost:" not in requests[-1]
    last = [] if closes else [LAST]
    methods = [method_of(r) for r in requests] + ["GET"] * len(last)
    got = responses(exchange(gw.port, [*pieces, *last]), methods)
    before = gw.answered
    reference = responses(exchange(gw.port, [*pieces, *last], pinned=True), ["GET", *methods])
    assert reference[0][0] == "HTTP/1.1 404 Not Found"
    assert gw.answered == before, "the reference connection must be aiohttp's alone"
    assert got == reference[1:]
    return got


@pytest.fixture(scope="module")
def gw(emulator_cache):
    gateway = ThreadGateway(emulator_cache, KEEPALIVE)
    try:
        status, _, body = responses(exchange(gateway.port, [snapshot_head(gateway.camera), LAST]), ["GET", "GET"])[0]
        assert status == "HTTP/1.1 200 OK" and body[:2] == b"\xff\xd8"  # now cached
        yield gateway
    finally:
        gateway.close()


@pytest.fixture(scope="module")
def auth_gw(emulator_cache):
    gateway = ThreadGateway(emulator_cache, KEEPALIVE, auth={"viewer_auth": True, "token_secret": "s" * 32})
    try:
        yield gateway
    finally:
        gateway.close()


# -- the private aiohttp surface ------------------------------------------------------------


def test_aiohttp_private_attributes_the_fast_path_relies_on(gw):
    """aiohttp 3.14's RequestHandler and Server internals read or set by fast_path.py: if a
    release renames them, this fails instead of the fast path silently misjudging."""
    server = gw.runner.server
    assert isinstance(server, FastPathServer) and isinstance(server._kwargs, dict)
    assert gw.runner.fast_path is not None, "create_app's edge is not the one the fast path reproduces"

    async def idle_handler():
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(snapshot_head(gw.camera))
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(0.05)
        [handler] = [
            h
            for h in server.connections
            if h.transport is not None and h.transport.get_extra_info("peername") == writer.get_extra_info("sockname")
        ]
        state = {
            name: getattr(handler, name)
            for name in (
                "_waiter",
                "_messages",
                "_request_in_progress",
                "_payload_parser",
                "_upgraded",
                "_message_tail",
                "_close",
                "_force_close",
                "_next_keepalive_close_time",
            )
        }
        idle = fast_path._aiohttp_idle(handler)
        state["_waiter"] = state["_waiter"] is not None and not state["_waiter"].done()
        writer.close()
        return state, idle, handler.keepalive_timeout

    state, idle, keepalive = gw.call(idle_handler())
    assert idle and isinstance(state["_next_keepalive_close_time"], float) and keepalive == KEEPALIVE
    assert state["_waiter"], "an idle aiohttp connection awaits its next request on _waiter"


def test_connections_are_fast_path_connections(gw):
    assert isinstance(gw.runner.server(), FastPathConnection)


# -- same answers ---------------------------------------------------------------------------


def test_fast_answer_equals_aiohttp_answer(gw):
    store, traffic = gw.app[SNAPSHOTS], gw.app[TRAFFIC]
    hit = snapshot_head(gw.camera)

    def counters():
        return (store.stats.hits, store.stats.bytes_served, sum(traffic.bytes_out.values()))

    before, answered = counters(), gw.answered
    [fast, _] = responses(exchange(gw.port, [hit, LAST]), ["GET", "GET"])
    middle = counters()
    assert gw.answered == answered + 1
    [_, slow, _] = responses(exchange(gw.port, [hit, LAST], pinned=True), ["GET", "GET", "GET"])
    assert gw.answered == answered + 1
    assert fast == slow
    assert fast[0] == "HTTP/1.1 200 OK" and [name for name, _ in fast[1]] == [
        "ETag",
        "Cache-Control",
        "Content-Type",
        "Content-Length",
        "Date",
        "Server",
    ]
    # One hit on each path moves the store's and the limits' counters alike.
    assert [m - b for m, b in zip(middle, before)] == [c - m for c, m in zip(counters(), middle)]
    assert middle[0] - before[0] == 1 and middle[1] - before[1] == len(fast[2])


@pytest.mark.parametrize(
    "request_head",
    [
        pytest.param(lambda c: snapshot_head(c, f"t={PAST}", 'If-None-Match: "nope", W/"{etag}"'), id="304"),
        pytest.param(lambda c: snapshot_head(c, f"t={PAST}", 'If-None-Match: "nope"'), id="200-etag-differs"),
        pytest.param(lambda c: snapshot_head(c, f"t={PAST}&cache-buster=1&token=x"), id="other-parameters"),
        pytest.param(lambda c: snapshot_head(c, f"t={PAST.replace(':', '%3A')}"), id="percent-encoded"),
        pytest.param(lambda c: snapshot_head(c, f"t={PAST}", method="HEAD"), id="HEAD"),
        pytest.param(lambda c: snapshot_head(c, "size=1x1"), id="bad-query-400"),
        pytest.param(lambda c: snapshot_head(c, f"t={PAST}", "Content-Length: 0"), id="body-field"),
        pytest.param(lambda c: snapshot_head(c, f"t={PAST}", "Origin: https://elsewhere.example"), id="cors"),
        pytest.param(lambda c: snapshot_head("no-such-camera"), id="unknown-camera"),
        pytest.param(lambda c: snapshot_head(c, f"t={PAST}", "Connection: close"), id="connection-close"),
        pytest.param(lambda c: snapshot_head(c).replace(b"Host: gw\r\n", b""), id="no-host-400"),
    ],
)
def test_answers_as_aiohttp_does(gw, request_head):
    etag = responses(exchange(gw.port, [snapshot_head(gw.camera), LAST]), ["GET", "GET"])[0][1][0][1]
    request = request_head(gw.camera).replace(b"{etag}", etag.strip('"').encode())
    compare_with_aiohttp(gw, [request], [request])


def test_not_modified_on_the_fast_path(gw):
    etag = responses(exchange(gw.port, [snapshot_head(gw.camera), LAST]), ["GET", "GET"])[0][1][0][1]
    before = gw.answered
    [answer, _] = responses(
        exchange(gw.port, [snapshot_head(gw.camera, f"t={PAST}", f"If-None-Match: {etag}"), LAST]), ["GET", "GET"]
    )
    assert answer[0] == "HTTP/1.1 304 Not Modified" and answer[2] == b"" and gw.answered == before + 1


def test_head_split_at_every_offset(gw):
    hit = snapshot_head(gw.camera)
    expected = responses(exchange(gw.port, [hit, LAST]), ["GET", "GET"])[0]
    before = gw.answered
    with socket.create_connection(("127.0.0.1", gw.port), timeout=20) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        stream = sock.makefile("rb")
        for cut in range(1, len(hit)):
            sock.sendall(hit[:cut])
            time.sleep(0.001)
            sock.sendall(hit[cut:])
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                head += stream.readline()
            length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
            body = stream.read(length)
            assert responses(head + body, ["GET"])[0] == expected, cut
    # Every one answered below aiohttp: the held-back start was put together with its rest.
    assert gw.answered == before + len(hit) - 1


def test_pipelined_hit_body_hit_answered_in_order(gw):
    hit = snapshot_head(gw.camera)
    # A body that ends like a head and holds a snapshot request: it must stay a body.
    body = snapshot_head(gw.camera)
    post = b"POST /api/v1/tokens HTTP/1.1\r\nHost: gw\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    before = gw.answered
    answers = compare_with_aiohttp(gw, [hit, post, hit], [hit + post + hit])
    assert [status for status, _, _ in answers] == [
        "HTTP/1.1 200 OK",
        "HTTP/1.1 403 Forbidden",
        "HTTP/1.1 200 OK",
        "HTTP/1.1 404 Not Found",
    ]
    assert gw.answered == before + 1  # the first hit; after the body the connection is aiohttp's


def test_miss_between_hits_keeps_the_order(gw):
    hit = snapshot_head(gw.camera)
    miss = snapshot_head(gw.camera, f"t={PAST}&roi=0.1,0.1,0.6,0.6&size=160x90&n={time.monotonic_ns()}")
    answers = responses(exchange(gw.port, [hit + miss + hit, LAST]), ["GET"] * 4)
    assert [status for status, _, _ in answers] == ["HTTP/1.1 200 OK"] * 3 + ["HTTP/1.1 404 Not Found"]
    assert answers[0][2] == answers[2][2] != answers[1][2]


def test_keepalive_timer_spares_a_busy_connection_and_closes_an_idle_one(gw):
    hit = snapshot_head(gw.camera)
    before = gw.answered
    with socket.create_connection(("127.0.0.1", gw.port), timeout=20) as sock:
        stream = sock.makefile("rb")
        started = time.monotonic()
        while time.monotonic() - started < 2.5 * KEEPALIVE:
            sock.sendall(hit)
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = stream.readline()
                assert line, "the connection was closed while busy"
                head += line
            stream.read(int(re.search(rb"Content-Length: (\d+)", head).group(1)))
            time.sleep(KEEPALIVE / 4)
        answered = gw.answered - before
        assert stream.read() == b""  # idle past the keep-alive timeout: aiohttp closes it
    assert answered > 4 and gw.answered - before == answered


# -- random streams against aiohttp -----------------------------------------------------------


def stream_requests(camera: str) -> list[bytes]:
    hit = snapshot_head(camera)
    body = b"{}\r\n\r\n" + hit
    return [
        hit,
        snapshot_head(camera, f"t={PAST}", "If-None-Match: *"),
        snapshot_head(camera, f"t={PAST}", method="HEAD"),
        snapshot_head(camera, "roi=2,0,1,1"),
        snapshot_head(camera, f"t={PAST}", "Accept: */*", "Accept: image/jpeg"),  # a repeated field
        snapshot_head(camera, f"t={PAST}", "Origin: https://elsewhere.example"),
        b"GET /no-such-path HTTP/1.1\r\nHost: gw\r\n\r\n",
        b"POST /api/v1/tokens HTTP/1.1\r\nHost: gw\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body),
        b"POST /api/v1/tokens HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n\r\n\r\n\r\n0\r\n\r\n",
    ]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_streams_split_anywhere_answer_as_aiohttp(gw, data):
    catalogue = stream_requests(gw.camera)
    picks = data.draw(st.lists(st.integers(0, len(catalogue) - 1), min_size=1, max_size=8), label="requests")
    requests = [catalogue[i] for i in picks]
    stream = b"".join(requests)
    cuts = sorted(set(data.draw(st.lists(st.integers(1, len(stream) - 1), max_size=4), label="cuts")))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)])]
    compare_with_aiohttp(gw, requests, pieces)


def test_random_streams_took_the_fast_path(gw):
    """The property above cannot pass vacuously: its hits are answered on the fast path (the
    plain one and the 304), its HEAD by aiohttp."""
    before = gw.answered
    compare_with_aiohttp(gw, stream_requests(gw.camera)[:3], [b"".join(stream_requests(gw.camera)[:3])])
    assert gw.answered == before + 2


# -- viewer tokens ---------------------------------------------------------------------------


def test_viewer_auth_on_the_fast_path(auth_gw):
    gw = auth_gw
    tokens = gw.app[TOKENS]
    good, _ = tokens.mint([gw.camera], ["snapshot"], 600)
    other_camera, _ = tokens.mint(["someone-else"], ["snapshot"], 600)
    view_only, _ = tokens.mint([gw.camera], ["view"], 600)
    # Cache the picture (a slow-path miss), then ask again every way.
    first = responses(exchange(gw.port, [snapshot_head(gw.camera, f"t={PAST}&token={good}"), LAST]), ["GET"] * 2)
    assert first[0][0] == "HTTP/1.1 200 OK"
    cases = {
        "none": (snapshot_head(gw.camera), "401 Unauthorized", 0),
        "bad": (snapshot_head(gw.camera, f"t={PAST}&token=not-a-token"), "401 Unauthorized", 0),
        "bad-bearer": (snapshot_head(gw.camera, f"t={PAST}", "Authorization: Bearer x.y.z"), "401 Unauthorized", 0),
        "other-camera": (snapshot_head(gw.camera, f"t={PAST}&token={other_camera}"), "403 Forbidden", 0),
        "no-snapshot-action": (snapshot_head(gw.camera, f"t={PAST}&token={view_only}"), "403 Forbidden", 0),
        "query-token": (snapshot_head(gw.camera, f"t={PAST}&token={good}"), "200 OK", 1),
        "bearer": (snapshot_head(gw.camera, f"t={PAST}", f"Authorization: Bearer {good}"), "200 OK", 1),
        # Authorization first, as the middleware reads it: a bad header beats a good ?token=.
        "bad-bearer-good-query": (
            snapshot_head(gw.camera, f"t={PAST}&token={good}", "Authorization: Bearer x"),
            "401 Unauthorized",
            0,
        ),
    }
    for name, (request, status, fast) in cases.items():
        before = gw.answered
        [answer] = compare_with_aiohttp(gw, [request], [request])[:1]
        assert answer[0] == f"HTTP/1.1 {status}", name
        assert gw.answered - before == fast, name
        if fast:
            assert ("Cache-Control", "private, max-age=86400, immutable") in answer[1]
