"""The one access-control middleware: finds the route's rule (policy.py) and applies it
before the handler runs. 401: no or unusable credential; 403: a good one that does not
cover this camera or action (RFC 6750 3.1 error codes in WWW-Authenticate)."""

from __future__ import annotations

import hmac
import logging
from typing import Protocol

from aiohttp import web

from gateway.api.errors import ApiError
from gateway.auth.closing import OpenStreams, session_closer, stream_closer
from gateway.auth.policy import DENY, Access, Rule, rule_for
from gateway.auth.tokens import ACTIONS, ALL_CAMERAS, Grant, TokenAuthority, TokenError, TokenRevoked
from gateway.config import Config

log = logging.getLogger("gateway.auth")

# Per-request values the limits and handlers read (request[RULE], request[GRANT]).
RULE = web.RequestKey("rule", Rule)
GRANT = web.RequestKey("grant", Grant)
TOKEN = web.RequestKey("token", str)
# What viewer tokens have open (streams, sessions), by jti: closed when one is revoked
# (gateway/auth/routes.py wires it to the token authority's revocations).
OPENED_BY_TOKENS = web.AppKey("opened_by_tokens", OpenStreams)


def route_rule(request: web.Request) -> Rule | None:
    """The rule of the matched route; None for an unmatched path (aiohttp answers 404/405)."""
    resource = request.match_info.route.resource
    if resource is None:
        return None
    return rule_for(request.method, resource.canonical)


def _challenge(error: str) -> dict[str, str]:
    return {"WWW-Authenticate": f'Bearer realm="wep-gateway", error="{error}"'}


def _refused_token(exc: TokenError, message: str) -> ApiError:
    """401 for a token that cannot be used; `token_revoked` tells a revoked one apart, so a
    client knows that asking again with it is pointless."""
    code = "token_revoked" if isinstance(exc, TokenRevoked) else "unauthorized"
    return ApiError(401, code, message, _challenge("invalid_token"))


def presented_token(request: web.Request) -> str | None:
    """`Authorization: Bearer` first; `?token=` for players that cannot set headers."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query.get("token") or None


def check_admin(request: web.Request, admin_key: str) -> None:
    if not admin_key:
        raise ApiError(403, "forbidden", "admin routes are off: [auth] admin_key is not configured")
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    # Constant time, so the key cannot be guessed byte by byte from response timings.
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), admin_key.encode()):
        raise ApiError(
            401, "unauthorized", "admin key required (Authorization: Bearer <key>)", _challenge("invalid_token")
        )


# The admin key opens viewer routes too (the operator with it watches and steers
# everything), from the Authorization header only: never a URL, where it could leak.
ADMIN_GRANT = Grant(frozenset({ALL_CAMERAS}), frozenset(ACTIONS), 2**62, "admin")


def check_peer(request: web.Request, secret: str) -> None:
    """Another node of the cluster, by `[cluster] secret` in the Authorization header;
    without a cluster (no secret) nobody is a peer."""
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if not secret or scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(), secret.encode()):
        raise ApiError(401, "unauthorized", "this route is for the cluster's nodes")


def admin_presented(request: web.Request, admin_key: str) -> bool:
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    return (
        bool(admin_key)
        and scheme.lower() == "bearer"
        and hmac.compare_digest(presented.strip().encode(), admin_key.encode())
    )


def check_admin_or_token(request: web.Request, authority: TokenAuthority, admin_key: str, action: str) -> None:
    """The admin key, or a token allowing `action`. Both from the Authorization header only:
    an admin credential in a URL ends up in logs. Every refusal is a 401, the one answer the
    VMS scripts API documents ("Authorization token is not provided or is invalid")."""
    if admin_presented(request, admin_key):
        request[TOKEN] = "admin"
        request[GRANT] = ADMIN_GRANT
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "unauthorized",
            "Authorization token is not provided or is invalid (Authorization: Bearer <admin key or token>)",
            {"WWW-Authenticate": 'Bearer realm="wep-gateway"'},
        )
    try:
        grant = authority.verify(token.strip())
    except TokenError as exc:
        raise _refused_token(exc, f"Authorization token is invalid: {exc}") from None
    if action not in grant.actions:
        raise ApiError(401, "unauthorized", f"the token does not allow {action!r}", _challenge("insufficient_scope"))
    request[TOKEN] = token.strip()
    request[GRANT] = grant


class GuestCredentials(Protocol):
    """A guest link's id in place of a viewer token (gateway/links/guest.py)."""

    def grant(self, request: web.Request, link_id: str) -> Grant:
        """The link's Grant, or the ApiError refusing it (401 unknown, 410 revoked or
        expired, 403 a route the link does not open)."""

    def answered(self, request: web.Request, response: web.StreamResponse) -> None:
        """A guest's request was answered: what it opened may outlive it (a WHEP session)."""

    def recognises(self, link_id: str) -> bool:
        """Is this the id of a link (live or gone)?"""


