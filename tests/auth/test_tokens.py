"""Viewer tokens: what is minted verifies, anything else is refused with a reason."""

from __future__ import annotations

import time

import jwt
import pytest

from gateway.auth.tokens import AUDIENCE, TokenAuthority, TokenError, check_request

SECRET = "a-secret-of-reasonable-length-0123456789"


def test_round_trip():
    token, expires_at = TokenAuthority(SECRET).mint(["cam1", "cam2"], ["view"], 60)
    grant = TokenAuthority(SECRET).verify(token)
    assert grant.allows("view", "cam1") and grant.allows("view", "cam2")
    assert not grant.allows("view", "cam3") and not grant.allows("talk", "cam1")
    assert abs(expires_at - (time.time() + 60)) < 5 and grant.expires_at == expires_at


def test_star_covers_every_camera():
    grant = TokenAuthority(SECRET).verify(TokenAuthority(SECRET).mint(["*"], ["snapshot"], 60)[0])
    assert grant.allows("snapshot", "anything") and not grant.allows("view", "anything")


def test_expiry_is_checked_on_every_use():
    now = [time.time()]
    authority = TokenAuthority(SECRET, clock=lambda: now[0])
    token, _ = authority.mint(["cam"], ["view"], 30)
    authority.verify(token)  # now remembered as verified
    now[0] += 31
    with pytest.raises(TokenError, match="expired"):
        authority.verify(token)


@pytest.mark.parametrize(
    "forge",
    [
        lambda claims: jwt.encode(claims, "another-secret-of-the-same-length-0123", algorithm="HS256"),
        lambda claims: jwt.encode({**claims, "aud": "something-else"}, SECRET, algorithm="HS256"),
        lambda claims: jwt.encode({k: v for k, v in claims.items() if k != "exp"}, SECRET, algorithm="HS256"),
        lambda claims: jwt.encode(claims, None, algorithm="none"),  # RFC 8725 2.1: "none" is never accepted
        lambda claims: jwt.encode(claims, SECRET, algorithm="HS512"),  # the algorithm is pinned
        lambda claims: jwt.encode({**claims, "cam": "cam"}, SECRET, algorithm="HS256"),
        lambda claims: "garbage",
    ],
)
def test_forged_or_broken_tokens_are_refused(forge):
    claims = {"aud": AUDIENCE, "exp": int(time.time()) + 60, "cam": ["cam"], "act": ["view"]}
    with pytest.raises(TokenError):
        TokenAuthority(SECRET).verify(forge(claims))


@pytest.mark.parametrize(
    "cameras, actions, ttl, field",
    [
        ([], ["view"], 60, "cameras"),
        ("cam", ["view"], 60, "cameras"),
        ([""], ["view"], 60, "cameras"),
        (["cam"], [], 60, "actions"),
        (["cam"], ["root"], 60, "actions"),
        (["cam"], ["view"], 0, "ttl"),
        (["cam"], ["view"], 1.5, "ttl"),
        (["cam"], ["view"], True, "ttl"),
    ],
)
def test_request_checks_name_the_field(cameras, actions, ttl, field):
    with pytest.raises(ValueError, match=field):
        check_request(cameras, actions, ttl)


def test_a_request_without_actions_or_ttl_is_a_token_to_view_for_an_hour():
    assert check_request(["cam", "cam"]) == (["cam"], ["view"], 3600, None)


def test_the_verified_cache_forgets_its_oldest_token_only(monkeypatch):
    from gateway.auth import tokens as tokens_module

    monkeypatch.setattr(tokens_module, "VERIFIED_CACHE", 3)
    authority = tokens_module.TokenAuthority("s" * 40)
    minted = [authority.mint(["cam"], ["view"], 600)[0] for _ in range(5)]
    decoded = []
    monkeypatch.setattr(
        authority, "_decode", lambda token, now, real=authority._decode: decoded.append(token) or real(token, now)
    )
    for token in minted:
        authority.verify(token)
    assert decoded == minted
    decoded.clear()
    for token in minted[2:]:  # the newest three are remembered: no decoding again
        authority.verify(token)
    assert decoded == []
    authority.verify(minted[0])  # the oldest was forgotten
    assert decoded == [minted[0]]
