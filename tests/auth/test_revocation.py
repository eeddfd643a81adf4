"""Viewer token revocation: the sans-IO book (gateway/auth/revocations.py) with an injected
clock, the registry of what tokens have open (gateway/auth/closing.py), the authority's check
on every verify, and POST /api/v1/tokens/revoke against a gateway with access control on:
refused requests on every kind of route, the streams and sessions the token had open closed
within 2 s, admin only, bad bodies answered 400 in JSON, and the token never logged."""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
import jwt
import pytest

from gateway.auth.closing import OpenStreams
from gateway.auth.revocations import Revocations, RevocationsFull
from gateway.auth.routes import REVOCATIONS
from gateway.auth.tokens import ALGORITHM, AUDIENCE, TokenAuthority, TokenError, TokenRevoked
from gateway.talkdown.routes import TALK_SESSIONS
from gateway.webrtc.routes import WHEP_SESSIONS
from tests.auth.secure import ADMIN_KEY, TOKEN_SECRET, admin_headers, secure_config, talker_offer, viewer_offer
from tests.conftest import serving

pytestmark = pytest.mark.timeout(120)

CLOSE_WITHIN = 2.0
T0 = 1_700_000_000


class Clock:
    def __init__(self, start: float = T0) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        return self.now


# -- the book --------------------------------------------------------------------------------------


def test_a_revoked_jti_is_refused_until_its_token_would_have_expired_then_forgotten():
    clock = Clock()
    book = Revocations(clock)
    assert book.revoke("a", T0 + 60) is True
    assert book.revoke("a", T0 + 60) is False  # idempotent
    assert book.is_revoked("a") and not book.is_revoked("b")
    assert book.entries() == [("a", T0 + 60)]
    clock.now += 60
    assert not book.is_revoked("a") and book.entries() == []
    assert book.revoke("b", T0 + 120) is True  # an insert prunes what has expired
    assert len(book) == 1 and book.entries() == [("b", T0 + 120)]


def test_a_later_until_stands_and_an_earlier_one_does_not_shorten_it():
    clock = Clock()
    book = Revocations(clock)
    book.revoke("a", T0 + 10)
    book.apply("a", T0 + 100)
    book.revoke("a", T0 + 50)
    clock.now += 60
    assert book.is_revoked("a")
    clock.now += 40
    assert not book.is_revoked("a") and book.prune() == 1 and len(book) == 0


def test_an_expired_until_keeps_nothing_but_still_tells_the_callbacks():
    book = Revocations(Clock())
    heard: list[tuple[str, int]] = []
    book.add_watcher(lambda jti, until: heard.append((jti, until)))
    assert book.revoke("old", T0 - 1) is False
    assert len(book) == 0 and not book.is_revoked("old")
    assert heard == [("old", T0 - 1)]  # what it opened before it expired may still run


def test_listeners_hear_local_revokes_only_and_watchers_hear_both():
    book = Revocations(Clock())
    published: list[tuple[str, int]] = []
    enforced: list[tuple[str, int]] = []
    book.add_listener(lambda jti, until: published.append((jti, until)))
    book.add_watcher(lambda jti, until: enforced.append((jti, until)))
    book.revoke("mine", T0 + 5)
    book.apply("theirs", T0 + 6)
    assert published == [("mine", T0 + 5)]
    assert enforced == [("mine", T0 + 5), ("theirs", T0 + 6)]
    assert book.is_revoked("mine") and book.is_revoked("theirs")


def test_a_failing_callback_neither_stops_the_revoke_nor_the_other_callbacks(caplog):
    book = Revocations(Clock())
    heard: list[str] = []

    def broken(jti: str, until: int) -> None:
        raise RuntimeError("publish failed")

    book.add_listener(broken)
    book.add_listener(lambda jti, until: heard.append(jti))
    with caplog.at_level(logging.ERROR, "gateway.auth"):
        book.revoke("a", T0 + 5)
    assert book.is_revoked("a") and heard == ["a"]
    assert "revocation of token a failed" in caplog.text
    book.remove_listener(broken)
    book.revoke("b", T0 + 5)
    assert heard == ["a", "b"]


