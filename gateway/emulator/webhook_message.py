"""Webhook messages and how they are signed (guide, "Webhook Notification Format",
"Verifying Messages over HTTPS/HTTP"). Sans-IO: a message in, body bytes and headers out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

HELLO, HEARTBEAT, NOTIFICATION = "HELLO", "HEARTBEAT", "NOTIFICATION"
MESSAGE_TYPES = (HELLO, HEARTBEAT, NOTIFICATION)


def message(site_id: str, kind: str, time_iso: str, events: list[dict] | None = None) -> dict:
    """Guide: always siteId, type and time; a NOTIFICATION carries "an array of events
    denoted by the notification: [] parameter"."""
    body: dict[str, object] = {"siteId": site_id, "type": kind, "time": time_iso}
    if kind == NOTIFICATION:
        body["notification"] = list(events or ())
    return body


def signature(token: str, body: bytes) -> str:
    """Guide, HTTP: base64(HMAC-SHA256(key = the token's base64-decoded bytes, the body))."""
    return base64.b64encode(hmac.new(base64.b64decode(token), body, hashlib.sha256).digest()).decode()


def signed_post(url: str, token: str, body: dict) -> tuple[bytes, dict[str, str]]:
    """The bytes and headers to POST to `url`.

    HTTPS: "the webhook notification is presented in the JSON format" with the token in the
    payload. HTTP: "presented as a string" with "Content-Type: plain/text" (the guide's
    literal value) and the HMAC in the Authorization header, so the token never travels
    unencrypted.
    """
    if url.lower().startswith("https://"):
        payload = json.dumps({**body, "authenticationToken": token}, separators=(",", ":")).encode()
        return payload, {"Content-Type": "application/json"}
    payload = json.dumps(body, separators=(",", ":")).encode()
    return payload, {"Content-Type": "plain/text", "Authorization": signature(token, payload)}
