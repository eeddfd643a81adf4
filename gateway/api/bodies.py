"""Request bodies read whole, up to a bound. `StreamReader.read(n)` answers what has arrived
(at most n bytes), not the whole body: a JSON body split across TCP segments would be cut."""

from __future__ import annotations

from aiohttp import web

from gateway.api.errors import ApiError


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
