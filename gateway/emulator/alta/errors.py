"""The Alta emulator's refusals as types; routes_api.alta_errors turns them into answers."""

from __future__ import annotations

from aiohttp import web

REASONS = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
           409: "Conflict", 500: "Internal Server Error"}  # fmt: skip


class AltaError(Exception):
    status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # KeyError subclasses would otherwise quote the message
        return self.message


class BadRequest(AltaError):
    status = 400


class Unauthorized(AltaError):
    status = 401


class NotFound(AltaError, KeyError):
    """An unknown alert, zone, device or guest token; a KeyError to the Python API's callers."""

    status = 404


class Conflict(AltaError):
    """The alert has ended."""

    status = 409


def error_response(status: int, message: str) -> web.Response:
    """Every /api/v1 refusal: {"status": 404, "error": "Not Found", "message": "..."}."""
    body = {"status": status, "error": REASONS.get(status, "Error"), "message": message}
    return web.json_response(body, status=status)