def test_the_book_is_bounded_and_says_so_when_full():
    clock = Clock()
    book = Revocations(clock, limit=3)
    for jti in "abc":
        book.revoke(jti, T0 + 10)
    with pytest.raises(RevocationsFull, match=r"^3 revoked tokens have not expired yet: no room for another"):
        book.revoke("d", T0 + 10)
    assert not book.is_revoked("d")
    assert book.revoke("a", T0 + 20) is False  # one already in does not need room
    clock.now += 10  # b and c expire; a was raised
    assert book.revoke("d", T0 + 30) is True and len(book) == 2


def test_raising_untils_again_and_again_does_not_grow_the_heap_without_end():
    book = Revocations(Clock())
    for step in range(10_000):
        book.revoke("a", T0 + 1 + step)
    assert len(book) == 1 and len(book._expiries) <= 2 * len(book) + 64


def test_bad_jtis_and_untils_are_refused():
    book = Revocations(Clock())
    for jti in ("", "with space", "x" * 129, None, 5):
        with pytest.raises(ValueError, match="jti must be"):
            book.revoke(jti, T0 + 5)
    for until in (1.5, "1", True, -1):
        with pytest.raises(ValueError, match="until must be"):
            book.revoke("a", until)


# -- what tokens have open -------------------------------------------------------------------------


class Stream:
    def __init__(self) -> None:
        self.closed: str | None = None
        self.running = True

    def alive(self) -> bool:
        return self.running and self.closed is None

    def close(self, reason: str) -> None:
        self.closed = reason


def test_open_streams_close_by_key_and_at_once_when_their_credential_went_meanwhile():
    gone: set[str] = set()
    streams = OpenStreams(gone=lambda key: "revoked" if key in gone else None)
    a1, a2, b = Stream(), Stream(), Stream()
    streams.track("a", a1)
    streams.track("a", a2)
    streams.track("b", b)
    streams.untrack("a", a2)
    assert streams.close("a", "revoked") == 1
    assert (a1.closed, a2.closed, b.closed) == ("revoked", None, None) and len(streams) == 1
    gone.add("b")
    late = Stream()
    streams.track("b", late)  # its token was revoked while the session was being set up
    assert late.closed == "revoked"


def test_streams_that_ended_on_their_own_are_swept_as_more_are_tracked():
    streams = OpenStreams()
    ended = [Stream() for _ in range(1000)]
    for n, stream in enumerate(ended):
        streams.track(f"k{n}", stream)
        stream.running = False  # a WHEP session hung up with DELETE: nobody untracks it
    assert len(streams) < 600


# -- the authority ---------------------------------------------------------------------------------


def test_verify_refuses_a_revoked_token_even_once_it_is_cached():
    clock = Clock(time.time())  # PyJWT checks exp against the real clock too
    authority = TokenAuthority(TOKEN_SECRET, clock=clock)
    token, expires_at = authority.mint(["cam"], ["view"], 60)
    other, _ = authority.mint(["cam"], ["view"], 60)
    grant = authority.verify(token)  # cached from now on
    assert grant.jti and grant.expires_at == expires_at
    authority.revocations.revoke(grant.jti, grant.expires_at)
    with pytest.raises(TokenRevoked, match=r"^token revoked$"):
        authority.verify(token)
    assert authority.verify(other).jti != grant.jti
    clock.now += 60
    with pytest.raises(TokenError, match=r"^token expired$"):  # expired says so, not revoked
        authority.verify(token)


def test_inspect_reads_expired_tokens_but_not_foreign_ones():
    clock = Clock(time.time())
    authority = TokenAuthority(TOKEN_SECRET, clock=clock)
    token, expires_at = authority.mint(["cam"], ["view"], 60)
    clock.now += 3600
    assert authority.inspect(token).expires_at == expires_at
    foreign, _ = TokenAuthority("another-secret-0123456789abcdef0123").mint(["cam"], ["view"], 60)
    with pytest.raises(TokenError, match="invalid token"):
        authority.inspect(foreign)


