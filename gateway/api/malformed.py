"""Malformed requests: answered 400 and logged as one short line, rate-limited.

aiohttp answers a request it cannot parse (a NUL in a header, a bad request line, an
over-long line, an invalid URL, broken chunked framing) with 400 itself, and then logs
"Error handling request" with a traceback at ERROR, to the logger its RequestHandler was
given: any client could fill the log. `GatewayRunner` (gateway/snapshots/fast_path.py)
passes `SERVER_LOG` as that logger (AppRunner's documented `logger` argument), and
`MalformedRequestFilter` on it turns each such record into one line: the peer and the parse
error's short description, never the request's bytes (a header or a URL may carry a
token). A traceback whose exception is not the client's fault stays as it is: that is a bug.

A body that turns out malformed only once a handler reads it (a bad chunk or gzip stream,
a client gone before its Content-Length) reaches gateway/api/errors.py's middleware instead,
which answers 400 and logs through the same `MalformedLog`.
"""

from __future__ import annotations

import logging
import re
import time
import weakref
from collections.abc import Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError, InvalidURLError

log = logging.getLogger("gateway.http")

# What the client got wrong: the parser's errors, and a body that fails as it is read.
CLIENT_FAULTS = (HttpProcessingError, web.RequestPayloadError)
LINES_PER_PERIOD = 10
PERIOD = 10.0  # seconds
_HEADINGS = re.compile(r"\d{3}, message:|Bad status line:")  # lines that only introduce the next one
_DETAIL = re.compile(r":(?:\s|$)|\s'|\sb'|\sbytearray\(")  # where the quoted input starts
_MAX_REASON = 80


def describe(exc: BaseException) -> str:
    """The parse error's short description: aiohttp's text up to where it quotes the input."""
    if isinstance(exc, InvalidURLError):
        return "invalid URL"  # its message is the URL itself
    text = exc.message if isinstance(exc, HttpProcessingError) else str(exc)
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    first = next((line for line in lines if not _HEADINGS.fullmatch(line)), type(exc).__name__)
    reason = _DETAIL.split(first, maxsplit=1)[0].strip()
    reason = "".join(c if c.isascii() and c.isprintable() else "?" for c in reason)[:_MAX_REASON]
    return reason or type(exc).__name__


class MalformedLog:
    """One line per malformed request, at most `lines` per `period` seconds. What is held
    back is counted and said with the next line that goes out (mediamtx reports what it
    discards the same way), so a flood costs a few lines, and a dict lookup per request."""

    def __init__(
        self, lines: int = LINES_PER_PERIOD, period: float = PERIOD, clock: Callable[[], float] = time.monotonic
    ):
        self.lines, self.period, self._clock = lines, period, clock
        self._window_start = -period
        self._written = 0
        self.held_back = 0  # lines not written since the last one that was
        self.noted = 0  # malformed requests seen
        # aiohttp logs an unread malformed body again when it drains it after the answer.
        self._seen: weakref.WeakSet[BaseException] = weakref.WeakSet()

    def note(
        self, peer: str | None, what: str, *, level: int = logging.WARNING, exc: BaseException | None = None
    ) -> None:
        if exc is not None:
            if exc in self._seen:
                return
            self._seen.add(exc)
        self.noted += 1
        now = self._clock()
        if now - self._window_start >= self.period:
            self._window_start, self._written = now, 0
        if self._written >= self.lines:
            self.held_back += 1
            return
        self._written += 1
        held, self.held_back = self.held_back, 0
        more = f" ({held} more not logged)" if held else ""
        log.log(level, "malformed request from %s: %s%s", peer or "a client", what, more)


MALFORMED = MalformedLog()


class MalformedRequestFilter(logging.Filter):
    """On `SERVER_LOG`: aiohttp's record of a client's fault becomes one MalformedLog line."""

    def __init__(self, malformed: MalformedLog):
        super().__init__()
        self._malformed = malformed

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if isinstance(record.exc_info, tuple) else None
        if exc is None or not isinstance(exc, CLIENT_FAULTS):
            return True
        # "Error handling request from %s": the peer is the one argument (absent elsewhere).
        args = record.args if isinstance(record.args, tuple) else ()
        peer = args[0] if len(args) == 1 and isinstance(args[0], str) else None
        # aiohttp logs a first request that is not HTTP at all (TLS to this port) at DEBUG.
        level = logging.DEBUG if record.levelno < logging.INFO else logging.WARNING
        self._malformed.note(peer, describe(exc), level=level, exc=exc)
        return False


SERVER_LOG = logging.getLogger("gateway.http.server")
SERVER_LOG.addFilter(MalformedRequestFilter(MALFORMED))
