"""Viewer tokens (admin key only).

`POST /api/v1/tokens`: mint one.
    {"cameras": ["id", ...] or ["*"], "actions": [see tokens.ACTIONS] (default ["view"]),
     "ttl": seconds (default 3600), "sub": "who" (optional: named in audit logs)}
    -> 201 {"token": "...", "jti": "...", "expires_at": "2025-01-01T00:00:00Z", ...}

`POST /api/v1/tokens/revoke`: refuse one from now on, before it expires.
    {"token": "<jwt>"} or {"jti": "<id>", "expires_at": <Unix seconds> or "<ISO 8601>"}
    -> 204; requests with it get 401 `token_revoked`, and what it has open (/live, the
    event stream, WHEP and talk sessions, a talkdown file being played) is closed now.
  `expires_at` is the token's own (as minted: the revocation is kept until then); left out,
  the longest a token can live from now. Revoking is idempotent, and a token that has
  expired already is revoked all the same (204, not 409): it opens nothing new anyway, and
  what it opened while it was good is closed. 400 for a token this gateway did not sign
  (`invalid_token`) or one without a jti (`not_revocable`: minted before revocation
  existed; it lasts until it expires, or until [auth] token_secret changes).

The revocations are `app[REVOCATIONS]` (revocations.Revocations): a cluster layer publishes
local ones (`add_listener`) and applies its peers' (`apply`), which closes what the token has
open on this node too.
"""

from __future__ import annotations

import logging
import math
import time

from aiohttp import web

from gateway.api.bodies import json_fields, zoned_time
from gateway.api.errors import ApiError, bad_request
from gateway.auth.closing import OpenStreams
from gateway.auth.middleware import OPENED_BY_TOKENS
from gateway.auth.revocations import Revocations, RevocationsFull, check_jti
from gateway.auth.tokens import DEFAULT_ACTIONS, DEFAULT_TTL, MAX_TTL, TokenAuthority, TokenError, check_request
from gateway.db import DatabaseError
from gateway.rules.routes import RULES

log = logging.getLogger("gateway.auth")

TOKENS = web.AppKey("tokens", TokenAuthority)
REVOCATIONS = web.AppKey("token_revocations", Revocations)
MAX_BODY = 16 * 1024
REVOKE_FIELDS = {"token", "jti", "expires_at"}
# A moment written as a date: Unix seconds up to the year 9999 (what datetime can hold).
MAX_UNIX = 253_402_300_799


async def create_token(request: web.Request) -> web.Response:
    body = await json_fields(request, {"cameras", "actions", "ttl", "sub"}, MAX_BODY)
    try:
        cameras, actions, ttl, subject = check_request(
            body.get("cameras"), body.get("actions", DEFAULT_ACTIONS), body.get("ttl", DEFAULT_TTL), body.get("sub")
        )
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    authority = request.app[TOKENS]
    token, expires_at = authority.mint(cameras, actions, ttl, subject)
    expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires_at))
    answer = {
        "token": token,
        "jti": authority.inspect(token).jti,  # to revoke it by, without keeping the token
        "expires_at": expiry,
        "cameras": cameras,
        "actions": actions,
    }
    if subject is not None:
        answer["sub"] = subject
        await _remember(request.app, subject)
    return web.json_response(answer, status=201, headers={"Cache-Control": "no-store"})


async def _remember(app: web.Application, subject: str) -> None:
    """The scripts API's users are the subjects tokens were minted for (gateway/rules/scripts.py).
    The token is good whether or not the rule store could note it."""
    engine = app.get(RULES)
    if engine is None:
        return
    try:
        await engine.remember_user(subject)
    except DatabaseError as exc:  # a full disk must not stop tokens being minted
        log.warning("a token subject could not be remembered as a scripts API user: %s", exc)


async def revoke_token(request: web.Request) -> web.Response:
    body = await json_fields(request, REVOKE_FIELDS, MAX_BODY)
    now = time.time()
    if "token" in body:
        if "jti" in body or "expires_at" in body:
            raise bad_request("give token, or jti with expires_at: not both")
        jti, until = _identify(request.app[TOKENS], body["token"])
    elif "jti" in body:
        try:
            jti = check_jti(body["jti"])
        except ValueError as exc:
            raise bad_request(str(exc)) from None
        latest = math.ceil(now) + MAX_TTL  # no token outlives it: a later time only keeps the entry longer
        until = min(_expiry(body["expires_at"]), latest) if "expires_at" in body else latest
    else:
        raise bad_request("token (the token itself) or jti (its id, as minted) is required")
    try:
        request.app[REVOCATIONS].revoke(jti, until)
    except RevocationsFull as exc:
        raise ApiError(503, "too_many_revocations", str(exc), {"Retry-After": "3600"}) from None
    log.info("viewer token %s revoked%s", jti, "" if until > now else " (it had expired already)")
    return web.Response(status=204, headers={"Cache-Control": "no-store"})


def _identify(authority: TokenAuthority, token: object) -> tuple[str, int]:
    """The jti and expiry of a token this gateway signed (expired or not); 400 otherwise.
    The message never repeats the token."""
    if not isinstance(token, str) or not token:
        raise bad_request("token must be a viewer token (a JWT, as POST /api/v1/tokens answered it)")
    try:
        grant = authority.inspect(token)
    except TokenError as exc:
        raise ApiError(400, "invalid_token", f"not a viewer token of this gateway: {exc}") from None
    try:
        return check_jti(grant.jti), grant.expires_at
    except ValueError:  # none (minted before tokens had one), or not one the gateway would mint
        raise ApiError(
            400,
            "not_revocable",
            "the token has no jti (minted before tokens could be revoked): it lasts until it expires, "
            "or until [auth] token_secret changes",
        ) from None


def _expiry(value: object) -> int:
    """`expires_at` as Unix seconds: a whole number, or an ISO 8601 time with a zone (as
    POST /api/v1/tokens answers it)."""
    shape = "expires_at must be Unix seconds or an ISO 8601 time with a zone, such as 2025-01-01T12:00:00Z"
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= MAX_UNIX:
            raise bad_request(shape)
        return value
    return max(0, math.ceil(zoned_time(value, shape).timestamp()))


def _wire_revocations(app: web.Application) -> None:
    """Revoking a token closes what it has open here, whoever revoked it (this node's API or
    a peer's announcement)."""
    revocations = app[REVOCATIONS] = app[TOKENS].revocations
    streams = app[OPENED_BY_TOKENS] = OpenStreams(gone=lambda jti: "revoked" if revocations.is_revoked(jti) else None)

    def close(jti: str, until: int) -> None:
        closed = streams.close(jti, "revoked")
        if closed:
            log.info("viewer token %s revoked: closed %d open stream(s) or session(s)", jti, closed)

    revocations.add_watcher(close)


def add_routes(app: web.Application) -> None:
    _wire_revocations(app)
    app.router.add_post("/api/v1/tokens", create_token)
    app.router.add_post("/api/v1/tokens/revoke", revoke_token)