def token_without_jti(ttl: int = 600) -> str:
    """A token as minted before tokens had a jti."""
    now = int(time.time())
    claims = {"aud": AUDIENCE, "iat": now, "exp": now + ttl, "cam": ["*"], "act": ["view", "snapshot"]}
    return jwt.encode(claims, TOKEN_SECRET.encode(), algorithm=ALGORITHM)


def test_a_token_without_jti_still_works_and_cannot_be_revoked_by_jti():
    authority = TokenAuthority(TOKEN_SECRET)
    grant = authority.verify(token_without_jti())
    assert grant.jti is None and "view" in grant.actions


# -- over HTTP ---------------------------------------------------------------------------------------


@pytest.fixture
async def secure(emulator):
    async with serving(secure_config(emulator)) as server:
        yield server


@pytest.fixture
def base(secure) -> str:
    return str(secure.make_url("")).rstrip("/")


@pytest.fixture
async def http():
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


async def mint(http, base: str, actions=("view",), cameras=("*",), ttl: int = 600) -> dict:
    async with http.post(
        f"{base}/api/v1/tokens",
        json={"cameras": list(cameras), "actions": list(actions), "ttl": ttl},
        headers=admin_headers(),
    ) as response:
        assert response.status == 201
        return await response.json()


async def revoke(http, base: str, body, headers=None) -> tuple[int, object]:
    kwargs = {"data": body} if isinstance(body, (bytes, str)) else {"json": body}
    async with http.post(
        f"{base}/api/v1/tokens/revoke", headers=admin_headers() if headers is None else headers, **kwargs
    ) as response:
        answer = await response.json() if response.content_type == "application/json" else await response.read()
        return response.status, answer


async def answer_of(http, method: str, url: str, token: str, **kwargs) -> tuple[int, object]:
    async with http.request(method, url, params={"token": token}, **kwargs) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        await response.content.read(4096)
        return response.status, None


async def until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.02)


REVOKED = {"error": {"code": "token_revoked", "message": "token revoked"}}


async def refusals(http, base: str, camera: str, token: str) -> dict[str, tuple[int, object]]:
    """What the token gets on an HLS playlist, /live, a snapshot and a WHEP offer."""
    answers = {
        "hls": await answer_of(http, "GET", f"{base}/hls/{camera}/low/playlist.m3u8", token),
        "live": await answer_of(http, "GET", f"{base}/live/{camera}.mp4", token, allow_redirects=False),
        "snapshot": await answer_of(http, "GET", f"{base}/api/v1/cameras/{camera}/snapshot.jpg", token),
    }
    async with (
        viewer_offer() as offer,
        http.post(
            f"{base}/whep/{camera}", params={"token": token}, data=offer, headers={"Content-Type": "application/sdp"}
        ) as response,
    ):
        if response.status == 201:
            answers["whep"] = (201, None)
            async with http.delete(f"{base}{response.headers['Location']}") as hung_up:
                assert hung_up.status == 200
        else:
            answers["whep"] = (response.status, await response.json())
    return answers


