"""Live HLS on the fast path (gateway/hls/fast_path.py) over real sockets: the answers
aiohttp's routes give, in the same order, the same counters moved.

The reference is the same gateway on a connection pinned to aiohttp (its first request has
a Content-Length field), as in tests/snapshots/test_fast_path.py, whose helpers these are.
A blocking request is sent on both connections at once, so both are woken by the same part.
"""

from __future__ import annotations

import dataclasses
import re
import socket
import time

import pytest

from gateway.auth import policy
from gateway.auth.routes import TOKENS
from gateway.config import HlsConfig
from gateway.hls import fast_path as hls_fast_path
from gateway.hls.muxer import HlsMuxer
from gateway.hls.playlist import render_media
from gateway.hls.routes import HLS_MUXERS
from gateway.limits.middleware import LEDGER, TRAFFIC
from gateway.snapshots.request_head import HlsHead, Kind, read_head
from tests.hls.synthetic import FrameClock, video_init
from tests.snapshots.test_fast_path import LAST, NOT_FOUND, PIN, ThreadGateway, exchange, responses

pytestmark = pytest.mark.timeout(120)

ADMIN_KEY = "k" * 32
LIMITS = {"hls_viewer_window": 600.0}  # one player (this test's address) stays counted


def hls_head(camera: str, name: str = "playlist.m3u8", query: str = "", *fields: str, quality: str = "low") -> bytes:
    target = f"/hls/{camera}/{quality}/{name}" + (f"?{query}" if query else "")
    return "\r\n".join([f"GET {target} HTTP/1.1", "Host: gw", *fields, "", ""]).encode()


def fast_answers(gw: ThreadGateway) -> int:
    return gw.runner.hls_fast_path.answered


def running_muxer(gw: ThreadGateway) -> HlsMuxer:
    """The muxer, on the gateway's loop."""
    muxer = gw.app[HLS_MUXERS].find(gw.camera, "low")
    assert muxer is not None
    return muxer


def muxer_of(gw: ThreadGateway) -> HlsMuxer:
    async def find():
        return running_muxer(gw)

    return gw.call(find())


def counters(gw: ThreadGateway) -> dict:
    async def read():
        values = dataclasses.asdict(running_muxer(gw).counters)
        values.pop("part_delivery_delay")
        values.pop("parts_written")
        values.pop("discontinuities")
        values.pop("playlists_rendered")
        values.pop("fast_path_answers")  # the fast side's alone, by definition: compare() checks it
        values["bytes_out"] = sum(gw.app[TRAFFIC].bytes_out.values())
        return values

    return gw.call(read())


def position(gw: ThreadGateway) -> dict:
    """Where the live edge is now, read from the muxer on its loop."""

    async def read():
        segmenter = running_muxer(gw).segmenter
        open_parts = len(segmenter.open.parts) if segmenter.open is not None else 0
        return {
            "open_msn": segmenter.open_msn,
            "open_parts": open_parts,
            "next_part": segmenter.next_part_id,
            "last_part": segmenter.next_part_id - 1,
            "last_msn": segmenter.segments[-1].msn,
            "init_version": segmenter.init_version,
        }

    return gw.call(read())


def both_ways(gw: ThreadGateway, request: bytes, methods: int = 1) -> tuple[list, list]:
    """`request` on a fresh connection and on one pinned to aiohttp, sent at once; each
    connection's answers (LAST closes them)."""
    fast = socket.create_connection(("127.0.0.1", gw.port), timeout=20)
    slow = socket.create_connection(("127.0.0.1", gw.port), timeout=20)
    try:
        slow.sendall(PIN)
        pinned = b""
        while not re.search(rb"\r\n\r\n.{%d}" % len(NOT_FOUND), pinned, re.DOTALL):
            pinned += slow.recv(1 << 16)
        fast.sendall(request + LAST)
        slow.sendall(request + LAST)
        answers = []
        for sock, before in ((fast, b""), (slow, pinned)):
            received = bytearray(before)
            while chunk := sock.recv(1 << 20):
                received += chunk
            answers.append(responses(bytes(received), ["GET"] * (methods + 1 + (sock is slow))))
    finally:
        fast.close()
        slow.close()
    return answers[0][:methods], answers[1][1 : 1 + methods]


