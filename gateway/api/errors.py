"""Errors as types, mapped to HTTP answers in one place: `{"error": {"code", "message"}}`."""

from __future__ import annotations

import logging

from aiohttp import web

from gateway.api.malformed import CLIENT_FAULTS, MALFORMED, describe
from gateway.api.query import ParameterError
from gateway.backends.base import Unsupported, UpstreamFailure
from gateway.media.hub import HubClosed
from gateway.wep.errors import WepError, WepUnavailable

log = logging.getLogger("gateway.api")


class ApiError(Exception):
    """An answer to the client: HTTP status, a short machine code and a human message."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def bad_request(message: str) -> ApiError:
    return ApiError(400, "bad_request", message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "not_found", message)


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


# A camera system's failures other than WEP's, by cause (gateway.backends.base.UpstreamFailure).
_UNREACHABLE_CAUSES = frozenset({"connection", "timeout", "stall"})


def _upstream_answer(exc: UpstreamFailure) -> web.Response:
    if not isinstance(exc, WepError):
        if exc.cause in _UNREACHABLE_CAUSES:
            return error_response(503, "upstream_unavailable", str(exc), {"Retry-After": "2"})
        if exc.cause == "auth":
            return error_response(502, "upstream_rejected", str(exc))
        if exc.status == 404:
            return error_response(404, "not_found", str(exc))
        return error_response(502, "upstream_error", str(exc))
    if isinstance(exc, WepUnavailable):
        return error_response(
            503, "upstream_unavailable", "the video system is not reachable right now", {"Retry-After": "2"}
        )
    if exc.status == 404:
        return error_response(404, "not_found", "not found on the video system")
    if 400 <= exc.status < 500:
        return error_response(
            502, "upstream_rejected", f"the video system refused the request ({exc.status} {exc.name})"
        )
    return error_response(502, "upstream_error", f"the video system failed ({exc.status} {exc.name})")


def _malformed(what: str) -> web.Response:
    response = error_response(400, "bad_request", f"malformed request: {what}")
    response.force_close()  # its framing is broken: the connection cannot carry another request
    return response


@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.headers)
    except ParameterError as exc:  # a number in the query or path that is not one (gateway/api/query.py)
        return error_response(400, "bad_request", str(exc))
    except CLIENT_FAULTS as exc:  # a body that failed as the handler read it: bad chunks, bad gzip
        MALFORMED.note(request.remote, describe(exc), exc=exc)
        return _malformed(describe(exc))
    except ConnectionResetError:
        if request.transport is not None and not request.transport.is_closing():
            raise
        # The request body's "Connection lost": the client left mid-request, nobody reads the answer.
        MALFORMED.note(request.remote, "the connection closed before the request ended", level=logging.INFO)
        return _malformed("the connection closed before the request ended")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        # aiohttp's own 404/405/413: keep the status, give the JSON shape.
        return error_response(
            exc.status,
            exc.reason.lower().replace(" ", "_"),
            exc.reason,
            {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")},
        )
    except UpstreamFailure as exc:
        # Message and route only: the exception never carries the session, a BaseURL or a password.
        log.warning("upstream error on %s: %s", request.path, exc)
        return _upstream_answer(exc)
    except Unsupported as exc:
        return error_response(400, "not_supported", str(exc))
    except HubClosed:  # the sources are closed: only at shutdown
        return error_response(503, "shutting_down", "the gateway is shutting down", {"Retry-After": "2"})
