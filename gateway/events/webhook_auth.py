"""Proving a webhook notification came from WEP (guide, "Monitoring Events with Webhooks").
Sans-IO.

- `authenticationToken`: "at least 16 bytes of secure, randomly generated data, Base-64
  encoded"; a fresh one per registration.
- HTTPS target: the notification is JSON carrying the token in its body.
- HTTP target: the body is the JSON text and the `Authorization` header is
  base64(HMAC-SHA256(base64decode(token), raw body)).

Which proof is required follows the URL WEP was given (`[events] public_url`), not how the
request arrived: behind a TLS-terminating proxy WEP still signs for HTTPS. Comparisons are
constant-time; an unverified body is never parsed beyond what the check needs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from typing import Any

TOKEN_BYTES = 32


class Unverified(Exception):
    """Not provably from WEP; the message names why (never the token or the body)."""


class BadNotification(ValueError):
    """Verified, but not a notification object."""


def new_token() -> str:
    return base64.b64encode(secrets.token_bytes(TOKEN_BYTES)).decode()


def signature(token: str, raw: bytes) -> str:
    """The `Authorization` value WEP sends with an HTTP notification."""
    key = base64.b64decode(token)
    return base64.b64encode(hmac.new(key, raw, hashlib.sha256).digest()).decode()


def verify(raw: bytes, authorization: str | None, tokens: Iterable[str], https: bool) -> dict[str, Any]:
    """The notification, if `raw` proves one of `tokens` (the current one, and the one it
    replaced while posts signed with it may still be in flight)."""
    tokens = [token for token in tokens if token]
    if not tokens:
        raise Unverified("no webhook is registered yet")
    if https:
        payload = _parse(raw, Unverified)
        presented = payload.get("authenticationToken")
        if not isinstance(presented, str):
            raise Unverified("no authenticationToken in the body")
        if not any(hmac.compare_digest(presented.encode(), token.encode()) for token in tokens):
            raise Unverified("wrong authenticationToken")
        return payload
    if not authorization:
        raise Unverified("no Authorization header")
    presented = authorization.strip().encode()
    try:
        expected = [signature(token, raw).encode() for token in tokens]
    except (binascii.Error, ValueError):
        raise Unverified("the registered token is not base64") from None
    if not any(hmac.compare_digest(presented, candidate) for candidate in expected):
        raise Unverified("signature does not match")
    return _parse(raw, BadNotification)


def _parse(raw: bytes, error: type[Exception]) -> dict[str, Any]:
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise error("body is not JSON") from None
    if not isinstance(payload, dict):
        raise error("body is not a JSON object")
    return payload
