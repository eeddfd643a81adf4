import hashlib

import pytest

from gateway.emulator.auth_token import TokenRejected, check_token, make_token

NONCE, KEY, NOW = "nonce", "key", 1_700_000_000


def check(token: str, integration: str = "") -> None:
    check_token(token, NONCE, KEY, integration, NOW, 3600)


def test_token_in_the_guide_format_is_accepted():
    digest = hashlib.sha256(f"{NOW}{KEY}".encode()).hexdigest()
    check(f"{NONCE}:{NOW}:{digest}")
    check(f"{NONCE}:{NOW}:{digest}:integration", integration="integration")


@pytest.mark.parametrize(
    "token, message",
    [
        (make_token("other", KEY, NOW), "unknown user nonce"),
        (make_token(NONCE, "other", NOW), "hash does not match"),
        (make_token(NONCE, KEY, NOW - 7200), "outside the accepted window"),
        (make_token(NONCE, KEY, NOW).upper().replace("NONCE", "nonce"), "lowercase hex"),
        ("nonce:abc:def", "not a Unix time"),
        ("just-one-part", "nonce:timestamp:hash"),
    ],
)
def test_bad_tokens_are_rejected_with_a_reason(token, message):
    with pytest.raises(TokenRejected, match=message):
        check(token)


def test_integration_id_is_required_when_configured():
    with pytest.raises(TokenRejected, match="integration identifier"):
        check(make_token(NONCE, KEY, NOW), integration="acme")
