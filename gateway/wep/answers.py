"""Reading WEP's answers: bounded bodies, the `{"status": "success", "result": ...}`
shape, JPEGs, the login answer, and transport failures, each turned into a WepError with a
one-line message that names the route and never quotes a URL or a body."""

from __future__ import annotations

import errno
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp

from gateway.wep.errors import WepAuthError, WepError, WepUnavailable, describe_body, parse_error_envelope
from gateway.wep.redaction import redact

T = TypeVar("T")

MAX_JSON_BYTES = 16 * 1024 * 1024
MAX_IMAGE_BYTES = 32 * 1024 * 1024
MAX_ERROR_BYTES = 64 * 1024


@dataclass(frozen=True)
class WepCall:
    """One WEP request, independent of the session it will carry."""

    method: str
    path: str  # under /mt/api/rest/v1
    route: str  # stats key and log label
    params: tuple[tuple[str, str], ...] = ()
    body: dict[str, Any] | None = None
    session_in_query: bool = True
    session_in_body: bool = False
    camera_id: str | None = None

    @property
    def context(self) -> str:
        where = f"{self.method} {self.path}"
        return f"{where} camera {self.camera_id}" if self.camera_id else where


async def read_body(response: aiohttp.ClientResponse, limit: int, context: str) -> bytes:
    if response.content_length is not None and response.content_length > limit:
        raise WepUnavailable(
            502, None, "BAD_RESPONSE", f"{context}: answer of {response.content_length} bytes, over {limit}"
        )
    parts, size = [], 0
    async for part in response.content.iter_any():
        size += len(part)
        if size > limit:
            raise WepUnavailable(502, None, "BAD_RESPONSE", f"{context}: answer over {limit} bytes")
        parts.append(part)
    return b"".join(parts)


def reader(read: Callable[[aiohttp.ClientResponse, WepCall, int], Awaitable[T]], limit: int):
    async def bound(response: aiohttp.ClientResponse, call: WepCall) -> T:
        return await read(response, call, limit)

    return bound


async def read_bytes(response: aiohttp.ClientResponse, call: WepCall, limit: int) -> bytes:
    raw = await read_body(response, limit, call.context)
    if is_error_envelope(raw):  # some WEP errors come back with 200
        raise in_context(parse_error_envelope(response.status, raw, response.content_type), call)
    return raw


async def read_result(response: aiohttp.ClientResponse, call: WepCall) -> Any:
    """The `result` of a `{"status": "success", "result": ...}` answer."""
    raw = await read_body(response, MAX_JSON_BYTES, call.context)
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise WepUnavailable(
            502, None, "BAD_RESPONSE", f"{call.context}: answered {describe_body(raw, response.content_type)}, not JSON"
        ) from None
    if not isinstance(payload, dict):
        raise WepUnavailable(
            502, None, "BAD_RESPONSE", f"{call.context}: answered a JSON {type(payload).__name__}, not an object"
        )
    if payload.get("status") == "error":
        raise in_context(parse_error_envelope(response.status, raw, response.content_type), call)
    if "result" not in payload:
        raise WepUnavailable(502, None, "BAD_RESPONSE", f"{call.context}: JSON answer without a result")
    return payload["result"]


async def read_ignored(response: aiohttp.ClientResponse, call: WepCall) -> None:
    raw = await read_body(response, MAX_ERROR_BYTES, call.context)
    if is_error_envelope(raw):
        raise in_context(parse_error_envelope(response.status, raw, response.content_type), call)


async def read_jpeg(response: aiohttp.ClientResponse, call: WepCall) -> bytes:
    raw = await read_bytes(response, call, MAX_IMAGE_BYTES)
    if not raw.startswith(b"\xff\xd8"):  # JPEG SOI marker
        raise WepUnavailable(
            502,
            None,
            "BAD_RESPONSE",
            f"{call.context}: answered {describe_body(raw, response.content_type)}, not a JPEG",
        )
    return raw


