"""Webhook messages and their signing, fed plain dicts; checked with the stdlib on its own."""

import base64
import hashlib
import hmac
import json
import secrets

from gateway.emulator.webhook_message import message, signature, signed_post

TOKEN = base64.b64encode(secrets.token_bytes(16)).decode()
EVENT = {"thisId": "7", "type": "DEVICE_MOTION_START", "cameraId": "cam"}


def test_http_body_is_the_json_text_signed_with_the_decoded_token():
    sent = message("site", "NOTIFICATION", "2026-01-02T03:04:05.678Z", [EVENT])
    body, headers = signed_post("http://127.0.0.1:9/hook", TOKEN, sent)
    assert headers["Content-Type"] == "plain/text"  # the guide's literal header
    expected = hmac.new(base64.b64decode(TOKEN), body, hashlib.sha256).digest()
    assert headers["Authorization"] == base64.b64encode(expected).decode() == signature(TOKEN, body)
    assert json.loads(body) == {"siteId": "site", "type": "NOTIFICATION", "time": "2026-01-02T03:04:05.678Z",
                                "notification": [EVENT]}  # fmt: skip
    assert TOKEN.encode() not in body


def test_https_body_is_json_carrying_the_token():
    body, headers = signed_post("HTTPS://receiver/hook", TOKEN, message("site", "HELLO", "t"))
    assert headers == {"Content-Type": "application/json"}
    assert json.loads(body) == {"siteId": "site", "type": "HELLO", "time": "t", "authenticationToken": TOKEN}


def test_only_notifications_carry_events():
    assert "notification" not in message("s", "HEARTBEAT", "t", [EVENT])
    assert message("s", "NOTIFICATION", "t")["notification"] == []
