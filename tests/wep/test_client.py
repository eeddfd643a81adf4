"""WepClient against a fake WEP (tests/wep/fake_wep.py) on 127.0.0.1, port 0."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from gateway.config import WepConfig
from gateway.wep.client import SpeakerInfo, WepClient
from gateway.wep.errors import WepAuthError, WepError, WepUnavailable

from .fake_wep import JPEG, PASSWORD, USER_KEY, USER_NONCE, USERNAME, FakeWep, envelope


def wep_config(url: str, **overrides) -> WepConfig:
    values = {
        "url": url,
        "username": USERNAME,
        "password": PASSWORD,
        "user_nonce": USER_NONCE,
        "user_key": USER_KEY,
        "client_name": "wep-gateway-tests",
        "request_timeout": 3.0,
        "connect_timeout": 2.0,
    }
    values.update(overrides)
    return WepConfig(**values)


@pytest.fixture
def fake() -> FakeWep:
    return FakeWep()


@pytest.fixture
async def wep_url(aiohttp_server, fake) -> str:
    server = await aiohttp_server(fake.app())
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def client(wep_url):
    wep = WepClient(wep_config(wep_url))
    await wep.start()
    try:
        yield wep
    finally:
        await wep.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- login and session ------------------------------------------------------------------------


async def test_login_sends_the_guides_body(client, fake):
    assert client.logged_in
    assert fake.logins == 1
    login = fake.seen[0]
    assert login.body["username"] == USERNAME
    assert login.body["password"] == PASSWORD
    assert login.body["clientName"] == "wep-gateway-tests"
    assert fake.token_ok(login.body["authorizationToken"])
    assert client.base_url.endswith("/mt/api/rest/v1")


async def test_token_timestamp_comes_from_the_clock(wep_url, fake):
    wep = WepClient(wep_config(wep_url), clock=lambda: 1530726298.5)
    await wep.start()
    await wep.close()
    assert fake.tokens[0].split(":")[1] == "1530726298"


async def test_session_in_header_and_query(client, fake):
    cameras = await client.cameras()
    assert [camera["id"] for camera in cameras] == ["cam-1", "cam-2"]
    seen = fake.seen[-1]
    assert seen.header_session == fake.issued[0]
    assert seen.query["session"] == [fake.issued[0]]


async def test_camera_by_ids(client, fake):
    cameras = await client.camera(["cam-1", "cam-2"])
    assert [camera["id"] for camera in cameras] == ["cam-1", "cam-2"]
    assert fake.seen[-1].query["ids"] == ["cam-1", "cam-2"]


async def test_expired_session_relogs_in_and_retries_once(client, fake):
    fake.expire_sessions()
    assert len(await client.cameras()) == 2
    assert fake.logins == 2
    assert client.stats.relogins == 1
    assert fake.seen[-1].header_session == fake.issued[1]


async def test_a_401_that_persists_is_retried_only_once(client, fake):
    fake.overrides["GET /cameras"] = (401, "application/json", envelope(401, "nope", -1, "UNAUTHORIZED").body)
    with pytest.raises(WepError) as caught:
        await client.cameras()
    assert caught.value.status == 401
    assert fake.logins == 2
    assert [seen.path for seen in fake.seen].count("/cameras") == 2


async def test_refused_relogin_is_an_auth_error_not_a_loop(client, fake):
    fake.expire_sessions()
    fake.refuse_logins = True
    with pytest.raises(WepAuthError) as caught:
        await client.cameras()
    assert (caught.value.status, caught.value.name) == (401, "UNAUTHORIZED")
    assert fake.logins == 2
    assert not client.logged_in
    # Implicit re-logins hold off for a while instead of asking again with the same credentials.
    with pytest.raises(WepAuthError):
        await client.mpd("cam-1")
    assert fake.logins == 2
    # An explicit login asks WEP again.
    fake.refuse_logins = False
    await client.login()
    assert fake.logins == 3
    assert len(await client.cameras()) == 2


async def test_bad_credentials_at_start(wep_url, fake):
    wep = WepClient(wep_config(wep_url, password="wrong"))
    try:
        with pytest.raises(WepAuthError, match="POST /login: invalid credentials"):
            await wep.start()
        assert fake.logins == 1
    finally:
        await wep.close()
    assert fake.logouts == []


async def test_missing_user_key_is_refused_locally(wep_url, fake):
    wep = WepClient(wep_config(wep_url, user_key=""))
    try:
        with pytest.raises(WepAuthError, match="user_key is empty"):
            await wep.start()
    finally:
        await wep.close()
    assert fake.logins == 0


async def test_concurrent_401s_share_one_login(client, fake):
    fake.expire_sessions()
    fake.login_delay = 0.2
    results = await asyncio.gather(*(client.cameras() for _ in range(10)), client.mpd("cam-1"), client.speaker("cam-1"))
    assert all(len(cameras) == 2 for cameras in results[:10])
    assert fake.logins == 2


async def test_concurrent_first_logins_share_one(wep_url, fake):
    wep = WepClient(wep_config(wep_url))
    await wep.open()
    try:
        fake.login_delay = 0.1
        await asyncio.gather(*(wep.cameras() for _ in range(5)), wep.login())
        assert fake.logins == 1
    finally:
        await wep.close()


async def test_logout_on_close(wep_url, fake):
    wep = WepClient(wep_config(wep_url))
    await wep.start()
    await wep.close()
    assert fake.logouts == [fake.issued[0]]
    assert not wep.logged_in
    await wep.close()  # twice is harmless


async def test_on_session_hears_every_session(wep_url, fake):
    heard = []
    wep = WepClient(wep_config(wep_url), on_session=heard.append)
    await wep.start()
    fake.expire_sessions()
    await wep.cameras()
    await wep.close()
    assert heard == fake.issued


async def test_health_needs_no_session(wep_url, fake):
    wep = WepClient(wep_config(wep_url))
    await wep.open()
    try:
        assert await wep.health() == "GOOD"
        assert fake.logins == 0
    finally:
        await wep.close()


# -- errors -----------------------------------------------------------------------------------


async def test_error_envelope_becomes_wep_error(client):
    with pytest.raises(WepError) as caught:
        await client.jpeg("missing")
    error = caught.value
    assert (type(error), error.status, error.code, error.name) == (WepError, 404, -25, "NOT_FOUND")
    assert error.message == "GET /media camera missing: camera not found."


async def test_html_instead_of_json_is_a_clear_error(client, fake):
    fake.overrides["GET /cameras"] = (200, "text/html", b"<html><body>Portal login</body></html>")
    with pytest.raises(WepUnavailable) as caught:
        await client.cameras()
    assert (caught.value.name, caught.value.cause) == ("BAD_RESPONSE", "bad_response")
    assert (
        str(caught.value) == "WEP BAD_RESPONSE: GET /cameras: answered 38 bytes of text/html, not JSON"
    )  # WEP sent 200
    assert client.stats.errors["cameras"] == 1


async def test_proxy_error_page_is_unavailable(client, fake):
    fake.overrides["GET /media"] = (503, "text/html", b"<html>Service Unavailable</html>")
    with pytest.raises(WepUnavailable, match="answered HTTP 503 with 32 bytes of text/html"):
        await client.mpd("cam-1")


async def test_garbage_mpd_is_a_clear_error(client, fake):
    fake.overrides["GET /media"] = (200, "application/dash+xml", b"<MPD><Perio")
    with pytest.raises(WepUnavailable) as caught:
        await client.mpd("cam-1")
    assert caught.value.name == "BAD_MPD"
    assert caught.value.message.startswith("GET /media camera cam-1: the MPD is not well-formed XML")


async def test_not_a_jpeg(client, fake):
    fake.overrides["GET /media"] = (200, "image/jpeg", b"GIF89a....")
    with pytest.raises(WepUnavailable, match="not a JPEG"):
        await client.jpeg("cam-1")


async def test_truncated_answer(unused_tcp_port_factory):
    """A server that promises 100 bytes and sends 10: the answer is cut short."""

    async def answer(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"status"')
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    wep = WepClient(wep_config(f"http://127.0.0.1:{port}"))
    try:
        with pytest.raises(WepUnavailable) as caught:
            await wep.start()
        assert caught.value.name == "BAD_RESPONSE"
        assert caught.value.message == "POST /login: answer cut short (ClientPayloadError)"
    finally:
        await wep.close()
        server.close()
        await server.wait_closed()


async def test_unreachable_host_is_unavailable():
    wep = WepClient(wep_config(f"http://127.0.0.1:{closed_port()}"))
    try:
        with pytest.raises(WepUnavailable) as caught:
            await wep.start()
        assert (caught.value.name, caught.value.cause) == ("REFUSED", "refused")
        assert caught.value.message.startswith("POST /login: connection refused (")
        assert str(caught.value).startswith("WEP REFUSED: POST /login: connection refused (")
        assert not wep.logged_in
    finally:
        await wep.close()


async def test_silent_server_times_out():
    accepted = []

    async def silent(reader, writer):
        accepted.append(writer)  # accept, read nothing, answer nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    wep = WepClient(wep_config(f"http://127.0.0.1:{port}", request_timeout=0.3))
    try:
        with pytest.raises(WepUnavailable) as caught:
            await wep.start()
        assert caught.value.name == "TIMEOUT"
        assert caught.value.message == "POST /login: timeout, no answer within 0.3s"
        await wep.close()  # no session: nothing to log out, returns at once
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_connection_closed_without_an_answer_is_named_so():
    """WEP accepts, reads the request and hangs up: no 502 came, so none is logged or counted."""

    async def hang_up(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    wep = WepClient(wep_config(f"http://127.0.0.1:{port}"))
    try:
        with pytest.raises(WepUnavailable) as caught:
            await wep.start()
        assert (caught.value.name, caught.value.cause) == ("CONNECTION_CLOSED", "connection_closed")
        assert str(caught.value) == "WEP CONNECTION_CLOSED: POST /login: WEP closed the connection without an answer"
    finally:
        await wep.close()
        server.close()
        await server.wait_closed()


async def test_calls_before_open_are_a_programming_error(wep_url):
    with pytest.raises(RuntimeError, match="call open"):
        await WepClient(wep_config(wep_url)).cameras()


# -- media ------------------------------------------------------------------------------------


async def test_mpd_base_urls_are_absolute(client, wep_url):
    presentation = await client.mpd("cam-1")
    high, low = presentation.for_quality("high"), presentation.for_quality("low")
    assert (high.id, low.id) == ("hi", "lo")
    assert high.base_url.startswith(wep_url + "/mt/api/rest/v1/media?ctx=hi%2Bctx&session=")


async def test_speaker(client):
    assert await client.speaker("cam-1") == SpeakerInfo(True, ("audio/PCMU", "audio/opus"))
    assert await client.speaker("cam-2") == SpeakerInfo(False, ())


async def test_jpeg_and_image_ref(client, fake):
    assert await client.jpeg("cam-1", roi="0,0,0.5,0.5", size="320,240") == JPEG
    query = fake.seen[-1].query
    assert (query["format"], query["t"], query["roi"], query["size"]) == (
        ["jpeg"],
        ["live"],
        ["0,0,0.5,0.5"],
        ["320,240"],
    )
    assert await client.image_ref("cam-1", "/refs/1", "THUMB") == JPEG
    assert fake.seen[-1].query["imageRefPath"] == ["/refs/1"]


async def read_until(stream, count: int) -> bytes:
    received = b""
    async for chunk in stream.chunks():
        received += chunk
        if received.count(b"|") >= count:
            break
    return received


async def test_stream_by_camera_and_quality(client, fake):
    async with client.open_stream("cam-1", quality="low") as stream:
        assert stream.content_type == "video/mp4"
        received = await read_until(stream, 5)
    assert received.startswith(b"chunk0000|chunk0001|")
    query = fake.seen[-1].query
    assert (query["format"], query["quality"], query["cameraId"]) == (["fmp4"], ["low"], ["cam-1"])
    assert client.stats.stream_bytes == len(received)


async def test_stream_replaces_the_stale_session_in_base_url(client, fake):
    representation = (await client.mpd("cam-1")).for_quality("high")
    assert fake.issued[0] in representation.base_url
    fake.expire_sessions()
    async with client.open_stream("cam-1", base_url=representation.base_url, t="live") as stream:
        received = await read_until(stream, 3)
    assert received.startswith(b"chunk0000|")
    assert fake.logins == 2
    opened = fake.seen[-1]
    # Same BaseURL, the new session once, ctx untouched (its %2B not re-encoded), t appended.
    assert opened.query == {"ctx": ["hi+ctx"], "session": [fake.issued[1]], "cameraId": ["cam-1"], "t": ["live"]}
    assert opened.header_session == fake.issued[1]


async def test_stream_stall_raises_on_read_timeout(client, fake):
    fake.stream_chunks_before_stall = 3
    received = b""
    with pytest.raises(WepUnavailable) as caught:
        async with client.open_stream("cam-1", read_timeout=0.3) as stream:
            async for chunk in stream.chunks():
                received += chunk
    assert received == b"chunk0000|chunk0001|chunk0002|"
    assert caught.value.name == "READ_TIMEOUT"
    assert "timeout" in str(caught.value).lower()


async def test_stream_open_error(client):
    with pytest.raises(WepError) as caught:
        async with client.open_stream("missing"):
            pass
    assert (caught.value.status, caught.value.name) == (404, "NOT_FOUND")


async def test_stream_refuses_a_base_url_on_another_host(client, fake):
    before = len(fake.seen)
    with pytest.raises(ValueError, match="not on the configured WEP server"):
        async with client.open_stream("cam-1", base_url="https://elsewhere.example/media?session=x"):
            pass
    assert len(fake.seen) == before


async def test_post_audio_streams_a_chunked_body(client, fake):
    sent = [bytes([0xFF - i]) * 160 for i in range(8)]

    async def microphone():
        for chunk in sent:
            yield chunk
            await asyncio.sleep(0.01)

    await client.post_audio("cam-1", microphone())
    assert b"".join(fake.audio) == b"".join(sent)
    assert fake.audio_headers["Transfer-Encoding"] == "chunked"
    assert fake.audio_headers["Content-Type"] == "audio/PCMU"
    query = fake.seen[-1].query
    assert (query["cameraId"], query["media"], query["session"]) == (["cam-1"], ["audio"], [fake.issued[0]])
    assert client.stats.audio_bytes == 8 * 160


async def test_post_audio_error_envelope(client, fake):
    fake.overrides["POST /media"] = (
        413,
        "application/json",
        envelope(413, "audio stream too long", -40, "TOO_LARGE").body,
    )

    async def silence():
        yield b"\xff" * 160

    with pytest.raises(WepError) as caught:
        await client.post_audio("cam-1", silence())
    assert (caught.value.status, caught.value.name) == (413, "TOO_LARGE")


async def test_post_audio_on_expired_session_relogs_in_for_the_next_try(client, fake):
    fake.expire_sessions()

    async def silence():
        yield b"\xff" * 160

    with pytest.raises(WepError) as caught:
        await client.post_audio("cam-1", silence())
    assert caught.value.status == 401
    assert fake.logins == 2
    await client.post_audio("cam-1", silence())
    assert fake.audio == [b"\xff" * 160]


async def test_rtmp_push_lifecycle(client, fake):
    started = await client.rtmp_start("cam-1", "rtmp://127.0.0.1/live/key", quality="low")
    assert started["id"] == "rtmp-1"
    start = fake.seen[-1]
    assert start.body == {
        "session": fake.issued[0],
        "cameraId": "cam-1",
        "url": "rtmp://127.0.0.1/live/key",
        "time": "live",
        "media": "video",
        "quality": "low",
    }
    assert [stream["id"] for stream in await client.rtmp_list()] == ["rtmp-1"]
    await client.rtmp_stop(["rtmp-1"])
    assert fake.seen[-1].body == {"session": fake.issued[0], "ids": ["rtmp-1"]}
    assert await client.rtmp_list() == []


async def test_rtmp_start_owned_answers_the_owning_session(client, fake):
    fake.expire_sessions()  # the start re-logs in: the owner is the session it was sent with
    started, session = await client.rtmp_start_owned("cam-1", "rtmp://127.0.0.1/live/key")
    assert started["id"] == "rtmp-1"
    assert len(fake.issued) == 2 and session == fake.issued[1]
    assert fake.seen[-1].body["session"] == fake.seen[-1].header_session == session


async def test_rtmp_stop_with_a_previous_session(wep_url, fake):
    # A process that started a push, then died without logging out (SIGKILL).
    old = WepClient(wep_config(wep_url))
    await old.start()
    _, old_session = await old.rtmp_start_owned("cam-1", "rtmp://127.0.0.1/live/key")
    await old._http.close()
    new = WepClient(wep_config(wep_url))
    await new.start()
    try:
        assert fake.issued[-1] != old_session
        await new.rtmp_stop(["rtmp-1"], session=old_session)
        stop = fake.seen[-1]
        # Guide: DELETE /media/rtmp takes {session, ids}: the old session in body and header.
        assert (stop.method, stop.body, stop.header_session) == (
            "DELETE",
            {"session": old_session, "ids": ["rtmp-1"]},
            old_session,
        )
        assert fake.rtmp == {}

        # The old session expired: WEP ended its streams with it. One 401, no re-login, no
        # retry under the current session (it would address other streams).
        fake.sessions.discard(old_session)
        seen, logins = len(fake.seen), fake.logins
        with pytest.raises(WepError) as caught:
            await new.rtmp_stop(["rtmp-1"], session=old_session)
        assert caught.value.status == 401
        assert (len(fake.seen), fake.logins) == (seen + 1, logins)
        assert old_session not in str(caught.value)

        with pytest.raises(ValueError, match="needs the stream ids"):
            await new.rtmp_stop([], session=old_session)  # would stop every stream of that session
        assert len(fake.seen) == seen + 1
    finally:
        await new.close()


async def test_stats_count_routes(client, fake):
    await client.cameras()
    await client.mpd("cam-1")
    with pytest.raises(WepError):
        await client.mpd("missing")
    stats = client.stats
    assert stats.requests["cameras"] == 1
    assert stats.requests["media.mpd"] == 2
    assert stats.errors["media.mpd"] == 1
    assert stats.errors["cameras"] == 0
    assert stats.logins == 1
    assert stats.latency_seconds["media.mpd"] > 0


# -- secrets ----------------------------------------------------------------------------------


async def test_no_secret_in_logs_or_errors(wep_url, fake, caplog):
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    wep = WepClient(wep_config(wep_url))
    await wep.start()
    try:
        representation = (await wep.mpd("cam-1")).for_quality("high")
        errors.append(repr(representation))
        fake.expire_sessions()
        async with wep.open_stream("cam-1", base_url=representation.base_url) as stream:
            await read_until(stream, 2)
        for failing in (wep.jpeg("missing"), wep.mpd("missing")):
            with pytest.raises(WepError) as caught:
                await failing
            errors.append(str(caught.value))
        fake.overrides["GET /media"] = (502, "text/html", f"<html>{representation.base_url}</html>".encode())
        with pytest.raises(WepError) as caught:
            await wep.mpd("cam-1")
        errors.append(str(caught.value))
        fake.expire_sessions()
        fake.refuse_logins = True
        with pytest.raises(WepAuthError) as caught:
            await wep.cameras()
        errors.append(str(caught.value))
    finally:
        await wep.close()
    # Everything but the fake WEP's own access log (the server side of this test).
    ours = [record for record in caplog.records if record.name != "aiohttp.access"]
    text = "\n".join(record.getMessage() for record in ours) + "\n".join(errors)
    assert "logged in to WEP" in text
    assert any(getattr(record, "camera", None) == "cam-1" for record in ours if "stream opened" in record.getMessage())
    assert len(fake.issued) == 2
    for secret in [PASSWORD, USER_KEY, *fake.issued, *fake.tokens]:
        assert secret not in text
