"""Request bodies read whole, up to a bound. `StreamReader.read(n)` answers what has arrived
(at most n bytes), not the whole body: a JSON body split across TCP segments would be cut.
And the values in them that more than one route reads alike."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aiohttp import web

from gateway.api.errors import ApiError, bad_request


async def read_bounded(request: web.Request, limit: int, what: str = "body") -> bytes:
    """The body, or 413 once it passes `limit` bytes (declared or not)."""
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "too_large", f"{what} larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "too_large", f"{what} larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def json_object(request: web.Request, limit: int, *, empty: bool = False) -> dict[str, Any]:
    """A JSON object body (400 otherwise); `empty`: no body is {}."""
    raw = await read_bounded(request, limit)
    if empty and not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise bad_request("body must be a JSON object") from None
    if not isinstance(body, dict):
        raise bad_request("body must be a JSON object")
    return body


async def json_fields(request: web.Request, fields: set[str], limit: int, *, empty: bool = False) -> dict[str, Any]:
    """A JSON object body with only `fields` (400 naming the others); `empty`: no body is {}."""
    body = await json_object(request, limit, empty=empty)
    unknown = sorted(set(body) - fields)
    if unknown:
        raise bad_request(f"unknown field(s): {', '.join(unknown)}; expected {', '.join(sorted(fields))}")
    return body


def zoned_time(value: object, shape: str) -> datetime:
    """A JSON string holding an ISO 8601 time with a zone ("Z" or an offset), or 400 saying
    `shape`, what it must look like: a time without a zone names no instant."""
    if not isinstance(value, str):
        raise bad_request(shape)
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise bad_request(shape) from None
    if at.tzinfo is None:
        raise bad_request(shape)
    return at
