"""The WEP login's authorization token (WEP guide, "Authorization").

    userNonce ":" timestamp ":" hexEncoded [":" integrationIdentifier]

where hexEncoded is the hex SHA-256 of `str(timestamp) + userKey`. The guide's /login says
the token "must be in lowercase": some platforms print hex digests in upper case, so the
digest is lowercased here. The nonce and the integration id are Avigilon-issued opaque
values and go through as given. Sans-IO: the caller supplies the timestamp.
"""

from __future__ import annotations

import hashlib


def authorization_token(user_nonce: str, user_key: str, timestamp: int, integration_id: str = "") -> str:
    if not user_nonce:
        raise ValueError("authorization token: user_nonce is empty")
    if not user_key:
        raise ValueError("authorization token: user_key is empty")
    stamp = str(int(timestamp))
    digest = hashlib.sha256((stamp + user_key).encode("utf-8")).hexdigest().lower()
    token = f"{user_nonce}:{stamp}:{digest}"
    # The guide marks the integration identifier optional: no trailing ":" without one.
    return f"{token}:{integration_id}" if integration_id else token
