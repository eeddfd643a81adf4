import json

import pytest

from gateway.wep.errors import WepAuthError, WepError, WepUnavailable, is_session_expired, parse_error_envelope

# The guide's sample ("Error Response Format"), exactly as printed: it lacks a comma.
GUIDE_SAMPLE = b"""{
"status": "error",
"statusCode": 404,
"message": "camera not found.",
"meta": {
"code": -25
"name": "NOT_FOUND"
}
}"""


def envelope(**fields) -> bytes:
    return json.dumps({"status": "error", **fields}).encode()


def test_guide_sample_as_printed():
    error = parse_error_envelope(404, GUIDE_SAMPLE, "application/json")
    assert type(error) is WepError
    assert (error.status, error.code, error.name, error.message) == (404, -25, "NOT_FOUND", "camera not found.")
    assert str(error) == "WEP 404 NOT_FOUND code -25: camera not found."


def test_guide_sample_as_valid_json():
    body = GUIDE_SAMPLE.replace(b"-25\n", b"-25,\n")
    json.loads(body)
    error = parse_error_envelope(404, body, "application/json")
    assert (error.status, error.code, error.name, error.message) == (404, -25, "NOT_FOUND", "camera not found.")


def test_missing_meta():
    error = parse_error_envelope(400, envelope(statusCode=400, message="bad cameraId"), "application/json")
    assert (error.status, error.code, error.name, error.message) == (400, None, "HTTP_400", "bad cameraId")


def test_missing_everything_but_status():
    error = parse_error_envelope(500, envelope(), "application/json")
    assert (error.status, error.code, error.name, error.message) == (500, None, "HTTP_500", "no message")


def test_wrongly_typed_fields_are_ignored():
    body = envelope(statusCode="x", message=["no"], meta={"code": "-25", "name": 7})
    error = parse_error_envelope(403, body, "application/json")
    assert (error.status, error.code, error.name, error.message) == (403, None, "HTTP_403", "no message")


def test_envelope_status_wins_over_a_2xx_http_status():
    error = parse_error_envelope(
        200, envelope(statusCode=401, message="session expired", meta={"name": "UNAUTHORIZED"}), "application/json"
    )
    assert error.status == 401
    assert is_session_expired(error)


def test_gateway_statuses_are_unavailable():
    error = parse_error_envelope(503, envelope(statusCode=503, message="busy"), "application/json")
    assert isinstance(error, WepUnavailable)


@pytest.mark.parametrize(
    "status,body,content_type,cls,name,cause",
    [
        # A proxy's 502 page is a real 502: counted as one. A 200 that is not an envelope is not.
        (502, b"<html><body>Bad Gateway</body></html>", "text/html", WepUnavailable, "HTTP_502", "upstream_502"),
        (504, b"", "", WepUnavailable, "HTTP_504", "upstream_504"),
        (200, b"\x00\xff\xfe garbage", "application/octet-stream", WepUnavailable, "BAD_RESPONSE", "bad_response"),
        (404, b"<html>Not Found</html>", "text/html; charset=utf-8", WepError, "HTTP_404", "upstream_404"),
        (400, b"[1, 2]", "application/json", WepError, "HTTP_400", "upstream_400"),
    ],
)
def test_garbage_gives_a_typed_one_line_error(status, body, content_type, cls, name, cause):
    error = parse_error_envelope(status, body, content_type)
    assert type(error) is cls
    assert (error.name, error.cause) == (name, cause)
    assert "\n" not in str(error)
    assert "not a WEP error envelope" in error.message
    assert error.status >= 400


def test_truncated_envelope():
    error = parse_error_envelope(500, b'{"status": "error", "statusCo', "application/json")
    assert (type(error), error.status, error.name, error.message) == (
        WepError,
        500,
        "HTTP_500",
        "malformed error envelope",
    )


def test_garbage_message_describes_without_quoting():
    error = parse_error_envelope(502, b"<html>session=abc123</html>", "text/html; charset=utf-8")
    assert error.message == "answered HTTP 502 with 27 bytes of text/html, not a WEP error envelope"


def test_message_is_one_line_bounded_and_redacted():
    message = "bad\nrequest /media?cameraId=1&session=SECRETSESSION&x=1 " + "y" * 500
    error = parse_error_envelope(400, envelope(statusCode=400, message=message), "application/json")
    assert "SECRETSESSION" not in str(error)
    assert "session=***" in error.message
    assert "\n" not in error.message
    assert len(error.message) <= 200


def test_auth_error_is_a_wep_error():
    error = WepAuthError(401, -1, "UNAUTHORIZED", "bad password")
    assert isinstance(error, WepError) and not isinstance(error, WepUnavailable)


@pytest.mark.parametrize(
    "error,expired",
    [
        (WepError(401, None, "UNAUTHORIZED", "x"), True),
        (WepError(403, None, "FORBIDDEN", "session has expired"), True),
        (WepError(400, None, "INVALID_SESSION", "bad"), True),
        (WepError(404, -25, "NOT_FOUND", "camera not found."), False),
        (WepError(403, None, "FORBIDDEN", "not allowed to view camera"), False),
    ],
)
def test_is_session_expired(error, expired):
    assert is_session_expired(error) is expired


@pytest.mark.parametrize(
    "name, cause, text",
    [
        ("CONNECTION_CLOSED", "connection_closed", "WEP CONNECTION_CLOSED: camera c1: stream cut short"),
        ("TIMEOUT", "timeout", "WEP TIMEOUT: camera c1: stream cut short"),
        ("REFUSED", "refused", "WEP REFUSED: camera c1: stream cut short"),
        ("READ_TIMEOUT", "stall", "WEP READ_TIMEOUT: camera c1: stream cut short"),
    ],
)
def test_a_failure_without_an_answer_shows_no_status(name, cause, text):
    """WEP sent no status: the text and the cause say what happened, not the 502 the gateway answers."""
    error = WepUnavailable(502, None, name, "camera c1: stream cut short")
    assert (error.answered, error.cause, str(error)) == (False, cause, text)


def test_a_wep_name_that_is_also_ours_keeps_its_status():
    error = parse_error_envelope(
        504, envelope(statusCode=504, message="slow", meta={"code": -31, "name": "TIMEOUT"}), "application/json"
    )
    assert (error.name, error.cause, str(error)) == (
        "HTTP_504_TIMEOUT",
        "upstream_504",
        "WEP 504 HTTP_504_TIMEOUT code -31: slow",
    )


def test_a_real_502_is_counted_as_one():
    error = parse_error_envelope(502, envelope(statusCode=502, message="bad gateway"), "application/json")
    assert (error.answered, error.cause, str(error)) == (True, "upstream_502", "WEP 502 HTTP_502: bad gateway")
