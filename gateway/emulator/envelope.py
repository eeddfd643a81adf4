"""The WEP error envelope (guide, "Error Response Format"), and the one error type.

{"status": "error", "statusCode": N, "message": "...", "meta": {"code": C, "name": NAME}}
The guide documents only -25 NOT_FOUND; the other negative codes are the emulator's own,
stable so tests and the gateway can match on `name`.
"""

from __future__ import annotations

from aiohttp import web

# status -> (name, Avigilon-style negative code)
ERROR_NAMES: dict[int, tuple[str, int]] = {
    400: ("BAD_REQUEST", -2),
    401: ("UNAUTHORIZED", -3),
    403: ("FORBIDDEN", -4),
    404: ("NOT_FOUND", -25),  # the guide's own example
    405: ("METHOD_NOT_ALLOWED", -5),
    409: ("CONFLICT", -9),
    413: ("PAYLOAD_TOO_LARGE", -13),
    415: ("UNSUPPORTED_MEDIA_TYPE", -15),
    500: ("INTERNAL_ERROR", -1),
    503: ("SERVICE_UNAVAILABLE", -30),
    504: ("GATEWAY_TIMEOUT", -31),
}


class WepError(Exception):
    """An error answered to the client as the envelope."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def envelope(status: int, message: str) -> dict:
    name, code = ERROR_NAMES.get(status, ("ERROR", -1))
    return {"status": "error", "statusCode": status, "message": message, "meta": {"code": code, "name": name}}


def error_response(status: int, message: str) -> web.Response:
    return web.json_response(envelope(status, message), status=status)


def success(result=None) -> web.Response:
    body = {"status": "success"}
    if result is not None:
        body["result"] = result
    return web.json_response(body)
