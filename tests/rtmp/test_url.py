"""Destination URL validation and stream-key redaction (sans-IO)."""

import pytest

from gateway.rtmp.url import PushUrlError, redact_url, secrets_of, validate_push_url


@pytest.mark.parametrize(
    "url",
    [
        "rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl-mnop",
        "rtmps://live-api-s.facebook.com:443/rtmp/FB-123456789?s_bl=1&s_sc=2&a=Abc",
        "rtmp://127.0.0.1:1935/live/key",
        "rtmp://[::1]:1935/live/key",
        "RTMP://host/app",
    ],
)
def test_valid_urls_pass_unchanged(url):
    assert validate_push_url(url) == url


@pytest.mark.parametrize(
    "url,message",
    [
        (None, "url must be a non-empty string"),
        ("", "url must be a non-empty string"),
        ("http://host/live/key", "url scheme must be rtmp or rtmps, got 'http'"),
        ("host/live/key", "url scheme must be rtmp or rtmps, got 'none'"),
        ("rtmp:///live/key", "url has no host"),
        ("rtmp://host", "url has no application path (rtmp://host/app/key)"),
        ("rtmp://host/", "url has no application path (rtmp://host/app/key)"),
        ("rtmp://host:99999/live/key", "url is not a valid URL"),
        ("rtmp://host:0/live/key", "url port must be 1-65535"),
        ("rtmp://host/live/key with space", "url must not contain spaces or control characters"),
        ("rtmp://host/live/key\n", "url must not contain spaces or control characters"),
        ("rtmp://host/live/key#frag", "url must not have a #fragment"),
        ("rtmp://host/live/" + "k" * 2100, "url is longer than 2048 characters"),
    ],
)
def test_invalid_urls_have_one_line_reasons_without_the_key(url, message):
    with pytest.raises(PushUrlError) as raised:
        validate_push_url(url)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    "url,shown",
    [
        ("rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl-mnop", "rtmp://a.rtmp.youtube.com/live2/ab***"),
        (
            "rtmps://live-api-s.facebook.com:443/rtmp/FB-123456789?s_bl=1&a=Abc",
            "rtmps://live-api-s.facebook.com:443/rtmp/FB***?***",
        ),
        ("rtmp://user:pass@host/app/streamkey1", "rtmp://***@host/app/st***"),
        ("rtmp://host/app/short", "rtmp://host/app/***"),  # too short to show any of it
        ("rtmp://host/app/", "rtmp://host/app/"),
        ("rtmp://[::1]:1935/live/longerkey", "rtmp://[::1]:1935/live/lo***"),
    ],
)
def test_redaction_hides_key_query_and_user_info(url, shown):
    assert redact_url(url) == shown


def test_secrets_cover_everything_redaction_hides():
    url = "rtmp://user:pw-secret@host/app/the-stream-key?token=abc123"
    found = secrets_of(url)
    assert {"the-stream-key", "token=abc123", "pw-secret", url} <= set(found)
    for secret in found:
        assert secret not in redact_url(url)
