"""HTTP Digest access authentication, the server side (RFC 7616, MD5, qop=auth), sans-IO.

Dahua firmware challenges with `realm="Login to <serial>"`, `qop="auth"`, a nonce and an
opaque on HTTP; on RTSP with realm and nonce only (RFC 2069 style, no qop), which is what
FFmpeg and VLC expect from these cameras. One authority serves both: it remembers each
nonce it issued and whether that challenge offered qop, so a client cannot downgrade.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field

# Issued nonces kept; the oldest is forgotten first and its next use answers stale=true.
MAX_NONCES = 1024
# nc values remembered per nonce (RFC 7616 3.4: the server should detect replays).
MAX_NC_PER_NONCE = 4096

_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,|$)')


class Verdict(enum.Enum):
    OK = "ok"
    DENIED = "denied"  # missing, malformed, wrong user/password, replayed nc
    STALE = "stale"  # right credentials on a nonce this authority forgot (RFC 7616 3.3 stale)


@dataclass
class _Nonce:
    qop: bool  # the challenge offered qop="auth": the answer must use it
    seen_nc: set[int] = field(default_factory=set)


def parse_authorization(value: str) -> dict[str, str] | None:
    """The parameters of a `Digest ...` credentials header, or None if it is not one."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        match = _PARAM.match(rest, pos)
        if match is None or match.end() == pos:
            return None
        quoted, bare = match.group(2), match.group(3)
        params[match.group(1).lower()] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        pos = match.end()
    return params


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class DigestAuthority:
    """Issues challenges and checks credentials for one user in one realm."""

    def __init__(self, realm: str, username: str, password: str) -> None:
        self.realm = realm
        self._username = username
        self._ha1 = _md5(f"{username}:{realm}:{password}")
        self._opaque = secrets.token_hex(16)
        self._nonces: OrderedDict[str, _Nonce] = OrderedDict()

    def challenge(self, qop: bool = True, stale: bool = False) -> str:
        """A fresh `WWW-Authenticate` value (a new nonce each time)."""
        nonce = secrets.token_hex(16)
        self._nonces[nonce] = _Nonce(qop)
        while len(self._nonces) > MAX_NONCES:
            self._nonces.popitem(last=False)
        if not qop:
            return f'Digest realm="{self.realm}", nonce="{nonce}"' + (", stale=true" if stale else "")
        value = f'Digest realm="{self.realm}", qop="auth", nonce="{nonce}", opaque="{self._opaque}"'
        return value + (", stale=true" if stale else "")

    def verify(self, method: str, authorization: str | None, request_uri: str | None = None) -> Verdict:
        """Check `Authorization` for a request. `request_uri`, when given, must equal the
        credentials' `uri` (RFC 7616 3.4.6); RTSP clients name the same resource in
        several forms, so RTSP passes None and the hash covers whatever uri was signed."""
        params = parse_authorization(authorization) if authorization else None
        if params is None:
            return Verdict.DENIED
        try:
            username, realm, nonce = params["username"], params["realm"], params["nonce"]
            uri, response = params["uri"], params["response"].lower()
        except KeyError:
            return Verdict.DENIED
        if username != self._username or realm != self.realm:
            return Verdict.DENIED
        if params.get("algorithm", "MD5").upper() != "MD5":
            return Verdict.DENIED
        if request_uri is not None and uri != request_uri:
            return Verdict.DENIED
        qop = params.get("qop")
        ha2 = _md5(f"{method}:{uri}")
        if qop is None:
            expected = _md5(f"{self._ha1}:{nonce}:{ha2}")
            nc = None
        elif qop == "auth":
            try:
                nc = int(params["nc"], 16)
                cnonce = params["cnonce"]
            except (KeyError, ValueError):
                return Verdict.DENIED
            expected = _md5(f"{self._ha1}:{nonce}:{params['nc']}:{cnonce}:auth:{ha2}")
        else:
            return Verdict.DENIED  # auth-int is never offered
        if not hmac.compare_digest(expected, response):
            return Verdict.DENIED
        state = self._nonces.get(nonce)
        if state is None:
            return Verdict.STALE
        if state.qop and qop is None:
            return Verdict.DENIED
        if state.qop and params.get("opaque") != self._opaque:
            return Verdict.DENIED  # RFC 7616 3.4: the opaque of the challenge comes back unchanged
        if nc is not None:
            if nc in state.seen_nc:
                return Verdict.DENIED  # a replayed request
            if len(state.seen_nc) >= MAX_NC_PER_NONCE:
                del self._nonces[nonce]
                return Verdict.STALE
            state.seen_nc.add(nc)
        self._nonces.move_to_end(nonce)
        return Verdict.OK
