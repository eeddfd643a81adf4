"""RTSP 1.0 message framing on one TCP connection (RFC 2326), sans-IO.

A server's input is requests (request line, headers, optional body of Content-Length
bytes, 4 and 6) interleaved with binary frames: `$`, a channel byte, a 16-bit length and
that many bytes (10.12), which is how a client sends RTCP receiver reports over TCP.
`RtspReader` is fed whatever the socket gave and returns the complete messages; the
rest is the writers for responses and interleaved frames.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.api.query import is_ascii_digits

MAX_HEAD = 16 * 1024
MAX_BODY = 64 * 1024

REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    454: "Session Not Found",
    455: "Method Not Valid in This State",
    461: "Unsupported Transport",
    500: "Internal Server Error",
    501: "Not Implemented",
    505: "RTSP Version not supported",
}

_FRAME_HEAD = struct.Struct("!cBH")


class RtspFramingError(ValueError):
    """The bytes are not RTSP requests and interleaved frames."""


@dataclass(frozen=True, slots=True)
class RtspRequest:
    method: str
    uri: str
    version: str
    headers: dict[str, str]  # names lowercased; a repeated header's values joined by ", "
    body: bytes = b""

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    @property
    def cseq(self) -> str | None:
        return self.headers.get("cseq")


@dataclass(frozen=True, slots=True)
class InterleavedFrame:
    channel: int
    payload: bytes


class RtspReader:
    """Feed bytes, get `RtspRequest` and `InterleavedFrame` events in order.

    After a `RtspFramingError` the reader is finished: the connection's byte stream can
    no longer be split into messages, so the server answers 400 and closes.
    """

    def __init__(self, max_head: int = MAX_HEAD, max_body: int = MAX_BODY) -> None:
        self._max_head = max_head
        self._max_body = max_body
        self._buf = bytearray()
        self._error: RtspFramingError | None = None

    def feed(self, data: bytes) -> list[RtspRequest | InterleavedFrame]:
        if self._error is not None:
            raise RtspFramingError(f"reader stopped after an earlier error: {self._error}")
        self._buf += data
        events: list[RtspRequest | InterleavedFrame] = []
        try:
            while (event := self._next()) is not None:
                events.append(event)
        except RtspFramingError as exc:
            self._error = exc
            raise
        return events

    def _next(self) -> RtspRequest | InterleavedFrame | None:
        buf = self._buf
        # RFC 2616 4.1 (RTSP borrows it): ignore empty lines before a request line.
        while buf[:2] == b"\r\n":
            del buf[:2]
        if not buf:
            return None
        if buf[0] == 0x24:  # "$": RFC 2326 10.12
            if len(buf) < 4:
                return None
            _, channel, length = _FRAME_HEAD.unpack_from(buf)
            if len(buf) < 4 + length:
                return None
            frame = InterleavedFrame(channel, bytes(buf[4 : 4 + length]))
            del buf[: 4 + length]
            return frame
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > self._max_head:
                raise RtspFramingError(f"request head longer than {self._max_head} bytes")
            return None
        if end > self._max_head:
            raise RtspFramingError(f"request head longer than {self._max_head} bytes")
        method, uri, version, headers = _parse_head(bytes(buf[:end]))
        length_text = headers.get("content-length", "0")
        if not is_ascii_digits(length_text) or len(length_text) > 9:
            raise RtspFramingError(f"Content-Length {length_text!r} is not a number")
        length = int(length_text)
        if length > self._max_body:
            raise RtspFramingError(f"request body of {length} bytes exceeds {self._max_body}")
        if len(buf) < end + 4 + length:
            return None
        body = bytes(buf[end + 4 : end + 4 + length])
        del buf[: end + 4 + length]
        return RtspRequest(method, uri, version, headers, body)


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise RtspFramingError("request head is not UTF-8 text") from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0] or not parts[1] or not parts[2].startswith("RTSP/"):
        raise RtspFramingError(f"bad request line {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    name = None
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):  # RFC 2616 2.2: a folded continuation line
            if name is None:
                raise RtspFramingError("continuation line before any header")
            headers[name] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        name = name.strip().lower()
        if not sep or not name:
            raise RtspFramingError(f"bad header line {line[:80]!r}")
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return parts[0], parts[1], parts[2], headers


def render_response(status: int, cseq: str | None, headers: Sequence[tuple[str, str]] = (), body: bytes = b"") -> bytes:
    """A response; CSeq echoed (RFC 2326 12.17), Content-Length when there is a body."""
    lines = [f"RTSP/1.0 {status} {REASONS.get(status, 'Unknown')}"]
    if cseq is not None:
        lines.append(f"CSeq: {cseq}")
    lines += [f"{name}: {value}" for name, value in headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def render_request(method: str, uri: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b"") -> bytes:
    """A request, as a client writes it (for tests and fixtures)."""
    lines = [f"{method} {uri} RTSP/1.0", *(f"{name}: {value}" for name, value in headers)]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def interleaved(channel: int, packet: bytes) -> bytes:
    """RFC 2326 10.12: one RTP or RTCP packet on the RTSP connection."""
    if len(packet) > 0xFFFF:
        raise RtspFramingError(f"a {len(packet)}-byte packet does not fit an interleaved frame")
    return _FRAME_HEAD.pack(b"$", channel, len(packet)) + packet


@dataclass(frozen=True, slots=True)
class TransportSpec:
    """One transport a client offers in SETUP (RFC 2326 12.39)."""

    protocol: str  # "RTP/AVP" (UDP) or "RTP/AVP/TCP"
    params: dict[str, str]  # "unicast", "interleaved" -> "0-1", ...

    @property
    def tcp(self) -> bool:
        return self.protocol.upper() == "RTP/AVP/TCP"

    def interleaved_channels(self) -> tuple[int, int] | None:
        value = self.params.get("interleaved")
        if value is None:
            return None
        first, _, second = value.partition("-")
        if not is_ascii_digits(first) or (second and not is_ascii_digits(second)) or len(value) > 7:
            raise RtspFramingError(f"bad interleaved={value!r}")
        rtp = int(first)
        rtcp = int(second) if second else rtp + 1
        if rtp > 255 or rtcp > 255:
            raise RtspFramingError(f"interleaved channels {value!r} exceed 255")
        return rtp, rtcp


def parse_transport(value: str) -> list[TransportSpec]:
    """The transports of a Transport header, in the client's order of preference."""
    specs = []
    for offer in value.split(","):
        fields = [f.strip() for f in offer.split(";") if f.strip()]
        if not fields:
            continue
        params = {}
        for item in fields[1:]:
            key, _, param = item.partition("=")
            params[key.lower()] = param
        # "RTP/AVP" means "RTP/AVP/UDP" (12.39); the profile is case-insensitive.
        protocol = fields[0].upper()
        specs.append(TransportSpec("RTP/AVP" if protocol == "RTP/AVP/UDP" else protocol, params))
    return specs
