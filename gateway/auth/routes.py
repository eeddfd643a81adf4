"""`POST /api/v1/tokens` (admin): mint a viewer token.

{"cameras": ["id", ...] or ["*"], "actions": [see tokens.ACTIONS] (default ["view"]),
 "ttl": seconds (default 3600), "sub": "who" (optional: named in audit logs)}
-> 201 {"token": "...", "expires_at": "2025-01-01T00:00:00Z"}
"""

from __future__ import annotations

import json
import logging
import time

from aiohttp import web

from gateway.api.bodies import read_bounded
from gateway.api.errors import bad_request
from gateway.auth.tokens import DEFAULT_ACTIONS, DEFAULT_TTL, TokenAuthority, check_request
from gateway.db import DatabaseError
from gateway.rules.routes import RULES

log = logging.getLogger("gateway.auth")

TOKENS = web.AppKey("tokens", TokenAuthority)
MAX_BODY = 16 * 1024


async def create_token(request: web.Request) -> web.Response:
    raw = await read_bounded(request, MAX_BODY)
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise bad_request("body must be a JSON object") from None
    if not isinstance(body, dict):
        raise bad_request("body must be a JSON object")
    unknown = set(body) - {"cameras", "actions", "ttl", "sub"}
    if unknown:
        raise bad_request(f"unknown field(s): {', '.join(sorted(unknown))}")
    try:
        cameras, actions, ttl, subject = check_request(
            body.get("cameras"), body.get("actions", DEFAULT_ACTIONS), body.get("ttl", DEFAULT_TTL), body.get("sub")
        )
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    token, expires_at = request.app[TOKENS].mint(cameras, actions, ttl, subject)
    expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires_at))
    answer = {"token": token, "expires_at": expiry, "cameras": cameras, "actions": actions}
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


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/tokens", create_token)
