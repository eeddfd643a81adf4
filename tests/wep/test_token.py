"""The authorization token against the guide's format ("Authorization"):
userNonce:timestamp:hexEncoded[:integrationIdentifier], hexEncoded = sha256(timestamp + userKey).

The expected digests were computed outside Python:
    printf '%s' "1530726298myuserkey" | sha256sum
"""

import pytest

from gateway.wep.token import authorization_token

DIGEST = "bcbdb21c2f50853989eb3fdfd043f52c4673883a03e7a86ea21ca577aebcc27e"


def test_token_without_integration_id_has_three_parts():
    assert authorization_token("myusernonce", "myuserkey", 1530726298) == f"myusernonce:1530726298:{DIGEST}"


def test_token_with_integration_id_appends_it():
    token = authorization_token("myusernonce", "myuserkey", 1530726298, "myIntegrationId")
    assert token == f"myusernonce:1530726298:{DIGEST}:myIntegrationId"


def test_emulator_credentials_digest():
    token = authorization_token("wep-emulator-nonce", "wep-emulator-key", 1700000000)
    assert token == "wep-emulator-nonce:1700000000:755e5f638416d93d169d71f4278de3e6bdf15825cad6efe6cf1ea3d226798b96"


def test_digest_is_lowercase_hex_of_64_chars():
    digest = authorization_token("n", "K-WITH-UPPER", 1).split(":")[2]
    assert len(digest) == 64
    assert digest == digest.lower()
    int(digest, 16)


def test_timestamp_is_whole_seconds():
    assert authorization_token("myusernonce", "myuserkey", 1530726298.9) == f"myusernonce:1530726298:{DIGEST}"


@pytest.mark.parametrize("nonce,key,missing", [("", "k", "user_nonce"), ("n", "", "user_key")])
def test_missing_credentials_are_refused(nonce, key, missing):
    with pytest.raises(ValueError, match=f"{missing} is empty"):
        authorization_token(nonce, key, 1)