def _guest_id(request: web.Request, admin_key: str) -> str | None:
    """A presented credential that is a link id: not a JWT, which always has two dots."""
    token = presented_token(request)
    if token is None or "." in token or admin_presented(request, admin_key):
        return None
    return token


def _grant(request: web.Request, authority: TokenAuthority, admin_key: str) -> Grant:
    if admin_presented(request, admin_key):
        request[TOKEN] = "admin"  # the viewer limits' key for it: never the key itself
        request[GRANT] = ADMIN_GRANT
        return ADMIN_GRANT
    token = presented_token(request)
    if token is None:
        raise ApiError(
            401,
            "unauthorized",
            "a viewer token is required (Authorization: Bearer or ?token=)",
            {"WWW-Authenticate": 'Bearer realm="wep-gateway"'},
        )
    try:
        grant = authority.verify(token)
    except TokenError as exc:
        raise _refused_token(exc, str(exc)) from None
    request[TOKEN] = token
    request[GRANT] = grant
    return grant


async def _answer_token(request: web.Request, handler, rule: Rule) -> web.StreamResponse:
    """Run the handler for a viewer token's request, noting what it opens that outlives the
    request (closing.py), so revoking the token closes it."""
    grant = request.get(GRANT)
    streams = request.app.get(OPENED_BY_TOKENS)
    if grant is None or grant.jti is None or streams is None:  # the admin key, a guest link
        return await handler(request)
    stream = stream_closer(request, rule)
    if stream is not None:
        streams.track(grant.jti, stream)
        try:
            return await handler(request)
        finally:
            streams.untrack(grant.jti, stream)
    response = await handler(request)
    session = session_closer(request, rule, response)
    if session is not None:
        streams.track(grant.jti, session)  # closed at once if the token was revoked meanwhile
    return response


def auth_middleware(config: Config, authority: TokenAuthority, guests: GuestCredentials | None = None):
    admin_key = config.auth.admin_key
    viewer_auth = config.auth.viewer_auth
    metrics_admin = config.metrics.require_admin_key

    @web.middleware
    async def middleware(request: web.Request, handler):
        rule = route_rule(request)
        if rule is None:
            return await handler(request)
        request[RULE] = rule
        access = rule.access
        if access is Access.OPEN or access is Access.SESSION:
            return await handler(request)
        if access is Access.ADMIN or (access is Access.METRICS and metrics_admin):
            check_admin(request, admin_key)
            return await handler(request)
        if access is Access.METRICS:
            return await handler(request)
        if access is Access.PEER:
            check_peer(request, config.cluster.secret)
            return await handler(request)
        if access is Access.ADMIN_OR_TOKEN:  # before viewer_auth: an admin route stays closed without it
            check_admin_or_token(request, authority, admin_key, rule.action or "admin")
            return await handler(request)
        if rule is DENY:
            resource = request.match_info.route.resource
            log.error(
                "route %s %s has no access policy: refused",
                request.method,
                resource.canonical if resource is not None else request.path,
            )
            raise ApiError(403, "forbidden", "this route has no access policy")
        # A guest link keeps to its camera and window even where viewers need no token.
        guest = _guest_id(request, admin_key) if guests is not None else None
        if guest is not None and guests is not None and not viewer_auth and not guests.recognises(guest):
            guest = None  # no credential needed: one that is no link is ignored, as any token is
        if guest is not None and guests is not None:
            grant = request[GRANT] = guests.grant(request, guest)
            request[TOKEN] = grant.subject or ""  # "guest:<ref>", the viewer limits' key: never the id
        elif not viewer_auth:
            return await handler(request)
        else:
            grant = _grant(request, authority, admin_key)
        if access is Access.CAMERA_LIST:
            if rule.action is not None and rule.action not in grant.actions:
                raise ApiError(
                    403, "forbidden", f"the token does not allow {rule.action!r}", _challenge("insufficient_scope")
                )
            # The handler answers for request[GRANT]'s cameras only.
            return await _answer_token(request, handler, rule)
        camera_id = request.match_info.get("camera", "")
        if not grant.allows_camera(camera_id):
            raise ApiError(403, "forbidden", "the token does not cover this camera", _challenge("insufficient_scope"))
        if rule.action not in grant.actions:
            raise ApiError(
                403, "forbidden", f"the token does not allow {rule.action!r}", _challenge("insufficient_scope")
            )
        if guest is None or guests is None:
            return await _answer_token(request, handler, rule)
        response = await handler(request)
        guests.answered(request, response)
        return response

    return middleware
