"""WEP errors as types, built from the guide's error envelope ("Error Response Format"):

    {"status": "error", "statusCode": 404, "message": "camera not found.",
     "meta": {"code": -25, "name": "NOT_FOUND"}}

`statusCode` is the HTTP status (RFC 7231 section 6), `meta.code` the Avigilon error code.
Parsing is sans-IO and tolerant: a missing field or a body that is not an envelope at all
still yields a typed error with a one-line message, never a traceback from json.
"""

from __future__ import annotations

import json
import re

from gateway.backends.base import UpstreamFailure
from gateway.wep.redaction import redact

# A proxy or a dying WEP answers these without an envelope: the upstream is not there.
GATEWAY_STATUSES = frozenset({502, 503, 504})
_MAX_MESSAGE = 200


# The name WepUnavailable carries for a stream that sent nothing for its read timeout.
READ_TIMEOUT = "READ_TIMEOUT"

# Names the gateway gives a failure in which WEP sent no HTTP status, each with the cause it
# is counted under (wepgw_upstream_reconnects) and logged as. Such an error's `status` is the
# one a gateway answers for it (RFC 9110 15.6.3 502 Bad Gateway, 15.6.4 503, 15.6.5 504),
# never shown as WEP's: "WEP 502 CONNECTION_LOST" once reported a stream WEP merely closed.
NO_ANSWER_CAUSES = {
    "REFUSED": "refused",  # nothing listens on WEP's port
    "UNREACHABLE": "unreachable",  # no route, no address (DNS)
    "TLS_ERROR": "tls",
    "TIMEOUT": "timeout",  # no connection, or no answer, within the request timeout
    READ_TIMEOUT: "stall",  # a stream that sent nothing for its read timeout
    "CONNECTION_CLOSED": "connection_closed",  # WEP closed the connection before or while answering
    "CONNECTION_RESET": "connection_reset",
    "CONNECTION_LOST": "connection_lost",  # another socket error
    "BAD_RESPONSE": "bad_response",  # an answer cut short, or one that is not what the route returns
    "BAD_MPD": "bad_mpd",
    "NOT_LOGGED_IN": "not_logged_in",  # no session to send (the gateway's own state)
    "NO_CREDENTIALS": "no_credentials",
}


class WepError(UpstreamFailure):
    """WEP answered with an error (or something that is not a usable answer)."""

    def __init__(self, status: int, code: int | None, name: str, message: str):
        self.status = status
        self.code = code
        self.name = name
        self.message = _one_line(message)
        Exception.__init__(self, self.__str__())

    @property
    def answered(self) -> bool:
        """Whether WEP (or a proxy before it) answered with this HTTP status."""
        return self.name not in NO_ANSWER_CAUSES

    @property
    def cause(self) -> str:  # type: ignore[override]  # derived from status and name, never assigned
        """The backend-neutral label of this failure (gateway.backends.base.UpstreamFailure):
        `upstream_<status>` for an answer, what happened otherwise (NO_ANSWER_CAUSES)."""
        return f"upstream_{self.status}" if self.answered else NO_ANSWER_CAUSES[self.name]

    def __str__(self) -> str:
        code = f" code {self.code}" if self.code is not None else ""
        status = f" {self.status}" if self.answered else ""
        return f"WEP{status} {self.name}{code}: {self.message}"

    def __reduce__(self):
        return (self.__class__, (self.status, self.code, self.name, self.message))


class WepUnavailable(WepError):
    """WEP could not be reached or did not answer usefully: refused, reset, DNS, TLS, timeout,
    a stalled stream, or a non-envelope answer such as a proxy's HTML page."""


class WepAuthError(WepError):
    """The login itself was refused (credentials or authorization token): retrying the same
    credentials cannot help, so this is never retried."""


def _one_line(text: str) -> str:
    text = redact(" ".join(str(text).split()))
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def describe_body(body: bytes, content_type: str) -> str:
    """What a body is, for a message, without quoting it (it may echo a URL or a session)."""
    kind = (content_type or "no content type").split(";", 1)[0].strip() or "no content type"
    if not body:
        return f"an empty {kind} body"
    return f"{len(body)} bytes of {kind}"


def parse_error_envelope(status: int, body: bytes, content_type: str) -> WepError:
    """The error that an answer with HTTP `status` and `body` stands for."""
    envelope = _json_object(body)
    if envelope is None or not _looks_like_envelope(envelope):
        what = describe_body(body, content_type)
        if status < 400:
            return WepUnavailable(
                502, None, "BAD_RESPONSE", f"answered HTTP {status} with {what}, not a WEP error envelope"
            )
        cls = WepUnavailable if status in GATEWAY_STATUSES else WepError
        return cls(status, None, f"HTTP_{status}", f"answered HTTP {status} with {what}, not a WEP error envelope")

    meta = found_meta if isinstance(found_meta := envelope.get("meta"), dict) else {}
    envelope_status = envelope.get("statusCode")
    if isinstance(envelope_status, int) and not isinstance(envelope_status, bool) and 400 <= envelope_status <= 599:
        # For REST, statusCode is the HTTP status; it is the better one when a proxy rewrote it.
        effective = envelope_status if status < 400 else status
    else:
        effective = status if status >= 400 else 502
    code = meta.get("code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    name = meta.get("name")
    name = "_".join(name.split())[:60] if isinstance(name, str) and name.strip() else f"HTTP_{effective}"
    if name in NO_ANSWER_CAUSES:  # WEP's own name for an answer it sent: keep the status with it
        name = f"HTTP_{effective}_{name}"
    message = envelope.get("message")
    message = message if isinstance(message, str) and message.strip() else "no message"
    cls = WepUnavailable if effective in GATEWAY_STATUSES else WepError
    return cls(effective, code, name, message)


def is_session_expired(error: WepError) -> bool:
    """Whether logging in again may cure `error` (guide: 401 "the session token has expired";
    403 "may not be able to authenticate the session token")."""
    if error.status == 401:
        return True
    text = f"{error.name} {error.message}".lower()
    return "session" in text and any(word in text for word in ("expired", "invalid", "not found", "unknown"))


def _json_object(body: bytes) -> dict | None:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return _salvage_envelope(text)
    return value if isinstance(value, dict) else None


# The guide's own sample lacks the comma after `"code": -25`: an envelope that is almost
# JSON still says what went wrong, so its fields are picked out one by one.
_FIELD = {
    "status": re.compile(r'"status"\s*:\s*"([^"]*)"'),
    "statusCode": re.compile(r'"statusCode"\s*:\s*(-?\d+)'),
    "message": re.compile(r'"message"\s*:\s*"((?:[^"\\]|\\.)*)"'),
    "code": re.compile(r'"code"\s*:\s*(-?\d+)'),
    "name": re.compile(r'"name"\s*:\s*"([^"]*)"'),
}


def _salvage_envelope(text: str) -> dict | None:
    if len(text) > 65536 or not text.lstrip().startswith("{"):
        return None
    found = {key: match.group(1) for key, pattern in _FIELD.items() if (match := pattern.search(text))}
    if found.get("status") != "error":
        return None
    meta: dict[str, object] = {}
    if "code" in found:
        meta["code"] = int(found["code"])
    if "name" in found:
        meta["name"] = found["name"]
    envelope: dict = {"status": "error", "meta": meta}
    if "statusCode" in found:
        envelope["statusCode"] = int(found["statusCode"])
    envelope["message"] = found.get("message") or "malformed error envelope"
    return envelope


def _looks_like_envelope(value: dict) -> bool:
    return value.get("status") == "error" or "meta" in value or "statusCode" in value
