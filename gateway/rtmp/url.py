"""Push destination URLs: validation and stream-key redaction. Sans-IO, no sockets.

A platform URL carries its secret in the last path segment (`rtmp://a.rtmp.youtube.com/
live2/<key>`), sometimes in the query (`?key=...`) or in user info. The full URL is
needed to push and is stored, but it never reaches a log line, an error message or an
API answer: those get `redact_url()`, e.g. `rtmp://host/app/ab***`.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

SCHEMES = ("rtmp", "rtmps")
MAX_URL_LENGTH = 2048
# How much of the key stays readable: enough to tell two destinations apart.
KEY_PREFIX = 2


class PushUrlError(ValueError):
    """The destination is not a usable rtmp:// or rtmps:// URL (message never holds the key)."""


def validate_push_url(text: object) -> str:
    """The URL unchanged if it is an RTMP(S) URL with a host; PushUrlError otherwise."""
    if not isinstance(text, str) or not text:
        raise PushUrlError("url must be a non-empty string")
    if len(text) > MAX_URL_LENGTH:
        raise PushUrlError(f"url is longer than {MAX_URL_LENGTH} characters")
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in text):
        raise PushUrlError("url must not contain spaces or control characters")
    try:
        parts = urlsplit(text)
        port = parts.port  # raises on a non-numeric or out-of-range port
    except ValueError:
        raise PushUrlError("url is not a valid URL") from None
    if parts.scheme.lower() not in SCHEMES:
        shown = parts.scheme or "none"
        raise PushUrlError(f"url scheme must be rtmp or rtmps, got {shown!r}")
    if not parts.hostname:
        raise PushUrlError("url has no host")
    if port == 0:
        raise PushUrlError("url port must be 1-65535")
    if parts.fragment:
        raise PushUrlError("url must not have a #fragment")
    # RTMP addresses an application: rtmp://host[:port]/app[/instance][/key]
    if not parts.path.strip("/"):
        raise PushUrlError("url has no application path (rtmp://host/app/key)")
    return text


def redact_url(url: str) -> str:
    """The URL with user info, the last path segment (the stream key) and the query hidden."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "***"
    netloc = ("***@" if "@" in parts.netloc else "") + _bracketed(host) + (f":{port}" if port else "")
    head, _, key = parts.path.rpartition("/")
    path = f"{head}/{_redact_key(key)}" if key else parts.path
    query = "?***" if parts.query else ""
    return SplitResult(parts.scheme, netloc, path, "", "").geturl() + query


def secrets_of(url: str) -> list[str]:
    """The parts of `url` that `redact_url` hides, for the log redactor's last line of defence."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    found = [url]
    key = parts.path.rpartition("/")[2]
    if key:
        found.append(key)
    if parts.query:
        found.append(parts.query)
    if parts.password:
        found.append(parts.password)
    return found


def _redact_key(key: str) -> str:
    # A short key is hidden entirely: two characters of a five-character key say too much.
    if len(key) < 8:
        return "***"
    return key[:KEY_PREFIX] + "***"


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host
