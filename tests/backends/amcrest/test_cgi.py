"""AmcrestCgi against the Amcrest emulator (real HTTP, Digest auth) and against small
servers on 127.0.0.1 for the answers the emulator does not give."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time

import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

from gateway.backends.amcrest.cgi import ANSWER_GRACE, AmcrestCgi
from gateway.backends.amcrest.event_parser import EventPart, Heartbeat
from gateway.backends.base import UpstreamFailure
from gateway.emulator.amcrest.digest import DigestAuthority
from transcoders import g711

CHANNEL = 2
CHUNK_MS = 40


def client_for(url: str, *, username: str = "admin", password: str = "amcrest-emulator", **options) -> AmcrestCgi:
    where = URL(url)
    return AmcrestCgi(
        camera_id="porch",
        host=where.host,
        http_port=where.port,
        username=username,
        password=password,
        channel=options.pop("channel", CHANNEL),
        **options,
    )


@contextlib.asynccontextmanager
async def opened(client: AmcrestCgi):
    await client.open()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def cgi(camera):
    async with opened(client_for(camera.http_url, password=camera.settings.password)) as client:
        yield client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def raw_server(answer: bytes, *, hold: bool):
    """Answers any request with `answer` verbatim, then holds the connection open or closes it."""
    handlers: set[asyncio.Task] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.add(asyncio.current_task())
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(answer)
            await writer.drain()
            if hold:
                await asyncio.sleep(3600)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        for handler in handlers:
            handler.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


async def until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.01)


def alaw_second() -> bytes:
    t = np.arange(8000) / 8000
    return g711.encode_alaw((np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)).tobytes()


async def paced(audio: bytes, started: list[float] | None = None):
    """`audio` in 40 ms chunks at the pace it plays (8 bytes a millisecond)."""
    start = time.monotonic()
    if started is not None:
        started.append(start)
    step = 8 * CHUNK_MS
    for number, offset in enumerate(range(0, len(audio), step)):
        await asyncio.sleep(max(0.0, start + number * CHUNK_MS / 1000 - time.monotonic()))
        yield audio[offset : offset + step]


# -- snapshot, errors ---------------------------------------------------------------------------


async def test_snapshot_is_a_jpeg(cgi, camera):
    jpeg = await cgi.snapshot()
    assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
    assert camera.stats["snapshots"] == 1


async def test_wrong_password_is_auth_without_the_password(camera, caplog):
    caplog.set_level(logging.DEBUG)
    async with opened(client_for(camera.http_url, password="not-the-password-42")) as client:
        with pytest.raises(UpstreamFailure) as caught:
            await client.snapshot()
    failure = caught.value
    assert failure.cause == "auth"
    assert str(failure) == "camera 'porch' refused the credentials (HTTP 401 from the camera)"
    logged = " ".join(record.getMessage() for record in caplog.records)
    for secret in ("not-the-password-42", camera.settings.password):
        assert secret not in str(failure) and secret not in logged


async def test_closed_port_is_connection():
    port = free_port()
    async with opened(client_for(f"http://127.0.0.1:{port}")) as client:
        with pytest.raises(UpstreamFailure) as caught:
            await client.snapshot()
    assert caught.value.cause == "connection"
    assert str(caught.value) == f"camera 'porch' unreachable at 127.0.0.1:{port}: connection refused"


async def test_silent_camera_is_timeout():
    async with raw_server(b"", hold=True) as url, opened(client_for(url, request_timeout=0.3)) as client:
        started = time.monotonic()
        with pytest.raises(UpstreamFailure) as caught:
            await client.snapshot()
    assert caught.value.cause == "timeout" and caught.value.status == 504
    assert "did not answer snapshot.cgi in time" in str(caught.value)
    assert time.monotonic() - started < 2


async def test_other_answers():
    async def snapshot(request: web.Request) -> web.Response:
        return web.Response(text="<html>login</html>", content_type="text/html")

    async def ptz(request: web.Request) -> web.Response:
        if request.query["code"] == "Left":
            return web.Response(text="Error\r\nBad Request!\r\n")  # a 200, as some firmware says it
        return web.Response(status=503, text="busy")

    app = web.Application()
    app.router.add_get("/cgi-bin/snapshot.cgi", snapshot)
    app.router.add_get("/cgi-bin/ptz.cgi", ptz)
    async with TestServer(app, host="127.0.0.1") as server, opened(client_for(str(server.make_url("")))) as client:
        with pytest.raises(
            UpstreamFailure,
            match=r"sent 18 bytes of text/html; charset=utf-8 for a snapshot, not a "
            r"JPEG",
        ) as caught:
            await client.snapshot()
        assert caught.value.cause == "bad_media"
        with pytest.raises(UpstreamFailure, match="refused ptz start Left: Error Bad Request!") as caught:
            await client.ptz("start", "Left", 0, 5, 0)
        assert caught.value.cause == "refused"
        with pytest.raises(UpstreamFailure, match=r"answered HTTP 503 to ptz\.cgi") as caught:
            await client.ptz("start", "Up", 0, 5, 0)
        assert caught.value.cause == "upstream_503"


# -- PTZ -----------------------------------------------------------------------------------------


async def test_ptz_reaches_the_camera(cgi, camera):
    await cgi.ptz("start", "Left", 0, 5, 0)
    await cgi.ptz("stop", "Left")
    await cgi.ptz("start", "GotoPreset", 0, 3, 0)
    moves = [{k: entry[k] for k in ("channel", "action", "code", "arg1", "arg2", "arg3")} for entry in camera.ptz_log]
    assert moves == [
        {"channel": CHANNEL, "action": "start", "code": "Left", "arg1": 0, "arg2": 5, "arg3": 0},
        {"channel": CHANNEL, "action": "stop", "code": "Left", "arg1": 0, "arg2": 0, "arg3": 0},
        {"channel": CHANNEL, "action": "start", "code": "GotoPreset", "arg1": 0, "arg2": 3, "arg3": 0},
    ]
    with pytest.raises(UpstreamFailure, match=r"camera 'porch' answered HTTP 400 to ptz\.cgi") as caught:
        await cgi.ptz("start", "Sideways")
    assert caught.value.cause == "upstream_400"


# -- the speaker ---------------------------------------------------------------------------------


async def test_post_audio_streams_in_real_time(cgi, camera):
    audio = alaw_second()
    started: list[float] = []
    await cgi.snapshot()  # a recent authenticated answer: the upload needs no priming
    await cgi.post_audio(paced(audio, started), "Audio/G.711A")
    returned = time.monotonic()
    body_end = started[0] + (len(audio) // 320 - 1) * CHUNK_MS / 1000
    assert returned - body_end < ANSWER_GRACE + 0.3  # no waiting for an answer that never comes
    await until(lambda: len(camera.talk_audio(CHANNEL)) >= len(audio))
    assert camera.talk_audio(CHANNEL) == audio
    assert camera.talk_content_types(CHANNEL) == ["Audio/G.711A"]
    # Chunks reach the camera as they are yielded, not at the end.
    arrivals = [arrived for arrived, _ in camera.talk_records[CHANNEL].chunks]
    assert arrivals[0] - started[0] < 0.2
    assert arrivals[-1] - arrivals[0] > 0.8


async def test_post_audio_primes_the_digest_once(camera):
    async with opened(client_for(camera.http_url, password=camera.settings.password)) as client:
        await client.post_audio(paced(alaw_second()[:1600]), "Audio/G.711Mu")
        # One challenge, to the priming GET: the POST went out with credentials first time.
        assert camera.stats["unauthorized"] == 1
        assert camera.stats["snapshots"] == 1
        await client.post_audio(paced(alaw_second()[:800]), "Audio/G.711Mu")
        assert camera.stats["snapshots"] == 1  # the challenge was fresh: no second priming
    await until(lambda: len(camera.talk_audio(CHANNEL)) == 2400)
    assert camera.talk_content_types(CHANNEL) == ["Audio/G.711Mu", "Audio/G.711Mu"]


async def test_post_audio_refused_resend_after_the_camera_forgot_its_nonces(cgi, camera):
    await cgi.snapshot()
    # A reboot: the camera forgets the nonces it gave, so the preemptive POST gets a new
    # challenge, which the digest middleware would answer by sending the POST again.
    camera.auth = DigestAuthority(camera.auth.realm, camera.settings.username, camera.settings.password)
    started = time.monotonic()
    with pytest.raises(UpstreamFailure) as caught:
        await cgi.post_audio(paced(alaw_second()))
    assert caught.value.cause == "auth_stale"
    assert time.monotonic() - started < 0.5
    await cgi.post_audio(paced(alaw_second()[:800]))  # the new challenge is taken: the next talk goes
    await until(lambda: camera.talk_audio(CHANNEL).endswith(alaw_second()[:800]))


async def test_post_audio_with_wrong_password(camera):
    async with opened(client_for(camera.http_url, password="not-the-password-42")) as client:
        with pytest.raises(UpstreamFailure) as caught:
            await client.post_audio(paced(alaw_second()))
    assert caught.value.cause == "auth" and "not-the-password-42" not in str(caught.value)
    assert camera.talk_content_types(CHANNEL) == []


async def test_post_audio_refused_at_once(cgi, camera):
    started = time.monotonic()
    with pytest.raises(UpstreamFailure, match=r"camera 'porch' answered HTTP 400 to audio\.cgi") as caught:
        await cgi.post_audio(paced(alaw_second()), "Audio/Opus")  # not a type the camera takes
    assert caught.value.cause == "upstream_400"
    assert time.monotonic() - started < 0.5  # not after the whole second of audio


async def test_post_audio_answered_before_the_end():
    # A camera that answers 200 at once has finished with the upload: aiohttp then stops
    # sending the body, and the call returns without error.
    async def answer_at_once(request: web.Request) -> web.Response:
        return web.Response(text="OK\r\n")

    async def snapshot(request: web.Request) -> web.Response:
        return web.Response(body=b"\xff\xd8\xff\xd9", content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/cgi-bin/snapshot.cgi", snapshot)  # the priming GET
    app.router.add_post("/cgi-bin/audio.cgi", answer_at_once)
    async with TestServer(app, host="127.0.0.1") as server, opened(client_for(str(server.make_url("")))) as client:
        started = time.monotonic()
        await client.post_audio(paced(alaw_second()))
    assert time.monotonic() - started < 0.5


async def test_post_audio_body_failure_is_the_callers(cgi):
    async def broken():
        yield b"\xd5" * 320
        await asyncio.sleep(0.05)
        raise ValueError("microphone gone")

    await cgi.snapshot()
    with pytest.raises(ValueError, match="microphone gone"):
        await cgi.post_audio(broken())


# -- events --------------------------------------------------------------------------------------


async def test_attach_events_gives_parts(cgi, camera):
    async with cgi.attach_events(heartbeat=1) as parts:
        camera.inject_event(CHANNEL, "VideoMotion", "Start", {"Name": "a;b=c"})
        first = await anext(parts)
        assert first == EventPart("VideoMotion", "Start", CHANNEL - 1, {"Name": "a;b=c"}, first.raw)
        assert await asyncio.wait_for(anext(parts), 3) == Heartbeat()
        camera.event_fault("cut")
        with pytest.raises(UpstreamFailure, match="ended inside a part: 29 of 37 body bytes") as caught:
            await anext(parts)
        assert caught.value.cause == "truncated"


@pytest.mark.parametrize(
    "hold, cause, message",
    [
        (True, "stall", "camera 'porch' event stream silent for 3s"),
        (False, "closed", "camera 'porch' closed its event stream"),
    ],
)
async def test_event_stream_ends(hold, cause, message):
    head = b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=myboundary\r\n\r\n"
    heartbeat = b"--myboundary\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nHeartbeat\r\n\r\n"
    async with (
        raw_server(head + heartbeat, hold=hold) as url,
        opened(client_for(url)) as client,
        client.attach_events(heartbeat=1) as parts,
    ):
        assert await anext(parts) == Heartbeat()
        with pytest.raises(UpstreamFailure) as caught:
            await asyncio.wait_for(anext(parts), 5)
    assert (caught.value.cause, str(caught.value)) == (cause, message)


async def test_event_stream_that_is_not_multipart():
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK"
    async with raw_server(answer, hold=False) as url, opened(client_for(url)) as client:
        with pytest.raises(UpstreamFailure, match="camera 'porch': event stream is b'text/plain', not multipart"):
            async with client.attach_events():
                pass