def compare(gw: ThreadGateway, request: bytes, *, tries: int = 5) -> tuple:
    """The fast path's answer to `request` == aiohttp's, sent at the same moment (a playlist
    that changed between the two is asked again); it was answered on the fast path."""
    for _ in range(tries):
        before, muxer_before = fast_answers(gw), muxer_of(gw).counters.fast_path_answers
        fast, slow = both_ways(gw, request)
        assert fast_answers(gw) == before + 1, "answered by aiohttp, not the fast path"
        assert muxer_of(gw).counters.fast_path_answers == muxer_before + 1  # wepgw_hls_fast_path_answers_total
        if fast == slow:
            return fast[0]
        assert fast[0][0] == slow[0][0] and fast[0][1][:2] == slow[0][1][:2], (fast, slow)
    raise AssertionError(f"the answers differ: {fast} != {slow}")


def plain(gw: ThreadGateway, request: bytes) -> tuple:
    [answer, _] = responses(exchange(gw.port, [request, LAST]), ["GET", "GET"])
    return answer


@pytest.fixture(scope="module")
def gw(emulator_cache):
    gateway = ThreadGateway(emulator_cache, 1.5, limits=LIMITS)
    try:
        started = time.monotonic()
        while plain(gateway, hls_head(gateway.camera))[0] != "HTTP/1.1 200 OK":  # the muxer and its player
            assert time.monotonic() - started < 30
            time.sleep(0.5)
        yield gateway
    finally:
        gateway.close()


def test_the_fast_path_is_on_and_checks_the_routes(gw, monkeypatch):
    assert gw.runner.hls_fast_path is not None
    assert gw.call(hls_fast_path._route_problem(gw.app)) is None
    changed = dataclasses.replace(policy.POLICY[("GET", hls_fast_path.PLAYLIST_ROUTE)], hold=None)
    monkeypatch.setitem(policy.POLICY, ("GET", hls_fast_path.PLAYLIST_ROUTE), changed)
    assert "counting changed" in gw.call(hls_fast_path._route_problem(gw.app))


def test_media_answers_equal_aiohttp(gw):
    edge = position(gw)
    names = [
        "init.mp4",
        f"init{edge['init_version']}.mp4",
        f"seg{edge['last_msn']}.m4s",
        f"part{edge['last_part']}.m4s",
    ]
    for name in names:
        request = hls_head(gw.camera, name)
        before = counters(gw)
        fast = compare(gw, request)
        moved = counters(gw)
        assert fast[0] == "HTTP/1.1 200 OK", name
        assert ("Content-Type", "video/mp4") in fast[1]
        assert ("Cache-Control", "no-cache" if name == "init.mp4" else "public, max-age=60, immutable") in fast[1]
        # The two answers (fast, then aiohttp's) moved every counter by the same amounts.
        fast_delta = {key: moved[key] - before[key] for key in before}
        assert fast_delta["bytes_served"] == fast_delta["bytes_out"] == 2 * len(fast[2])
        assert all(value % 2 == 0 for value in fast_delta.values()), fast_delta


def test_blocking_playlists_equal_aiohttp(gw):
    for query in ("", "_HLS_skip=YES&", "token=a.b.c&", "t=live&x=1&"):
        edge = position(gw)
        request = hls_head(
            gw.camera, "playlist.m3u8", f"{query}_HLS_msn={edge['open_msn']}&_HLS_part={edge['open_parts']}"
        )
        answer = compare(gw, request)
        assert answer[0] == "HTTP/1.1 200 OK", query
        assert ("Cache-Control", f"max-age={6 * muxer_of(gw).segmenter.target_duration}") in answer[1]
        text = answer[2].decode()
        assert f"part{edge['next_part']}.m4s" in text  # it waited for the part it asked for
        if query.startswith("token"):
            uris = re.findall(r'URI="([^"]+)"', text) + re.findall(r"^seg.*$", text, re.MULTILINE)
            assert uris and all(uri.endswith("?token=a.b.c") for uri in uris)
        else:
            assert "?" not in text
    answer = compare(gw, hls_head(gw.camera))  # no blocking: the live edge now
    assert ("Cache-Control", "max-age=1") in answer[1]


