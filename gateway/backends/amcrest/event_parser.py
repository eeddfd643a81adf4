"""The Amcrest/Dahua event stream, sans-IO: bytes of `eventManager.cgi?action=attach` in,
`EventPart` and `Heartbeat` out (h11's model: no socket, no clock).

The answer is a never-ending `multipart/x-mixed-replace`. Each part is a boundary line
`--<boundary>`, headers (`Content-Type: text/plain`, `Content-Length: n`), a blank line and n
bytes of body such as `Code=VideoMotion;action=Start;index=0`, sometimes followed by
`;data={...}` (JSON that may hold `;` and `=`, so it runs to the end of the body); CRLFs
follow. `Heartbeat` bodies keep the connection alive. Quirks tolerated, as the Scrypted and
python-amcrest clients do: a stray `HTTP/1.1 200 OK` line, with or without headers, between
parts; the closing delimiter `--<boundary>--`; a part without Content-Length, whose body then
runs to the next boundary line.

Anything else is garbage and raises `EventStreamError` with a one-line message quoting at
most `EXCERPT` bytes. Memory is bounded: a line is at most `MAX_LINE` bytes, a body at most
`MAX_BODY`, and `MAX_BODY` bytes without a boundary is garbage too.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass

from gateway.api.query import is_ascii_digits

MAX_LINE = 8 * 1024  # a boundary, status or header line
MAX_BODY = 64 * 1024  # one part's body; also the most bytes taken between two boundaries
EXCERPT = 40  # input bytes quoted in an error message (its repr stays under ~60 characters)


class EventStreamError(ValueError):
    """The stream is not what eventManager sends. `events` holds what the same `feed()` call
    completed before the fault, so a caller loses nothing however the bytes were split."""

    def __init__(self, message: str, events: list[EventPart | Heartbeat] | None = None):
        super().__init__(message)
        self.events: list[EventPart | Heartbeat] = events or []


@dataclass(frozen=True, slots=True)
class EventPart:
    code: str  # "VideoMotion", "CrossLineDetection"...
    action: str  # "Start" | "Stop" | "Pulse" (doorbells also send others)
    index: int  # 0-based channel
    data: dict | None  # the `data=` JSON, when sent
    raw: str  # the body as received


@dataclass(frozen=True, slots=True)
class Heartbeat:
    pass


def boundary_from_content_type(value: str) -> str:
    """The boundary of a `multipart/...; boundary=b` Content-Type (quoted or not)."""
    media_type, _, params = value.partition(";")
    if not media_type.strip().lower().startswith("multipart/"):
        raise EventStreamError(f"event stream is {_quote(media_type.strip().encode())}, not multipart")
    for param in params.split(";"):
        name, _, raw = param.partition("=")
        if name.strip().lower() == "boundary":
            boundary = raw.strip().strip('"')
            if boundary:
                return boundary
    raise EventStreamError("multipart event stream without a boundary")


def parse_body(body: bytes) -> EventPart | Heartbeat:
    """One part's body: `Heartbeat`, or `Code=..;action=..;index=..[;data={json}]`."""
    # Names in the data JSON are the camera owner's; a stray byte must not drop the stream.
    text = body.decode("utf-8", "replace").strip()
    if text == "Heartbeat":
        return Heartbeat()
    head, sep, data_text = text.partition(";data=")
    fields = {}
    for item in head.split(";"):
        name, eq, value = item.partition("=")
        if eq:
            fields[name.strip().lower()] = value.strip()
    if not fields.get("code"):
        raise EventStreamError(f"event body without a Code: {_quote(body)}")
    try:
        index = int(fields.get("index", "0"))
    except ValueError:
        raise EventStreamError(f"event body with a bad index: {_quote(body)}") from None
    data = None
    if sep:
        try:
            data = json.loads(data_text)
        except ValueError:
            raise EventStreamError(f"event data is not JSON: {_quote(data_text.encode())}") from None
        if not isinstance(data, dict):
            data = {"value": data}
    return EventPart(fields["code"], fields.get("action", ""), index, data, text)


class _State(enum.Enum):
    BETWEEN = "between parts"  # expecting a boundary line, blank lines or a stray status line
    STRAY = "stray response head"  # after `HTTP/1.1 200 OK`: header lines up to a blank line
    HEADERS = "headers"
    BODY = "body"  # Content-Length bytes
    BODY_TO_BOUNDARY = "body without Content-Length"
    FAILED = "failed"