async def test_a_revoked_token_is_refused_everywhere_and_other_tokens_are_not(emulator, secure, base, http):
    camera = emulator.camera_ids[0]
    minted = await mint(http, base, ["view", "snapshot"])
    other = (await mint(http, base, ["view", "snapshot"]))["token"]
    token = minted["token"]
    assert minted["jti"] == jwt.decode(token, options={"verify_signature": False})["jti"]
    for route, (status, _) in (await refusals(http, base, camera, token)).items():
        assert status in (200, 201), route

    assert await revoke(http, base, {"token": token}) == (204, b"")
    for route, answer in (await refusals(http, base, camera, token)).items():
        assert answer == (401, REVOKED), route
    async with http.get(f"{base}/hls/{camera}/low/playlist.m3u8", headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 401 and 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    for route, (status, _) in (await refusals(http, base, camera, other)).items():
        assert status in (200, 201), route

    assert await revoke(http, base, {"token": token}) == (204, b"")  # idempotent
    assert secure.app[REVOCATIONS].is_revoked(minted["jti"])


async def test_revoking_by_jti_with_or_without_expires_at(emulator, secure, base, http):
    camera = emulator.camera_ids[0]
    playlist = f"{base}/hls/{camera}/low/playlist.m3u8"
    book = secure.app[REVOCATIONS]
    as_minted, as_unix, left_out = [await mint(http, base) for _ in range(3)]
    unix = int(jwt.decode(as_unix["token"], options={"verify_signature": False})["exp"])
    for body in (
        {"jti": as_minted["jti"], "expires_at": as_minted["expires_at"]},  # the mint answer's ISO time
        {"jti": as_unix["jti"], "expires_at": unix},
        {"jti": left_out["jti"]},
    ):
        assert await revoke(http, base, body) == (204, b""), body
    for minted in (as_minted, as_unix, left_out):
        assert await answer_of(http, "GET", playlist, minted["token"]) == (401, REVOKED)
    entries = dict(book.entries())
    assert entries[as_unix["jti"]] == unix
    assert entries[left_out["jti"]] >= time.time() + 7 * 24 * 3600 - 5  # the longest a token lives


async def test_an_expired_token_is_revoked_all_the_same(secure, base, http):
    expired = TokenAuthority(TOKEN_SECRET, clock=lambda: time.time() - 3600).mint(["*"], ["view"], 60)[0]
    assert await revoke(http, base, {"token": expired}) == (204, b"")


async def test_what_a_revoked_token_had_open_ends_within_2_s(emulator, secure, base, http):
    camera = emulator.camera_ids[0]
    minted = await mint(http, base, ["view", "talk"])
    token, kept = minted["token"], (await mint(http, base, ["view"]))["token"]
    whep, talk = secure.app[WHEP_SESSIONS], secure.app[TALK_SESSIONS]
    live = await http.get(f"{base}/live/{camera}.mp4", params={"token": token, "quality": "low"})
    untouched = await http.get(f"{base}/live/{camera}.mp4", params={"token": kept, "quality": "low"})
    events = await http.get(f"{base}/api/v1/events/stream", params={"token": token})
    try:
        assert live.status == untouched.status == events.status == 200
        await live.content.readexactly(4096)
        await untouched.content.readexactly(4096)
        await events.content.readany()
        async with viewer_offer() as offer, talker_offer() as spoken:
            viewing = await created(http, f"{base}/whep/{camera}", token, offer)
            speaker = next(c for c in await cameras(http, base, kept) if c["speaker"])["id"]
            talking = await created(http, f"{base}/whip/{speaker}/talk", token, spoken)
            assert whep.get(viewing) is not None and talk.get(talking) is not None

            revoked = await revoke(http, base, {"jti": minted["jti"], "expires_at": minted["expires_at"]})
            assert revoked == (204, b"")
            await until(lambda: whep.get(viewing) is None, CLOSE_WITHIN, "the WHEP session closed")
            await until(lambda: talk.get(talking) is None, CLOSE_WITHIN + 3, "the talk session ended")
        for stream in (live, events):
            with pytest.raises(
                (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, asyncio.IncompleteReadError)
            ):
                async with asyncio.timeout(CLOSE_WITHIN):
                    while await stream.content.read(65536):
                        pass
                    raise aiohttp.ClientConnectionError("the stream ended")  # closed cleanly counts too
        # Another token's stream runs on.
        await untouched.content.readexactly(65536)
    finally:
        for response in (live, untouched, events):
            response.release()


async def created(http, url: str, token: str, offer: str) -> str:
    async with http.post(url, params={"token": token}, data=offer, headers={"Content-Type": "application/sdp"}) as r:
        assert r.status == 201, await r.text()
        return r.headers["Location"].rsplit("/", 1)[-1]


async def cameras(http, base: str, token: str) -> list[dict]:
    async with http.get(f"{base}/api/v1/cameras", params={"token": token}) as response:
        return (await response.json())["cameras"]


async def test_only_the_admin_key_revokes(secure, base, http):
    minted = await mint(http, base, ["view", "admin"])
    body = {"token": minted["token"]}
    for headers in ({}, {"Authorization": f"Bearer {minted['token']}"}, admin_headers("not-the-key")):
        status, answer = await revoke(http, base, body, headers)
        assert status == 401 and answer["error"]["code"] == "unauthorized", headers
    assert not secure.app[REVOCATIONS].is_revoked(minted["jti"])


async def test_bad_bodies_get_400_in_json(emulator, secure, base, http):
    token = (await mint(http, base))["token"]
    foreign = TokenAuthority("another-secret-0123456789abcdef0123").mint(["*"], ["view"], 60)[0]
    cases = [
        (b"not json", "bad_request", "body must be a JSON object"),
        ([token], "bad_request", "body must be a JSON object"),
        ({}, "bad_request", "token (the token itself) or jti (its id, as minted) is required"),
        ({"token": token, "why": "x"}, "bad_request", "unknown field(s): why"),
        ({"token": token, "jti": "abc"}, "bad_request", "give token, or jti with expires_at: not both"),
        ({"token": 5}, "bad_request", "token must be a viewer token"),
        ({"token": "not-a-jwt"}, "invalid_token", "not a viewer token of this gateway: invalid token"),
        ({"token": foreign}, "invalid_token", "not a viewer token of this gateway: invalid token"),
        ({"token": token_without_jti()}, "not_revocable", "the token has no jti"),
        ({"jti": ""}, "bad_request", "jti must be a token id"),
        ({"jti": ["a"]}, "bad_request", "jti must be a token id"),
        ({"jti": "abc", "expires_at": "tomorrow"}, "bad_request", "expires_at must be Unix seconds or an ISO 8601"),
        ({"jti": "abc", "expires_at": "2030-01-01T00:00:00"}, "bad_request", "expires_at must be"),  # no zone
        ({"jti": "abc", "expires_at": 10**13}, "bad_request", "expires_at must be"),
        ({"jti": "abc", "expires_at": None}, "bad_request", "expires_at must be"),
    ]
    for body, code, message in cases:
        status, answer = await revoke(http, base, body)
        assert status == 400, body
        assert answer["error"]["code"] == code and answer["error"]["message"].startswith(message), (body, answer)
        assert token not in answer["error"]["message"] and foreign not in answer["error"]["message"]
    assert len(secure.app[REVOCATIONS]) == 0
    # A token minted before jtis existed keeps working.
    playlist = f"{base}/hls/{emulator.camera_ids[0]}/low/playlist.m3u8"
    assert (await answer_of(http, "GET", playlist, token_without_jti()))[0] == 200


async def test_the_token_is_never_logged(emulator, secure, base, http, caplog):
    caplog.set_level(logging.DEBUG)
    camera = emulator.camera_ids[0]
    minted = await mint(http, base)
    token = minted["token"]
    assert (await answer_of(http, "GET", f"{base}/hls/{camera}/low/playlist.m3u8", token))[0] == 200
    assert await revoke(http, base, {"token": token}) == (204, b"")
    assert await revoke(http, base, {"token": token[:-2] + "xx"}) != (204, b"")  # a bad signature
    assert (await answer_of(http, "GET", f"{base}/hls/{camera}/low/playlist.m3u8", token))[0] == 401
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"viewer token {minted['jti']} revoked" in logged  # the id is what is logged
    assert token not in logged and token.rsplit(".", 1)[-1] not in logged and ADMIN_KEY not in logged
