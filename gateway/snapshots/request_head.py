"""HTTP/1.1 request heads for the fast path (gateway/snapshots/fast_path.py). Sans-IO.

`read_head(buffer, start)` tells what the bytes at `start` are, as far as the fast path
needs to know, and where the request ends:

- SNAPSHOT: a complete `GET /api/v1/cameras/{camera}/snapshot.jpg` head the fast path may
  answer itself (it still checks the token, the query and the cache);
- HLS: a complete `GET /hls/{camera}/{quality}/{name}` head for a live media playlist,
  init segment, segment or part (gateway/hls/fast_path.py checks the rest);
- BODILESS: a complete head of any other request that has no body, so aiohttp's parser,
  fed exactly these bytes, ends on a message boundary (RFC 9112 6.3: a request without
  Content-Length or Transfer-Encoding has no body);
- PARTIAL: not complete yet, and it may still become a SNAPSHOT or HLS head: wait for more
  bytes;
- FOREIGN: anything else (a body, an upgrade, HTTP/1.0, a bare LF, an oversized head, a
  prefix that cannot become a SNAPSHOT or HLS head): aiohttp alone can tell where it ends.

The reading is deliberately narrower than RFC 9112 and than llhttp, never wider: when this
module says a head ends at some offset, llhttp (aiohttp's strict request parser) either
agrees or rejects the bytes (a 400 that closes the connection). Everything odd is FOREIGN.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from functools import lru_cache

# Well inside aiohttp's defaults (max_line_size = max_field_size = 8190, max_headers = 128),
# so a head read here never trips a limit there.
MAX_HEAD = 8190
MAX_FIELDS = 100

SNAPSHOT_PREFIX = b"GET /api/v1/cameras/"
HLS_PREFIX = b"GET /hls/"
_END = b"\r\n\r\n"

# RFC 9112 3: request-line = method SP request-target SP HTTP-version. Methods whose
# requests have a body only when they say so; CONNECT (a tunnel) and unknown ones are FOREIGN.
_REQUEST_LINE = re.compile(rb"(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH) ([\x21-\x7e]+) HTTP/1\.1\r\n")
# The snapshot route's target. The camera segment is unreserved characters only (RFC 3986
# 2.3), so aiohttp's router sees it undecoded; the query is RFC 3986 3.4 characters (no
# fragment), which aiohttp keeps as raw_query_string byte for byte.
_SNAPSHOT_TARGET = re.compile(
    rb"/api/v1/cameras/([A-Za-z0-9._~-]{1,200})/snapshot\.jpg(?:\?([A-Za-z0-9._~!$&'()*+,;=:@/?%-]*))?"
)
# The live HLS routes' targets (gateway/hls/routes.py): a media playlist, an init segment
# (current or versioned), a segment or a part. Camera and quality as the snapshot's camera;
# the query narrower still: no percent-encoding and no '+', so splitting it on '&' and '='
# reads it as aiohttp's `request.query` does. Recorded names (r...) are aiohttp's.
_HLS_TARGET = re.compile(
    rb"/hls/([A-Za-z0-9._~-]{1,200})/([A-Za-z0-9._~-]{1,200})/"
    rb"(playlist\.m3u8|init[0-9]{0,20}\.mp4|(?:seg|part)[0-9]{1,20}\.m4s)(?:\?([A-Za-z0-9._~=&-]*))?"
)
# RFC 9110 5.1 field-name = token; RFC 9112 5: no whitespace before the colon, no obs-fold.
# Values: visible ASCII, SP and HTAB only (no obs-text, no control characters).
_FIELDS = re.compile(rb"(?:[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e]*\r\n)*")
_FIELD_NAME = re.compile(rb"\n([^:]+):")
_PARTIAL = re.compile(rb"(?:[\t\x20-\x7e]|\r\n)*\r?")

# Fields that give a request a body or change what the connection is (RFC 9112 6.1, 6.3,
# 9.6; RFC 9110 7.8): their requests are FOREIGN.
_FRAMING = (b"content-length", b"transfer-encoding", b"upgrade")
# Fields the snapshot answer depends on beyond the URL and the token, handled by aiohttp's
# side: CORS (Origin), 100-continue (Expect), ranges and other preconditions; and the old
# WebSocket draft's key, which aiohttp refuses (400).
_SLOW_FIELDS = frozenset(
    {
        b"origin",
        b"expect",
        b"range",
        b"if-range",
        b"if-match",
        b"if-modified-since",
        b"if-unmodified-since",
        b"sec-websocket-key1",
    }
)
# The edge tier's request (gateway/hls/routes.py: `check`, `cache`): answered by aiohttp.
_SLOW_HLS_FIELDS = _SLOW_FIELDS | {b"x-wepgw-edge"}


class Kind(enum.Enum):
    SNAPSHOT = "snapshot"
    HLS = "hls"
    BODILESS = "bodiless"
    PARTIAL = "partial"
    FOREIGN = "foreign"


@dataclass(frozen=True, slots=True)
class SnapshotHead:
    """What the fast path needs of a SNAPSHOT head; the values as aiohttp would give them."""

    camera: str
    raw_query: str
    authorization: str | None = None
    if_none_match: str | None = None


@dataclass(frozen=True, slots=True)
class HlsHead:
    """What the fast path needs of an HLS head; the values as aiohttp would give them."""

    camera: str
    quality: str
    name: str  # playlist.m3u8, init[N].mp4, seg<N>.m4s or part<N>.m4s
    raw_query: str
    authorization: str | None = None


@dataclass(frozen=True, slots=True)
class Head:
    kind: Kind
    length: int  # bytes of the head (SNAPSHOT, HLS, BODILESS); 0 for PARTIAL and FOREIGN
    snapshot: SnapshotHead | None = None
    hls: HlsHead | None = None


PARTIAL = Head(Kind.PARTIAL, 0)
FOREIGN = Head(Kind.FOREIGN, 0)


def read_head(buffer: bytes, start: int = 0) -> Head:
    """What the request starting at `buffer[start]` is, and how long its head is."""
    end = buffer.find(_END, start, start + MAX_HEAD + len(_END))
    if end < 0:
        if len(buffer) - start < MAX_HEAD and _may_become_fast(buffer, start):
            return PARTIAL
        return FOREIGN
    end += len(_END)
    return classify(buffer if start == 0 and end == len(buffer) else buffer[start:end])


# A pure function of the bytes, and clients repeat the very same head (a dashboard polling
# a URL, a player): remembering the last few saves the regular expressions on a hit.
@lru_cache(maxsize=256)
def classify(head: bytes) -> Head:
    """The kind of one complete head (it ends with the first CRLF CRLF of `head`)."""
    line = _REQUEST_LINE.match(head)
    if line is None:
        return FOREIGN
    fields_at = line.end()
    if _FIELDS.fullmatch(head, fields_at, len(head) - 2) is None:
        return FOREIGN  # a bare CR or LF, obs-fold, a control character...
    # Each field line starts after a LF; lowering the block makes name tests exact.
    lowered = head.lower()
    names = _FIELD_NAME.findall(lowered, fields_at - 1)
    if len(names) > MAX_FIELDS or any(name in _FRAMING for name in names):
        return FOREIGN
    connection = _field(head, lowered, fields_at, names, b"connection")
    if connection is not None and connection.lower() != "keep-alive":
        return FOREIGN  # close, upgrade, or a list of hop-by-hop fields: aiohttp's to judge
    if line.group(1) != b"GET" or len(set(names)) != len(names) or b"host" not in names:
        # aiohttp refuses some repeated fields (400) and takes the first one elsewhere;
        # RFC 9112 3.2: an HTTP/1.1 request without Host is a 400 (aiohttp too).
        return Head(Kind.BODILESS, len(head))
    target = line.group(2)
    if target.startswith(b"/hls/"):
        return _hls(head, lowered, fields_at, names, target)
    snapshot = _SNAPSHOT_TARGET.fullmatch(target)
    if (
        snapshot is None
        or snapshot.group(1).strip(b".") == b""  # `.` and `..` are dot-segments (RFC 3986 5.2.4)
        or not _SLOW_FIELDS.isdisjoint(names)
    ):
        return Head(Kind.BODILESS, len(head))
    return Head(
        Kind.SNAPSHOT,
        len(head),
        SnapshotHead(
            camera=snapshot.group(1).decode("ascii"),
            raw_query=(snapshot.group(2) or b"").decode("ascii"),
            authorization=_field(head, lowered, fields_at, names, b"authorization"),
            if_none_match=_field(head, lowered, fields_at, names, b"if-none-match"),
        ),
    )


def _hls(head: bytes, lowered: bytes, fields_at: int, names: list[bytes], target: bytes) -> Head:
    match = _HLS_TARGET.fullmatch(target)
    if (
        match is None
        or match.group(1).strip(b".") == b""
        or match.group(2).strip(b".") == b""
        or not _SLOW_HLS_FIELDS.isdisjoint(names)
    ):
        return Head(Kind.BODILESS, len(head))
    camera, quality, name, query = match.groups()
    return Head(
        Kind.HLS,
        len(head),
        hls=HlsHead(
            camera=camera.decode("ascii"),
            quality=quality.decode("ascii"),
            name=name.decode("ascii"),
            raw_query=(query or b"").decode("ascii"),
            authorization=_field(head, lowered, fields_at, names, b"authorization"),
        ),
    )


def _field(head: bytes, lowered: bytes, fields_at: int, names: list[bytes], name: bytes) -> str | None:
    """The value of field `name` (its first occurrence), without the optional whitespace
    around it (RFC 9110 5.5), as aiohttp gives it; None when absent."""
    if name not in names:
        return None
    value_at = lowered.find(b"\n" + name + b":", fields_at - 1) + len(name) + 2
    return head[value_at : head.find(b"\r\n", value_at)].strip(b" \t").decode("ascii")


def _may_become_fast(buffer: bytes, start: int) -> bool:
    """Whether the incomplete bytes at `start` may still turn into a SNAPSHOT or HLS head:
    worth holding back from aiohttp until the rest arrives."""
    # llhttp rejects a bare CR or LF at once (400): such bytes go to it without waiting.
    return (
        SNAPSHOT_PREFIX.startswith(buffer[start : start + len(SNAPSHOT_PREFIX)])
        or HLS_PREFIX.startswith(buffer[start : start + len(HLS_PREFIX)])
    ) and _PARTIAL.fullmatch(buffer, start) is not None