def test_preload_hinted_part_equals_aiohttp(gw):
    edge = position(gw)
    before = counters(gw)
    answer = compare(gw, hls_head(gw.camera, f"part{edge['next_part']}.m4s"))
    assert answer[0] == "HTTP/1.1 200 OK" and answer[2][4:8] == b"moof"
    moved = counters(gw)
    assert moved["preload_waits"] - before["preload_waits"] == 2
    assert moved["parts_served"] - before["parts_served"] == 2


def test_answers_left_to_aiohttp(gw):
    edge = position(gw)
    cases = {
        "too-far-ahead": (hls_head(gw.camera, query=f"_HLS_msn={edge['open_msn'] + 5}"), "400 Bad Request"),
        "part-without-msn": (hls_head(gw.camera, query="_HLS_part=1"), "400 Bad Request"),
        "not-a-number": (hls_head(gw.camera, query="_HLS_msn=1x"), "400 Bad Request"),
        "gone-part": (hls_head(gw.camera, "part1.m4s"), "404 Not Found"),
        "no-such-quality": (hls_head(gw.camera, "part1.m4s", quality="mid"), "400 Bad Request"),
        "edge-check": (hls_head(gw.camera, "playlist.m3u8", "", "X-Wepgw-Edge: check"), "204 No Content"),
        "cors": (hls_head(gw.camera, "playlist.m3u8", "", "Origin: https://elsewhere.example"), "200 OK"),
        "percent-encoded": (hls_head(gw.camera, "playlist.m3u8", "t=%6Cive"), "200 OK"),
        "repeated-parameter": (hls_head(gw.camera, "playlist.m3u8", "x=1&x=2"), "200 OK"),
        "guest-link-id": (hls_head(gw.camera, "playlist.m3u8", "token=no-dots"), "200 OK"),
    }
    for name, (request, status) in cases.items():
        before = fast_answers(gw)
        assert plain(gw, request)[0] == f"HTTP/1.1 {status}", name
        assert fast_answers(gw) == before, name


def test_pipelined_requests_behind_a_deferred_answer_keep_their_order(gw):
    edge = position(gw)
    blocking = hls_head(gw.camera, query=f"_HLS_msn={edge['open_msn']}&_HLS_part={edge['open_parts']}")
    part = hls_head(gw.camera, f"part{edge['last_part']}.m4s")
    health = b"GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n"
    before = fast_answers(gw)
    answers = responses(exchange(gw.port, [blocking + part + health + part, LAST]), ["GET"] * 5)
    assert [status for status, _, _ in answers] == ["HTTP/1.1 200 OK"] * 4 + ["HTTP/1.1 404 Not Found"]
    assert answers[0][2].startswith(b"#EXTM3U") and f"part{edge['next_part']}.m4s" in answers[0][2].decode()
    assert answers[1][2] == answers[3][2] and answers[1][2][4:8] == b"moof"
    assert answers[2][2] != answers[1][2]
    # The playlist and the first part here; from /healthz on, the rest of the bytes that
    # came with it follow it to aiohttp.
    assert fast_answers(gw) == before + 2


def test_a_viewer_that_leaves_while_waiting_leaves_nothing_behind(gw):
    edge = position(gw)
    with socket.create_connection(("127.0.0.1", gw.port), timeout=20) as sock:
        sock.sendall(hls_head(gw.camera, f"part{edge['next_part'] + 2}.m4s"))
        time.sleep(0.05)
    started = time.monotonic()
    while muxer_of(gw).waiting:
        assert time.monotonic() - started < 5, "the wait outlived its connection"
        time.sleep(0.05)


def test_requests_waiting_for_the_same_part_share_an_answer_and_one_leaving_changes_nothing(gw):
    edge = position(gw)
    request = hls_head(gw.camera, query=f"_HLS_msn={edge['open_msn']}&_HLS_part={edge['open_parts']}")
    sockets = [socket.create_connection(("127.0.0.1", gw.port), timeout=20) for _ in range(3)]
    answers = []
    try:
        for sock in sockets:
            sock.sendall(request + LAST)
        sockets[0].close()
        for sock in sockets[1:]:
            received = bytearray()
            while chunk := sock.recv(1 << 20):
                received += chunk
            answers.append(responses(bytes(received), ["GET", "GET"])[0])
    finally:
        for sock in sockets:
            sock.close()
    assert answers[0] == answers[1] and answers[0][0] == "HTTP/1.1 200 OK"
    started = time.monotonic()
    while muxer_of(gw).waiting or gw.runner.hls_fast_path._groups:
        assert time.monotonic() - started < 5, "a request or a group outlived its answer"
        time.sleep(0.05)