class EventStreamParser:
    """Feed it the response body as it arrives; it returns the parts completed so far."""

    def __init__(self, boundary: str):
        if not boundary:
            raise ValueError("empty multipart boundary")
        self._delimiter = b"--" + boundary.encode("latin-1")
        self._openings = {self._delimiter}
        if boundary.startswith("--"):  # some firmware puts the dashes in the Content-Type too
            self._openings.add(boundary.encode("latin-1"))
        self._closings = {opening + b"--" for opening in self._openings}
        self._line_starts = (*self._openings, b"HTTP/")
        self._buffer = bytearray()
        self._state = _State.BETWEEN
        self._length = 0  # body bytes expected in BODY
        self._scanned = 0  # BODY_TO_BOUNDARY: bytes already searched for a boundary
        self._since_boundary = 0  # bytes outside bodies since the last boundary line
        self._error: EventStreamError | None = None

    @property
    def pending(self) -> bool:
        """A part has begun and is not complete: the stream ending now would cut it."""
        if self._state in (_State.HEADERS, _State.BODY, _State.BODY_TO_BOUNDARY):
            return True
        return bool(self._buffer.strip())

    def feed(self, data: bytes) -> list[EventPart | Heartbeat]:
        if self._error is not None:
            raise self._error
        self._buffer += data
        events: list[EventPart | Heartbeat] = []
        try:
            while self._step(events):
                pass
        except EventStreamError as exc:
            self._state, self._buffer = _State.FAILED, bytearray()
            self._error = EventStreamError(str(exc), events)
            raise self._error from None
        return events

    def close(self) -> None:
        """The stream ended: an error if it ended inside a part."""
        if self._error is not None:
            raise self._error
        if self._state is _State.BODY:
            raise EventStreamError(
                f"event stream ended inside a part: {len(self._buffer)} of {self._length} body bytes"
            )
        if self._state in (_State.HEADERS, _State.BODY_TO_BOUNDARY):
            raise EventStreamError(f"event stream ended inside a part's {self._state.value}")
        if self.pending:
            raise EventStreamError(f"event stream ended inside a line: {_quote(self._buffer)}")

    # -- the state machine: each step consumes from the buffer, False when it needs more ---

    def _step(self, events: list[EventPart | Heartbeat]) -> bool:
        if self._state is _State.BODY:
            if len(self._buffer) < self._length:
                return False
            body = bytes(self._buffer[: self._length])
            del self._buffer[: self._length]
            self._state = _State.BETWEEN
            events.append(parse_body(body))
            return True
        if self._state is _State.BODY_TO_BOUNDARY:
            return self._body_to_boundary(events)
        line = self._line()
        if line is None:
            return False
        if self._state is _State.HEADERS:
            self._header(line)
        else:
            self._between(line)
        return True

    def _line(self) -> bytes | None:
        end = self._buffer.find(b"\n")
        if end < 0:
            if len(self._buffer) > MAX_LINE:
                raise EventStreamError(
                    f"line longer than {MAX_LINE} bytes in the {self._state.value}: {_quote(self._buffer)}"
                )
            if self._state is _State.BETWEEN:
                self._check_line_start()
            return None
        line = bytes(self._buffer[:end]).rstrip(b"\r")
        del self._buffer[: end + 1]
        self._since_boundary += end + 1
        if self._since_boundary > MAX_BODY:
            raise EventStreamError(f"no boundary in {MAX_BODY} bytes: {_quote(line)}")
        return line

    def _check_line_start(self) -> None:
        # Fail on binary garbage at once rather than after MAX_LINE bytes.
        start = bytes(self._buffer).lstrip(b" \t\r")
        if start and not any(known.startswith(start) or start.startswith(known) for known in self._line_starts):
            raise EventStreamError(f"expected a boundary, got {_quote(start)}")

    def _between(self, line: bytes) -> None:
        stripped = line.strip()
        if stripped in self._openings:
            self._state, self._length, self._since_boundary = _State.HEADERS, -1, 0
        elif stripped in self._closings:
            self._state = _State.BETWEEN  # the closing delimiter: the camera may go on anyway
        elif not stripped:
            if self._state is _State.STRAY:
                self._state = _State.BETWEEN
        elif stripped.startswith(b"HTTP/1."):
            self._state = _State.STRAY  # Dahua firmware bug: a response head inside the stream
        elif self._state is _State.STRAY and b":" in stripped:
            pass  # that head's header lines
        else:
            raise EventStreamError(f"expected a boundary, got {_quote(stripped)}")

    def _header(self, line: bytes) -> None:
        if not line.strip():
            if self._length >= 0:
                self._state = _State.BODY
            else:
                self._state, self._scanned = _State.BODY_TO_BOUNDARY, 0
            return
        name, colon, value = line.partition(b":")
        if not colon:
            raise EventStreamError(f"malformed part header: {_quote(line)}")
        if name.strip().lower() == b"content-length":
            text = value.strip().decode("latin-1")
            if not is_ascii_digits(text) or len(text) > 9:  # RFC 9110 8.6: 1*DIGIT
                raise EventStreamError(f"bad Content-Length: {_quote(value.strip())}")
            self._length = int(text)
            if not 0 <= self._length <= MAX_BODY:
                raise EventStreamError(f"Content-Length {self._length} is not 0..{MAX_BODY}")

    def _body_to_boundary(self, events: list[EventPart | Heartbeat]) -> bool:
        # The body runs to the first boundary line: `--b` right away (an empty body) or `\n--b`.
        if self._buffer.startswith(self._delimiter):
            end = cut = 0
        else:
            marker = b"\n" + self._delimiter
            found = self._buffer.find(marker, max(0, self._scanned - len(marker)))
            if found < 0:
                self._scanned = len(self._buffer)
                if self._scanned > MAX_BODY:
                    raise EventStreamError(f"part without Content-Length and no boundary in {MAX_BODY} bytes")
                return False
            end, cut = found, found + 1
        body = bytes(self._buffer[:end]).rstrip(b"\r\n")
        del self._buffer[:cut]  # the boundary line stays for BETWEEN
        self._state = _State.BETWEEN
        events.append(parse_body(body))
        return True


def _quote(data: bytes | bytearray) -> str:
    shown = repr(bytes(data[:EXCERPT]))
    return shown + "..." if len(data) > EXCERPT else shown
