"""eventManager.cgi attach: the multipart parts a Dahua camera writes, sans-IO.

Each event is one part of a never-ending `multipart/x-mixed-replace` body (RFC 2046
5.1.1 framing, as MJPEG streams use it): `--myboundary`, a Content-Type and a
Content-Length header, a blank line, the body, a blank line. The body is
`Code=<code>;action=<Start|Stop|Pulse>;index=<0-based channel>`, with `;data=<json>` when
the event carries details; Dahua firmware writes that JSON styled (3-space indent,
`"key" : value`), which python-amcrest's key/value regex relies on.
"""

from __future__ import annotations

import json

from gateway.api.query import is_ascii_decimal

BOUNDARY = "myboundary"
CONTENT_TYPE = f"multipart/x-mixed-replace; boundary={BOUNDARY}"
ALL_CODES = "All"


class EventRequestError(ValueError):
    """The attach request's codes or heartbeat cannot be used."""


def event_body(code: str, action: str, index: int, data: dict | None = None) -> bytes:
    body = f"Code={code};action={action};index={index}"
    if data is not None:
        body += ";data=" + json.dumps(data, indent=3, separators=(",", " : "))
    return body.encode()


def event_part(body: bytes) -> bytes:
    head = f"--{BOUNDARY}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    return head + body + b"\r\n\r\n"


HEARTBEAT_PART = event_part(b"Heartbeat")


def parse_codes(value: str | None) -> frozenset[str] | None:
    """`[All]` -> None (every code); `[VideoMotion,AudioMutation]` -> those codes."""
    if not value:
        raise EventRequestError("codes is required, e.g. codes=[All]")
    inner = value.strip()
    if inner.startswith("[") and inner.endswith("]"):
        inner = inner[1:-1]
    codes = frozenset(code.strip() for code in inner.split(",") if code.strip())
    if not codes:
        raise EventRequestError(f"codes {value!r} names no event code")
    return None if ALL_CODES in codes else codes


def parse_heartbeat(value: str | None, default: float) -> float:
    if value is None:
        return default
    if not is_ascii_decimal(value) or len(value) > 12:
        raise EventRequestError(f"heartbeat {value!r} is not a number")
    seconds = float(value)
    if not 0 < seconds <= 3600:
        raise EventRequestError(f"heartbeat {value!r} is out of range")
    return seconds
