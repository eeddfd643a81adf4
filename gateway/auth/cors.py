"""CORS (Fetch standard, "CORS protocol"): which other origins may call the gateway.

`[server] cors_origins` lists them ("*" for any); empty means same origin only. The
decision is made here for every answer, in `on_response_prepare`, so it also covers
streams and error answers: an allowed origin gets `Access-Control-Allow-Origin`; a
browser from any other origin gets no CORS header at all, whatever a handler set. Preflights (OPTIONS with
Access-Control-Request-Method) are answered here, before access control: they never
carry credentials.
"""

from __future__ import annotations

from aiohttp import web

from gateway.api.errors import error_response

ALLOW_HEADERS = "Authorization, Content-Type, If-Match"
# What a WHEP/WHIP client and a player read from answers (RFC 9725 4.1, RFC 9110 10.2.3).
EXPOSE_HEADERS = "Location, ETag, Link, Accept-Post, Retry-After, WWW-Authenticate"
MAX_AGE = "86400"


class CorsPolicy:
    def __init__(self, origins: tuple[str, ...]):
        self.any = "*" in origins
        self.origins = frozenset(origins)

    def allows(self, origin: str | None) -> bool:
        return origin is not None and (self.any or origin in self.origins)

    async def on_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        origin = request.headers.get("Origin")
        if origin is None:
            return  # not a browser's cross-origin call: CORS headers mean nothing to it
        for name in [name for name in response.headers if name.lower().startswith("access-control-")]:
            if name.lower() not in _PREFLIGHT_HEADERS or not request.get(_PREFLIGHT):
                del response.headers[name]
        if not self.allows(origin):
            return
        # Echo the origin rather than "*" for a list, and say the answer depends on it.
        response.headers["Access-Control-Allow-Origin"] = "*" if self.any else origin
        if not self.any and "origin" not in response.headers.get("Vary", "").lower():
            response.headers.add("Vary", "Origin")
        response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS

    def middleware(self):
        @web.middleware
        async def cors_preflight(request: web.Request, handler):
            if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
                return await handler(request)
            methods = _methods(request)
            if methods is None:
                return await handler(request)  # no such path: aiohttp's 404
            if not self.allows(request.headers.get("Origin")):
                return error_response(403, "origin_not_allowed", "this origin is not in [server] cors_origins")
            request[_PREFLIGHT] = True
            return web.Response(
                status=204,
                headers={
                    "Access-Control-Allow-Methods": ", ".join(sorted(methods)),
                    "Access-Control-Allow-Headers": ALLOW_HEADERS,
                    "Access-Control-Max-Age": MAX_AGE,
                },
            )

        return cors_preflight


_PREFLIGHT_HEADERS = ("access-control-allow-methods", "access-control-allow-headers", "access-control-max-age")
_PREFLIGHT = web.RequestKey("cors_preflight", bool)


def _methods(request: web.Request) -> set[str] | None:
    """The methods the path serves, or None when no route has the path."""
    match = request.match_info
    exception = match.http_exception
    if exception is not None:
        allowed = getattr(exception, "allowed_methods", None)
        return set(allowed) if allowed else None
    resource = match.route.resource
    if resource is None:
        return None
    return {route.method for route in resource} | {"OPTIONS"}
