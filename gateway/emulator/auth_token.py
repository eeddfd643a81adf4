"""The WEP login authorization token (guide, "Authorization"). Sans-IO.

userNonce:timestamp:hex(sha256(timestamp + userKey))[:integrationIdentifier], lowercase.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from gateway.api.query import is_ascii_digits

_HEX64 = re.compile(r"[0-9a-f]{64}")


class TokenRejected(ValueError):
    """The authorization token is malformed, stale or signed with another key."""


def make_token(user_nonce: str, user_key: str, timestamp: int, integration_id: str = "") -> str:
    digest = hashlib.sha256(f"{timestamp}{user_key}".encode()).hexdigest()
    token = f"{user_nonce}:{timestamp}:{digest}"
    return f"{token}:{integration_id}" if integration_id else token


def check_token(token: str, user_nonce: str, user_key: str, integration_id: str, now: float, skew: float) -> None:
    parts = token.split(":")
    if len(parts) not in (3, 4):
        raise TokenRejected("authorization token must be nonce:timestamp:hash[:integrationId]")
    nonce, timestamp, digest = parts[:3]
    if not hmac.compare_digest(nonce, user_nonce):
        raise TokenRejected("authorization token has an unknown user nonce")
    if not is_ascii_digits(timestamp) or len(timestamp) > 12:
        raise TokenRejected("authorization token timestamp is not a Unix time")
    if abs(now - int(timestamp)) > skew:
        raise TokenRejected("authorization token timestamp is outside the accepted window")
    # Guide /login: "An authorization token (must be in lowercase)".
    if not _HEX64.fullmatch(digest):
        raise TokenRejected("authorization token hash must be 64 lowercase hex digits")
    expected = hashlib.sha256(f"{timestamp}{user_key}".encode()).hexdigest()
    if not hmac.compare_digest(digest, expected):
        raise TokenRejected("authorization token hash does not match")
    given_integration = parts[3] if len(parts) == 4 else ""
    if integration_id and given_integration != integration_id:
        raise TokenRejected("authorization token lacks the expected integration identifier")
