"""Digest verification: RFC 2617's worked example, RTSP's no-qop form, replays and stale nonces."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from gateway.emulator.amcrest import digest
from gateway.emulator.amcrest.digest import DigestAuthority, Verdict, parse_authorization

# RFC 2617 3.5 (with its erratum's response for "Circle Of Life")
NONCE, OPAQUE = "dcd98b7102dd2f0e8b11d0f600bfb0c093", "5ccc069c403ebaf9f0171e9517f40e41"
EXAMPLE = (
    'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
    'uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", '
    'response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)


@pytest.fixture
def authority(monkeypatch) -> DigestAuthority:
    values = itertools.chain([OPAQUE, NONCE], (f"nonce{i}" for i in itertools.count()))
    monkeypatch.setattr(digest.secrets, "token_hex", lambda n: next(values))
    authority = DigestAuthority("testrealm@host.com", "Mufasa", "Circle Of Life")
    challenge = authority.challenge()
    assert challenge == f'Digest realm="testrealm@host.com", qop="auth", nonce="{NONCE}", opaque="{OPAQUE}"'
    return authority


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def test_rfc_2617_example(authority):
    assert authority.verify("GET", EXAMPLE, "/dir/index.html") is Verdict.OK
    assert authority.verify("GET", EXAMPLE, "/dir/index.html") is Verdict.DENIED  # the same nc again: a replay
    assert authority.verify("GET", EXAMPLE, "/other") is Verdict.DENIED  # 3.4.6: uri must be the request's


def test_wrong_password_method_or_opaque(authority):
    assert authority.verify("POST", EXAMPLE, "/dir/index.html") is Verdict.DENIED
    assert authority.verify("GET", EXAMPLE.replace("Mufasa", "Simba"), "/dir/index.html") is Verdict.DENIED
    assert authority.verify("GET", EXAMPLE.replace(OPAQUE, "x" * 32), "/dir/index.html") is Verdict.DENIED
    assert authority.verify("GET", "Basic TXVmYXNhOkNpcmNsZQ==", "/dir/index.html") is Verdict.DENIED
    assert authority.verify("GET", None, "/dir/index.html") is Verdict.DENIED


def answer(nonce: str, method: str, uri: str, nc: str | None = None, password: str = "Circle Of Life") -> str:
    ha1 = md5(f"Mufasa:testrealm@host.com:{password}")
    ha2 = md5(f"{method}:{uri}")
    if nc is None:
        response = md5(f"{ha1}:{nonce}:{ha2}")
        return (
            f'Digest username="Mufasa", realm="testrealm@host.com", nonce="{nonce}", uri="{uri}", response="{response}"'
        )
    response = md5(f"{ha1}:{nonce}:{nc}:c1:auth:{ha2}")
    return (f'Digest username="Mufasa", realm="testrealm@host.com", nonce="{nonce}", uri="{uri}", qop=auth, '
            f'nc={nc}, cnonce="c1", response="{response}", opaque="{OPAQUE}", algorithm=MD5')  # fmt: skip


def test_rtsp_form_without_qop(authority):
    challenge = authority.challenge(qop=False)
    assert challenge == 'Digest realm="testrealm@host.com", nonce="nonce0"'
    url = "rtsp://127.0.0.1/cam/realmonitor?channel=1&subtype=0"
    assert authority.verify("DESCRIBE", answer("nonce0", "DESCRIBE", url)) is Verdict.OK
    assert authority.verify("SETUP", answer("nonce0", "SETUP", url + "/trackID=0")) is Verdict.OK
    assert authority.verify("SETUP", answer("nonce0", "SETUP", url, password="wrong")) is Verdict.DENIED


def test_a_challenge_with_qop_cannot_be_answered_without(authority):
    assert authority.verify("GET", answer(NONCE, "GET", "/a")) is Verdict.DENIED


def test_nonce_counts_may_arrive_out_of_order_but_not_twice(authority):
    assert authority.verify("GET", answer(NONCE, "GET", "/a", "00000002"), "/a") is Verdict.OK
    assert authority.verify("GET", answer(NONCE, "GET", "/a", "00000001"), "/a") is Verdict.OK
    assert authority.verify("GET", answer(NONCE, "GET", "/a", "00000002"), "/a") is Verdict.DENIED


def test_a_forgotten_nonce_is_stale(authority, monkeypatch):
    monkeypatch.setattr(digest, "MAX_NONCES", 2)
    authority.challenge()
    authority.challenge()  # the example's nonce is now the oldest of three: forgotten
    assert authority.verify("GET", EXAMPLE, "/dir/index.html") is Verdict.STALE
    assert "stale=true" in authority.challenge(stale=True)


def test_parse_authorization_quoting():
    params = parse_authorization(r'Digest username="a\"b", realm="r, s", nc=00000001, qop=auth')
    assert params == {"username": 'a"b', "realm": "r, s", "nc": "00000001", "qop": "auth"}
    assert parse_authorization("Digest ===") is None
    assert parse_authorization("Bearer abc") is None