def is_error_envelope(raw: bytes) -> bool:
    if not raw.lstrip().startswith(b"{"):
        return False
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(payload, dict) and payload.get("status") == "error"


def login_session(status: int, raw: bytes, content_type: str) -> str:
    if status >= 400 or is_error_envelope(raw):
        error = parse_error_envelope(status, raw, content_type)
        if 400 <= error.status < 500:
            # Bad credentials or token: the same request can never succeed.
            raise WepAuthError(error.status, error.code, error.name, f"POST /login: {error.message}")
        raise prefixed(error, "POST /login")
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise WepUnavailable(
            502, None, "BAD_RESPONSE", f"POST /login: answered {describe_body(raw, content_type)}, not JSON"
        ) from None
    result = payload.get("result") if isinstance(payload, dict) else None
    session = result.get("session") if isinstance(result, dict) else None
    if not isinstance(session, str) or not session:
        raise WepUnavailable(502, None, "BAD_RESPONSE", "POST /login: answer has no result.session")
    return session


def health_state(raw: bytes) -> str | None:
    text = raw.decode("utf-8", "replace").strip()
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    if isinstance(value, dict) and value.get("status") != "error":
        value = value.get("result")
    if isinstance(value, str) and value.strip() and len(value) <= 64 and "<" not in value:
        return value.strip()
    return None


def list_in(result: Any, key: str, context: str) -> list[dict]:
    if isinstance(result, dict):
        result = result.get(key)
    if not isinstance(result, list):
        raise WepUnavailable(502, None, "BAD_RESPONSE", f"{context}: result has no {key} list")
    return [item for item in result if isinstance(item, dict)]


# -- errors ----------------------------------------------------------------------------------


def in_context(error: WepError, call: WepCall) -> WepError:
    return prefixed(error, call.context)


def prefixed(error: WepError, context: str) -> WepError:
    if error.message.startswith(context):
        return error
    return type(error)(error.status, error.code, error.name, f"{context}: {error.message}")


def unavailable(context: str, exc: BaseException, timeout: float) -> WepUnavailable:
    """A transport failure as a one-line WepUnavailable (aiohttp's texts may quote the URL),
    named by what happened (errors.NO_ANSWER_CAUSES): WEP sent no status."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return WepUnavailable(504, None, "TIMEOUT", f"{context}: connect timeout")
    if isinstance(exc, (TimeoutError, aiohttp.ServerTimeoutError)):
        return WepUnavailable(504, None, "TIMEOUT", f"{context}: timeout, no answer within {timeout:g}s")
    if isinstance(exc, (aiohttp.ClientSSLError, aiohttp.ServerFingerprintMismatch)):
        return WepUnavailable(503, None, "TLS_ERROR", f"{context}: TLS failed ({short(exc)})")
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, ConnectionRefusedError):
            return WepUnavailable(503, None, "REFUSED", f"{context}: connection refused ({short(exc)})")
        return WepUnavailable(503, None, "UNREACHABLE", f"{context}: cannot connect ({short(exc)})")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return WepUnavailable(502, None, "BAD_RESPONSE", f"{context}: answer cut short ({type(exc).__name__})")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return WepUnavailable(502, None, "CONNECTION_CLOSED", f"{context}: WEP closed the connection without an answer")
    if isinstance(exc, ConnectionResetError) or getattr(exc, "errno", None) == errno.ECONNRESET:
        return WepUnavailable(502, None, "CONNECTION_RESET", f"{context}: connection reset ({short(exc)})")
    if isinstance(exc, OSError):  # aiohttp.ClientOSError included
        return WepUnavailable(502, None, "CONNECTION_LOST", f"{context}: connection lost ({short(exc)})")
    return WepUnavailable(502, None, "BAD_RESPONSE", f"{context}: {short(exc)}")


def short(exc: BaseException) -> str:
    text = redact(" ".join(str(exc).split()))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