# -- waits that end in an error answer ---------------------------------------------------


@pytest.fixture(scope="module")
def short_gw(emulator_cache):
    # Waits shorter than a part: they run out. Keep-alive shorter than the waits: a deferred
    # answer must not be taken for an idle connection.
    gateway = ThreadGateway(emulator_cache, 0.1, hls={"blocking_timeout": 0.3}, limits=LIMITS)
    try:
        started = time.monotonic()
        while plain(gateway, hls_head(gateway.camera))[0] != "HTTP/1.1 200 OK":
            assert time.monotonic() - started < 30
            time.sleep(0.5)
        yield gateway
    finally:
        gateway.close()


def test_waits_that_run_out_answer_as_aiohttp(short_gw):
    gw = short_gw
    edge = position(gw)
    before = counters(gw)
    answer = compare(gw, hls_head(gw.camera, query=f"_HLS_msn={edge['open_msn'] + 1}&_HLS_part=2"))
    assert answer[0] == "HTTP/1.1 503 Service Unavailable"
    assert answer[1][:3] == [
        ("Retry-After", "2"),
        ("Content-Type", "application/json; charset=utf-8"),
        ("Cache-Control", "no-store"),
    ]
    assert b'"upstream_unavailable"' in answer[2]
    assert counters(gw)["blocking_timeouts"] - before["blocking_timeouts"] == 2

    edge = position(gw)
    name = f"part{edge['next_part'] + 2}.m4s"
    answer = compare(gw, hls_head(gw.camera, name))
    assert answer[0] == "HTTP/1.1 404 Not Found"
    assert f"{name} is not in the playlist window".encode() in answer[2]


# -- viewer tokens and the viewer limits ---------------------------------------------------


@pytest.fixture(scope="module")
def auth_gw(emulator_cache):
    gateway = ThreadGateway(
        emulator_cache,
        1.5,
        auth={"viewer_auth": True, "token_secret": "s" * 32, "admin_key": ADMIN_KEY},
        limits=LIMITS,
    )
    try:
        yield gateway
    finally:
        gateway.close()


def test_viewer_tokens_on_the_fast_path(auth_gw):
    gw = auth_gw
    tokens = gw.app[TOKENS]
    good, _ = tokens.mint([gw.camera], ["view"], 600)
    other_camera, _ = tokens.mint(["someone-else"], ["view"], 600)
    snapshot_only, _ = tokens.mint([gw.camera], ["snapshot"], 600)
    started = time.monotonic()
    while plain(gw, hls_head(gw.camera, query=f"token={good}"))[0] != "HTTP/1.1 200 OK":  # a new player: aiohttp
        assert time.monotonic() - started < 30
        time.sleep(0.5)
    viewers = gw.call(_viewers(gw))
    assert viewers == 1
    edge = position(gw)
    part = f"part{edge['last_part']}.m4s"
    cases = {
        "none": (hls_head(gw.camera, part), "401 Unauthorized", 0),
        "bad": (hls_head(gw.camera, part, "token=x.y.z"), "401 Unauthorized", 0),
        "other-camera": (hls_head(gw.camera, part, f"token={other_camera}"), "403 Forbidden", 0),
        "no-view-action": (hls_head(gw.camera, part, f"token={snapshot_only}"), "403 Forbidden", 0),
        "admin-key": (hls_head(gw.camera, part, "", f"Authorization: Bearer {ADMIN_KEY}"), "200 OK", 0),
        "query-token": (hls_head(gw.camera, part, f"token={good}"), "200 OK", 1),
        "bearer": (hls_head(gw.camera, part, "", f"Authorization: Bearer {good}"), "200 OK", 1),
        "bad-bearer-good-query": (
            hls_head(gw.camera, part, f"token={good}", "Authorization: Bearer x"),
            "401 Unauthorized",
            0,
        ),
    }
    for name, (request, status, fast) in cases.items():
        before = fast_answers(gw)
        fast_answer, slow_answer = both_ways(gw, request)
        assert fast_answer == slow_answer, name
        assert fast_answer[0][0] == f"HTTP/1.1 {status}", name
        assert fast_answers(gw) - before == fast, name

    # A known player's playlist is answered here, its token in every URI; a new one's by aiohttp.
    answer = compare(gw, hls_head(gw.camera, query=f"token={good}"))
    assert f"?token={good}" in answer[2].decode()
    newcomer, _ = tokens.mint([gw.camera], ["view"], 600)
    before = fast_answers(gw)
    assert plain(gw, hls_head(gw.camera, query=f"token={newcomer}"))[0] == "HTTP/1.1 200 OK"
    assert fast_answers(gw) == before and gw.call(_viewers(gw)) == 2
    assert plain(gw, hls_head(gw.camera, query=f"token={newcomer}"))[0] == "HTTP/1.1 200 OK"
    assert fast_answers(gw) == before + 1 and gw.call(_viewers(gw)) == 2


