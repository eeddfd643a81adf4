"""Viewer tokens: JWTs (RFC 7519) signed with HS256 (RFC 7518 3.2) under `[auth] token_secret`.

A token lists the cameras it opens (or "*") and the actions it allows. The audience claim
keeps a JWT minted for something else with the same secret from opening the gateway, and
the algorithm is pinned on verification (RFC 8725 3.1: never trust the header's `alg`).

Each token has a random `jti`, by which it can be revoked before it expires
(revocations.py); tokens minted before `jti`s existed have none and cannot be.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import jwt

from gateway.auth.revocations import Revocations

# `share`: mint guest links for cameras the token may view; `admin`: the scripts API
# (/api/admin/v1/...), for integrations that hold a token rather than the admin key.
ACTIONS = ("view", "talk", "snapshot", "alarms", "ptz", "outputs", "record", "share", "admin")
ALL_CAMERAS = "*"
AUDIENCE = "wep-gateway/viewer"
ALGORITHM = "HS256"
MAX_SUBJECT = 128  # `sub`: who holds the token, written to audit logs
MAX_TTL = 7 * 24 * 3600  # a week: long-lived access is the admin key's job, not a viewer's
# What POST /api/v1/tokens gives when the body leaves `actions` or `ttl` out: a token to
# watch, for an hour.
DEFAULT_ACTIONS = ("view",)
DEFAULT_TTL = 3600
# Verified tokens are remembered (they never change); a bound keeps a token flood cheap. Big
# enough for every viewer of a busy node (5000 players behind the edge tier each check their
# own token): past it the oldest is forgotten, one at a time.
VERIFIED_CACHE = 65536


class TokenError(Exception):
    """A token that cannot be used (malformed, bad signature, expired); one-line message."""


class TokenRevoked(TokenError):
    """A good token that was revoked before it expired."""


@dataclass(frozen=True, slots=True)
class Grant:
    """What a verified token allows."""

    cameras: frozenset[str]
    actions: frozenset[str]
    expires_at: int
    subject: str | None = None  # the `sub` claim: who acts (alarm audit), when the minter said
    jti: str | None = None  # the token's id, by which it is revoked; None: not revocable

    def allows_camera(self, camera_id: str) -> bool:
        return ALL_CAMERAS in self.cameras or camera_id in self.cameras

    def allows(self, action: str, camera_id: str) -> bool:
        return action in self.actions and self.allows_camera(camera_id)


def check_request(
    cameras: object, actions: object = DEFAULT_ACTIONS, ttl: object = DEFAULT_TTL, subject: object = None
) -> tuple[list[str], list[str], int, str | None]:
    """Validate the body of POST /api/v1/tokens (`actions` and `ttl` left out: their defaults);
    ValueError names the field."""
    if not isinstance(cameras, list) or not cameras or not all(isinstance(c, str) and c for c in cameras):
        raise ValueError('cameras must be a non-empty list of camera ids, or ["*"]')
    if not isinstance(actions, (list, tuple)) or not actions or not all(a in ACTIONS for a in actions):
        raise ValueError(f"actions must be a non-empty list of {', '.join(ACTIONS)}")
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not 0 < ttl <= MAX_TTL:
        raise ValueError(f"ttl must be a whole number of seconds, 1 to {MAX_TTL}")
    if subject is not None and (
        not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT or not subject.isprintable()
    ):
        raise ValueError(f"sub must be a printable string of 1 to {MAX_SUBJECT} characters")
    return sorted(set(cameras)), sorted(set(actions)), ttl, subject


class TokenAuthority:
    def __init__(self, secret: str, clock: Callable[[], float] = time.time, revocations: Revocations | None = None):
        if not secret:
            raise ValueError("a token secret is required")
        self._key = secret.encode()
        self._clock = clock
        self._verified: dict[str, Grant] = {}
        self.revocations = revocations if revocations is not None else Revocations(clock)

    def mint(
        self, cameras: Iterable[str], actions: Iterable[str], ttl: int, subject: str | None = None
    ) -> tuple[str, int]:
        """A signed token and its expiry (Unix seconds)."""
        now = int(self._clock())
        expires_at = now + ttl
        # jti: two tokens minted alike are still two viewers (HLS players are counted by token).
        claims = {
            "aud": AUDIENCE,
            "iat": now,
            "exp": expires_at,
            "jti": secrets.token_urlsafe(9),
            "cam": sorted(cameras),
            "act": sorted(actions),
        }
        if subject is not None:
            claims["sub"] = subject
        return jwt.encode(claims, self._key, algorithm=ALGORITHM), expires_at

    def verify(self, token: str) -> Grant:
        now = self._clock()
        grant = self._verified.get(token)
        if grant is None:
            grant = self._decode(token, now)
            if len(self._verified) >= VERIFIED_CACHE:
                # Insertion order: the oldest goes. Clearing it all made every token of a crowd
                # larger than the cache decode again (measured: 60 us a verify instead of 0.4).
                del self._verified[next(iter(self._verified))]
            self._verified[token] = grant
        if grant.expires_at <= now:
            raise TokenError("token expired")
        # Asked on every request, cached grants too: a revoke takes effect on the next one.
        if grant.jti is not None and self.revocations.is_revoked(grant.jti):
            raise TokenRevoked("token revoked")
        return grant

    def inspect(self, token: str) -> Grant:
        """A token of this authority, checked as `verify` does (signature, audience, claims)
        except for expiry and revocation: what revoking it needs to know. TokenError if it
        is not one."""
        return self._decode(token, self._clock(), expired_too=True)

    def _decode(self, token: str, now: float, expired_too: bool = False) -> Grant:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                options={"require": ["exp", "aud", "cam", "act"], "verify_exp": not expired_too},
                # PyJWT compares exp with its own clock; ours is checked in verify().
                leeway=0,
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("token expired") from None
        except jwt.InvalidTokenError as exc:
            raise TokenError(f"invalid token ({exc.__class__.__name__})") from None
        cameras, actions, subject, jti = claims["cam"], claims["act"], claims.get("sub"), claims.get("jti")
        if not isinstance(cameras, list) or not isinstance(actions, list) or not isinstance(claims["exp"], int):
            raise TokenError("invalid token (claims)")
        return Grant(
            frozenset(map(str, cameras)),
            frozenset(map(str, actions)),
            claims["exp"],
            subject if isinstance(subject, str) else None,
            jti if isinstance(jti, str) and jti else None,
        )


def authority_for(secret: str) -> tuple[TokenAuthority, str]:
    """The authority of `[auth] token_secret`, or of a random per-process key when it is
    empty (then tokens die with the process). Returns the key actually used."""
    key = secret or secrets.token_urlsafe(32)
    return TokenAuthority(key), key
