"""Keeping the WEP session out of text. A BaseURL from the MPD carries `session=...` in
its query, and aiohttp's exception texts can quote a request URL: anything that may hold
a URL goes through `redact` before it reaches a log line or an exception message."""

from __future__ import annotations

import re

# `session=...` in a query string, and `"session": "..."` in a JSON body.
_QUERY_SESSION = re.compile(r"(?i)(\bsession=)[^&#\s'\"<>]+")
_JSON_SESSION = re.compile(r"(?i)(\"session\"\s*:\s*\")[^\"]*")
_HEADER_SESSION = re.compile(r"(?i)(x-avg-session['\"]?\s*[:=,]\s*['\"]?)[^'\"\s,}]+")


def redact(text: str) -> str:
    text = _QUERY_SESSION.sub(r"\1***", text)
    text = _JSON_SESSION.sub(r"\1***", text)
    return _HEADER_SESSION.sub(r"\1***", text)


def url_path(url: str) -> str:
    """The path of a URL without its query: what a log line may say about a request."""
    path = url.split("?", 1)[0].split("#", 1)[0]
    if "://" in path:
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    return path
