"""Schemathesis hooks for the gateway's run (tests/api/schemathesis_run.py loads this file
through SCHEMATHESIS_HOOKS).

How to send the bodies schemathesis has no serializer for: WHEP and WHIP offers are SDP
text; talkdown files are bytes, as application/octet-stream already is.

And nothing generated leaves the machine: a push's RTMP URL and a rule's push and webhook
actions would have the gateway connect wherever they say. Every `url` in a body that names a
host is pointed at the loopback's closed port before it is sent (in every phase: the coverage
phase does not use the config's dictionaries), keeping its scheme and path.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import schemathesis

NOWHERE = "127.0.0.1:9"  # the discard port: nothing listens, a connection is refused at once

schemathesis.serializer.alias(["audio/wav", "audio/ogg", "audio/mpeg"], "application/octet-stream")
schemathesis.serializer.alias("application/sdp", "text/plain")


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    _to_loopback(case.body)


def _to_loopback(value: Any) -> None:
    if isinstance(value, list):
        for item in value:
            _to_loopback(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "url" and isinstance(item, str):
                value[key] = _loopback_url(item)
            else:
                _to_loopback(item)


def _loopback_url(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url  # no URL the gateway would connect to either
    return parts._replace(netloc=NOWHERE).geturl() if parts.scheme else url