async def _viewers(gw: ThreadGateway) -> int:
    return gw.app[LEDGER].viewers().get((gw.camera, "hls"), 0)


# -- sans-IO pieces -------------------------------------------------------------------------


def test_hls_heads_are_read_with_their_fields():
    request = b"GET /hls/cam-1/low/playlist.m3u8?_HLS_msn=5&token=a.b HTTP/1.1\r\nHost: gw\r\n\r\n"
    head = read_head(request + b"rest")
    assert head.kind is Kind.HLS and head.length == len(request)
    assert head.hls == HlsHead("cam-1", "low", "playlist.m3u8", "_HLS_msn=5&token=a.b", None)
    for name in ("init.mp4", "init3.mp4", "seg12.m4s", "part99.m4s"):
        assert read_head(b"GET /hls/c/high/%s HTTP/1.1\r\nHost: gw\r\n\r\n" % name.encode()).hls.name == name
    aiohttps = [
        b"GET /hls/c/low/r1-seg2.m4s HTTP/1.1\r\nHost: gw\r\n\r\n",  # a recording's media
        b"GET /hls/c/low/seg.m4s HTTP/1.1\r\nHost: gw\r\n\r\n",
        b"GET /hls/c/low/init.m4s HTTP/1.1\r\nHost: gw\r\n\r\n",
        b"GET /hls/c/index.m3u8 HTTP/1.1\r\nHost: gw\r\n\r\n",
        b"GET /hls/c/low/playlist.m3u8?t=2024-01-01T00%3A00%3A00Z HTTP/1.1\r\nHost: gw\r\n\r\n",
        b"GET /hls/c/low/playlist.m3u8?a=b+c HTTP/1.1\r\nHost: gw\r\n\r\n",
        b"GET /hls/../low/playlist.m3u8 HTTP/1.1\r\nHost: gw\r\n\r\n",
        b"GET /hls/c/low/playlist.m3u8 HTTP/1.1\r\nHost: gw\r\nX-Wepgw-Edge: cache\r\n\r\n",
        b"HEAD /hls/c/low/playlist.m3u8 HTTP/1.1\r\nHost: gw\r\n\r\n",
    ]
    for request in aiohttps:
        assert read_head(request).kind is Kind.BODILESS, request
    whole = b"GET /hls/c/low/part7.m4s HTTP/1.1\r\nHost: gw\r\n\r\n"
    for cut in range(1, len(whole)):
        assert read_head(whole[:cut]).kind is Kind.PARTIAL, cut


def test_a_query_is_written_into_the_shared_playlist_as_rendering_it_would():
    muxer = HlsMuxer("cam", "low", HlsConfig())
    clock = FrameClock(fps=15, gop=15)
    muxer.feed(video_init())
    for frame in clock.frames(60):
        muxer.feed(frame)
    for delta in (False, True):
        for query in ("", "token=a.b.c", "token=x"):
            expected = render_media(muxer.describe(query, delta)).encode()
            assert muxer.media_playlist(query, delta) == expected, (query, delta)
            assert muxer.media_playlist(query, delta) is muxer.media_playlist(query, delta)  # held
    assert muxer.counters.playlists_rendered == 2  # once per delta, whatever the queries
