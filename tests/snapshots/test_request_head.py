"""request_head.py: which bytes the fast path may answer, and where a head ends."""

import pytest

from gateway.snapshots.request_head import MAX_HEAD, Kind, SnapshotHead, read_head

HIT = b"GET /api/v1/cameras/cam-1/snapshot.jpg?t=live&size=320x180 HTTP/1.1\r\nHost: gw\r\n\r\n"


def kind(head: bytes) -> Kind:
    return read_head(head).kind


def test_snapshot_head_is_read_with_its_fields():
    head = read_head(
        b"GET /api/v1/cameras/cam-1/snapshot.jpg?token=a%2Bb HTTP/1.1\r\nHost: gw\r\n"
        b'authorization:  Bearer xyz \t\r\nIf-None-Match: "e1"\r\nConnection: Keep-Alive\r\n\r\nrest'
    )
    assert head.kind is Kind.SNAPSHOT
    assert head.snapshot == SnapshotHead("cam-1", "token=a%2Bb", "Bearer xyz", '"e1"')
    assert head.length == len(
        b"GET /api/v1/cameras/cam-1/snapshot.jpg?token=a%2Bb HTTP/1.1\r\nHost: gw\r\n"
        b'authorization:  Bearer xyz \t\r\nIf-None-Match: "e1"\r\nConnection: Keep-Alive\r\n\r\n'
    )


def test_pipelined_heads_are_read_one_after_another():
    stream = HIT + b"GET /healthz HTTP/1.1\r\n\r\n" + HIT[:30]
    first = read_head(stream)
    second = read_head(stream, first.length)
    assert (first.kind, second.kind) == (Kind.SNAPSHOT, Kind.BODILESS)
    assert read_head(stream, first.length + second.length).kind is Kind.PARTIAL


@pytest.mark.parametrize(
    "head",
    [
        b"HEAD /api/v1/cameras/c/snapshot.jpg HTTP/1.1\r\n\r\n",
        b"GET /api/v1/cameras/c/snapshot.jpg HTTP/1.1\r\n\r\n",  # no Host: aiohttp's 400
        b"GET /api/v1/cameras/c/snapshot.jpg HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key1: x\r\n\r\n",
        b"GET /api/v1/cameras/c/snapshot.jpg/ HTTP/1.1\r\n\r\n",
        b"GET /api/v1/cameras/c%41/snapshot.jpg HTTP/1.1\r\n\r\n",  # percent-decoded by the router
        b"GET /api/v1/cameras/../snapshot.jpg HTTP/1.1\r\n\r\n",  # a dot-segment
        b"GET /api/v1/cameras/c/snapshot.jpg#f HTTP/1.1\r\n\r\n",
        b'GET /api/v1/cameras/c/snapshot.jpg?a="b" HTTP/1.1\r\n\r\n',
        b"GET /api/v1/cameras/c/snapshot.jpg HTTP/1.1\r\nOrigin: https://x\r\n\r\n",  # CORS
        b"GET /api/v1/cameras/c/snapshot.jpg HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
        b"GET /api/v1/cameras/c/snapshot.jpg HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",  # aiohttp: 400
        b"GET /api/v1/cameras/c/snapshot.jpg HTTP/1.1\r\nRange: bytes=0-1\r\n\r\n",
        b"POST /api/v1/cameras/c/snapshot.jpg HTTP/1.1\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nConnection: keep-alive\r\n\r\n",
    ],
)
def test_requests_for_aiohttp_that_keep_the_message_boundary(head):
    assert read_head(head).kind is Kind.BODILESS
    assert read_head(head).length == len(head)


@pytest.mark.parametrize(
    "head",
    [
        b"GET /api/v1/cameras/c/snapshot.jpg HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
        b"GET /api/v1/cameras/c/snapshot.jpg HTTP/1.1\r\ncontent-LENGTH: 5\r\n\r\nhello",
        b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"GET /api/v1/cameras/c/snapshot.jpg HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n",  # space before colon
        b"GET /api/v1/cameras/c/snapshot.jpg HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        b"GET /api/v1/cameras/c/snapshot.jpg HTTP/1.1\r\nConnection: close\r\n\r\n",
        b"GET /api/v1/cameras/c/snapshot.jpg HTTP/1.1\r\nConnection: keep-alive, x\r\n\r\n",
        b"GET /api/v1/cameras/c/snapshot.jpg HTTP/1.0\r\n\r\n",
        b"GET /api/v1/cameras/c/snapshot.jpg HTTP/1.1\nHost: x\r\n\r\n",  # bare LF
        b"GET /api/v1/cameras/c/snapshot.jpg HTTP/1.1\r\nHost: x\ry\r\n\r\n",  # bare CR
        b"GET /api/v1/cameras/c/snapshot.jpg HTTP/1.1\r\nX: a\r\n b\r\n\r\n",  # obs-fold (RFC 9112 5.2)
        b"GET /api/v1/cameras/c/snapshot.jpg HTTP/1.1\r\nX: \x00\r\n\r\n",
        b"GET /api/v1/cameras/c/snapshot.jpg HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n",  # obs-text
        b"\r\nGET /api/v1/cameras/c/snapshot.jpg HTTP/1.1\r\n\r\n",  # a leading empty line
        b"CONNECT gw:443 HTTP/1.1\r\n\r\n",
        b"get /api/v1/cameras/c/snapshot.jpg HTTP/1.1\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: x\r\n",  # incomplete, and cannot become a snapshot request
        b"GET /api/v1/cameras/c/snapshot.jpg HTTP/1.1\r\nX: " + b"a" * MAX_HEAD,  # too long to wait for
        b"GET /api/v1/cameras/c/snapshot.jpg HTTP/1.1\r\nX: " + b"a" * MAX_HEAD + b"\r\n\r\n",
        b"GET /api/v1/cameras/c/snapshot.jpg HTTP/1.1\n",  # llhttp answers a bare LF at once: no waiting
    ],
)
def test_requests_only_aiohttp_can_delimit(head):
    assert read_head(head).kind is Kind.FOREIGN


def test_every_prefix_of_a_snapshot_head_is_partial():
    for cut in range(1, len(HIT)):
        assert kind(HIT[:cut]) is Kind.PARTIAL, cut
    assert kind(HIT) is Kind.SNAPSHOT


def test_head_split_anywhere_reads_the_same():
    stream = HIT + b"GET /api/v1/cameras/c/snapshot.jpg HTTP/1.1\r\nHost: a\r\nIf-None-Match: *\r\n\r\n"
    whole = read_head(stream)
    for cut in range(whole.length + 1, len(stream)):
        head = read_head(stream[:cut], whole.length)
        assert head.kind is Kind.PARTIAL
    assert read_head(stream, whole.length).snapshot == SnapshotHead("c", "", None, "*")
