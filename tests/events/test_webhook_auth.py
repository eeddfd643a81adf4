"""gateway/events/webhook_auth.py: plain bytes in, a notification or the reason it is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from gateway.events.webhook_auth import TOKEN_BYTES, BadNotification, Unverified, new_token, signature, verify

# Fixed tokens keep failures reproducible; 32 bytes as new_token() makes them.
TOKEN = base64.b64encode(bytes(range(32))).decode()
OTHER = base64.b64encode(bytes(range(100, 132))).decode()
BODY = json.dumps(
    {"type": "NOTIFICATION", "notification": [{"thisId": "64227", "type": "DEVICE_MOTION_START"}]},
    separators=(",", ":"),
).encode()


def stdlib_signature(token: str, raw: bytes) -> str:
    return base64.b64encode(hmac.new(base64.b64decode(token), raw, hashlib.sha256).digest()).decode()


def refused(raw: bytes, authorization: str | None, tokens: list[str], https: bool) -> str:
    with pytest.raises(Unverified) as raised:
        verify(raw, authorization, tokens, https)
    return str(raised.value)


# -- tokens and signatures ----------------------------------------------------------------------


def test_new_token_is_32_random_bytes_in_base64():
    token = new_token()
    key = base64.b64decode(token, validate=True)
    assert len(key) == TOKEN_BYTES == 32
    assert base64.b64encode(key).decode() == token


def test_new_token_differs_each_call():
    tokens = {new_token() for _ in range(20)}
    assert len(tokens) == 20


def test_signature_is_base64_hmac_sha256_of_the_raw_body():
    assert signature(TOKEN, BODY) == stdlib_signature(TOKEN, BODY)
    assert len(base64.b64decode(signature(TOKEN, BODY))) == 32
    assert signature(TOKEN, b"") == stdlib_signature(TOKEN, b"")


def test_signature_depends_on_token_and_every_byte():
    assert signature(TOKEN, BODY) != signature(OTHER, BODY)
    assert signature(TOKEN, BODY) != signature(TOKEN, BODY[:-1])


# -- HTTP target: the Authorization header is the proof -----------------------------------------


def test_http_good_signature_returns_the_notification():
    assert verify(BODY, stdlib_signature(TOKEN, BODY), [TOKEN], https=False) == json.loads(BODY)


def test_http_signature_with_surrounding_whitespace_passes():
    assert verify(BODY, f" {signature(TOKEN, BODY)}\t", [TOKEN], https=False)["type"] == "NOTIFICATION"


def test_http_wrong_signature():
    assert refused(BODY, "bm90IGEgc2lnbmF0dXJl", [TOKEN], https=False) == "signature does not match"


@pytest.mark.parametrize("authorization", [None, ""])
def test_http_missing_authorization(authorization):
    assert refused(BODY, authorization, [TOKEN], https=False) == "no Authorization header"


def test_http_signature_made_with_another_token():
    assert refused(BODY, signature(OTHER, BODY), [TOKEN], https=False) == "signature does not match"


@pytest.mark.parametrize("offset", [0, len(BODY) // 2, len(BODY) - 1])
def test_http_body_altered_by_one_byte(offset):
    altered = bytearray(BODY)
    altered[offset] ^= 0x01
    assert refused(bytes(altered), signature(TOKEN, BODY), [TOKEN], https=False) == "signature does not match"


def test_http_body_cut_short():
    assert refused(BODY[:-1], signature(TOKEN, BODY), [TOKEN], https=False) == "signature does not match"


def test_http_previous_and_current_token_both_accepted():
    tokens = [OTHER, TOKEN]
    assert verify(BODY, signature(OTHER, BODY), tokens, https=False) == json.loads(BODY)
    assert verify(BODY, signature(TOKEN, BODY), tokens, https=False) == json.loads(BODY)


@pytest.mark.parametrize("https", [False, True])
@pytest.mark.parametrize("tokens", [[], [""]])
def test_no_token_registered(tokens, https):
    assert refused(BODY, signature(TOKEN, BODY), tokens, https) == "no webhook is registered yet"


def test_http_registered_token_not_base64():
    assert refused(BODY, "anything", ["abc"], https=False) == "the registered token is not base64"


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"not json", "body is not JSON"),
        (b"\xff\xfe{}", "body is not JSON"),
        (b"", "body is not JSON"),
        (b"[1, 2]", "body is not a JSON object"),
        (b'"HELLO"', "body is not a JSON object"),
    ],
)
def test_http_signed_body_that_is_not_a_notification(raw, message):
    with pytest.raises(BadNotification) as raised:
        verify(raw, signature(TOKEN, raw), [TOKEN], https=False)
    assert str(raised.value) == message


def test_http_unsigned_non_json_is_unverified_not_bad():
    # The signature is checked before the body is read as JSON.
    assert refused(b"not json", signature(TOKEN, BODY), [TOKEN], https=False) == "signature does not match"


# -- HTTPS target: the token travels in the body ------------------------------------------------


def https_body(token: object) -> bytes:
    return json.dumps({"type": "HELLO", "authenticationToken": token}).encode()


def test_https_token_in_body_passes():
    raw = https_body(TOKEN)
    assert verify(raw, None, [TOKEN], https=True) == {"type": "HELLO", "authenticationToken": TOKEN}


def test_https_previous_and_current_token_both_accepted():
    assert verify(https_body(OTHER), None, [OTHER, TOKEN], https=True)["type"] == "HELLO"
    assert verify(https_body(TOKEN), None, [OTHER, TOKEN], https=True)["type"] == "HELLO"


def test_https_ignores_the_authorization_header():
    raw = https_body(TOKEN)
    assert verify(raw, "garbage", [TOKEN], https=True)["type"] == "HELLO"
    assert refused(https_body(OTHER), signature(TOKEN, https_body(OTHER)), [TOKEN], https=True) == (
        "wrong authenticationToken"
    )


@pytest.mark.parametrize("presented", [OTHER, TOKEN[:-1], TOKEN + "A", ""])
def test_https_wrong_token(presented):
    assert refused(https_body(presented), None, [TOKEN], https=True) == "wrong authenticationToken"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"type": "HELLO"}',
        https_body(None),
        https_body(12345),
        https_body([TOKEN]),
    ],
)
def test_https_missing_token(raw):
    assert refused(raw, None, [TOKEN], https=True) == "no authenticationToken in the body"


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"not json", "body is not JSON"),
        (b"\xff", "body is not JSON"),
        (json.dumps([{"authenticationToken": TOKEN}]).encode(), "body is not a JSON object"),
    ],
)
def test_https_non_json_is_unverified(raw, message):
    assert refused(raw, None, [TOKEN], https=True) == message
