"""The leak scan: while the gateway streams (live fMP4, HLS, WebRTC), snapshots, talks,
pushes and hits upstream faults, nothing it answers or logs carries the WEP session, the
password, the user key, the admin key, the token secret, an upstream BaseURL or a push
stream key. Logs are read raw (caplog, before any redaction) and as written (the
production handler with its redactor): modules must not lean on the redactor."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import time

import aiohttp
import pytest

from gateway.logs import TextFormatter, redactor
from tests.auth.secure import ADMIN_KEY, TOKEN_SECRET, admin_headers, secure_config, short_wav, viewer_offer
from tests.conftest import require
from tests.rtmp.nginx import NginxRtmp

pytestmark = [pytest.mark.peer, pytest.mark.timeout(120)]

PUSH_KEY = "streamkey-f00dfeed-5ecret"
UPSTREAM_MARKS = ("/mt/api/rest/v1", "media?ctx", "ctx=")


class Transcript:
    """Every answer's status line, headers and body, as text to search."""

    def __init__(self, http: aiohttp.ClientSession, base: str):
        self.http, self.base = http, base
        self.parts: list[str] = []

    def record(self, response: aiohttp.ClientResponse, body: bytes) -> None:
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        self.parts.append(f"{response.status} {response.reason}\n{headers}\n{body.decode('latin-1')}")

    async def call(self, method: str, path: str, *, limit: int | None = None, **kwargs) -> tuple[int, bytes]:
        async with self.http.request(method, f"{self.base}{path}", **kwargs) as response:
            body = await response.content.readexactly(limit) if limit else await response.read()
            self.record(response, body)
            return response.status, body


@pytest.fixture
def emulator_settings(emulator_settings):
    # Secrets that no ordinary word matches (the defaults reuse the user name).
    return dataclasses.replace(
        emulator_settings, password="pw-9f1c2e7a-leak-probe", user_key="uk-3b8d5c1e0f9a7e6d-leak-probe"
    )


@pytest.fixture
def nginx(tmp_path):
    require("nginx")
    receiver = NginxRtmp(tmp_path / "nginx")
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.kill()


class _OwnCopyHandler(logging.StreamHandler):
    # The redactor rewrites the record it filters; caplog must still see the raw one.
    def handle(self, record: logging.LogRecord) -> bool:
        return super().handle(logging.makeLogRecord(record.__dict__))


@pytest.fixture
def written_logs():
    """The production handler (gateway.logs): text lines with the redactor as filter."""
    out = io.StringIO()
    handler = _OwnCopyHandler(out)
    handler.setFormatter(TextFormatter())
    handler.addFilter(redactor)
    root = logging.getLogger()
    root.addHandler(handler)
    level, root.level = root.level, logging.DEBUG
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_nothing_secret_leaves_the_gateway(aiohttp_server, emulator, nginx, tmp_path, caplog, written_logs):
    from gateway.app import WEP, create_app

    caplog.set_level(logging.DEBUG)
    config = secure_config(emulator, pushes={"db_path": str(tmp_path / "pushes.sqlite3")})
    server = await aiohttp_server(create_app(config))
    client = server.app[WEP]
    sessions: set[str] = set()

    def note_session() -> None:
        if client._session:  # read from the client: the session it really uses
            sessions.add(client._session)

    camera, other = emulator.camera_ids[:2]
    async with aiohttp.ClientSession() as http:
        t = Transcript(http, str(server.make_url("")).rstrip("/"))
        status, body = await t.call(
            "POST",
            "/api/v1/tokens",
            headers=admin_headers(),
            json={"cameras": ["*"], "actions": ["view", "talk", "snapshot"], "ttl": 600},
        )
        assert status == 201
        token = {"token": (await _json(body))["token"]}

        # Live fMP4 and HLS, while they stream.
        live = await http.get(f"{t.base}/live/{camera}.mp4", params={**token, "quality": "low"})
        t.record(live, await live.content.readexactly(64 * 1024))
        status, _index = await t.call("GET", f"/hls/{camera}/index.m3u8", params=token)
        assert status == 200
        status, playlist = await t.call("GET", f"/hls/{camera}/low/playlist.m3u8", params=token)
        assert status == 200
        for line in playlist.decode().splitlines():
            uri = (
                line.split('URI="')[1].split('"')[0]
                if 'URI="' in line
                else (line if line and not line.startswith("#") else None)
            )
            if uri and ("part" in uri or "init" in uri or "seg" in uri):
                await t.call("GET", f"/hls/{camera}/low/{uri}")
        note_session()

        # WebRTC viewer: the SDP answer is a response body too.
        async with viewer_offer() as offer:
            status, _ = await t.call(
                "POST", f"/whep/{camera}", params=token, data=offer, headers={"Content-Type": "application/sdp"}
            )
            assert status == 201
            await t.call("DELETE", _location(t))

        # Snapshots, a crop, and errors of every kind.
        for params in ({}, {"roi": "0.1,0.1,0.6,0.6", "size": "160x90"}, {"roi": "bad"}, {"t": "yesterday"}):
            await t.call("GET", f"/api/v1/cameras/{camera}/snapshot.jpg", params={**token, **params})
        await t.call("GET", "/live/no-such-camera.mp4", params=token)
        await t.call("GET", f"/hls/{camera}/medium/playlist.m3u8", params=token)
        await t.call("GET", "/api/v1/cameras", params={"token": "forged.token.here"})

        # Talk: a file played on the speaker camera.
        status, _ = await t.call(
            "POST",
            f"/api/v1/cameras/{camera}/talkdown",
            params=token,
            data=short_wav(),
            headers={"Content-Type": "audio/wav"},
        )
        assert status == 200
        await t.call(
            "POST",
            f"/api/v1/cameras/{other}/talkdown",
            params=token,
            data=short_wav(),
            headers={"Content-Type": "audio/wav"},
        )  # no speaker: an error
        note_session()

        # Pushes: one to nginx-rtmp that goes live, one that cannot connect.
        push_url = nginx.url("live", PUSH_KEY)
        status, body = await t.call(
            "POST",
            "/api/v1/pushes",
            headers=admin_headers(),
            json={"camera": camera, "url": push_url, "quality": "low"},
        )
        assert status == 201, body
        push = (await _json(body))["id"]
        dead = await _json(
            (
                await t.call(
                    "POST",
                    "/api/v1/pushes",
                    headers=admin_headers(),
                    json={"camera": camera, "url": f"rtmp://127.0.0.1:9/live/{PUSH_KEY}-2", "quality": "low"},
                )
            )[1]
        )
        deadline = time.monotonic() + 30
        while (await _json((await t.call("GET", f"/api/v1/pushes/{push}", headers=admin_headers()))[1]))[
            "state"
        ] != "live":
            assert time.monotonic() < deadline, "the push never went live"
            await asyncio.sleep(0.3)

        # Upstream trouble while all that runs: refused requests, dropped streams, an expired session.
        emulator.fail_next(2)
        await t.call("GET", f"/api/v1/cameras/{other}/snapshot.jpg", params=token)
        emulator.drop_streams()
        emulator.expire_sessions()
        await t.call("GET", f"/api/v1/cameras/{other}/snapshot.jpg", params={**token, "t": "live", "size": "64x36"})
        t.record(live, await asyncio.wait_for(live.content.readexactly(64 * 1024), 20))  # still streaming
        note_session()

        await t.call("GET", "/api/v1/pushes", headers=admin_headers())
        await t.call("GET", "/metrics")
        await t.call("GET", "/readyz")
        await t.call("GET", "/api/v1/cameras", params=token)
        for push_id in (push, dead["id"]):
            await t.call("DELETE", f"/api/v1/pushes/{push_id}", headers=admin_headers())
        live.close()
        note_session()

    await server.close()
    assert sessions, "never saw the WEP session"
    secrets = {
        "WEP session": sessions,
        "WEP password": {emulator.settings.password},
        "WEP user key": {emulator.settings.user_key},
        "admin key": {ADMIN_KEY},
        "token secret": {TOKEN_SECRET},
        "push stream key": {PUSH_KEY},
    }
    places = {"responses": "\n".join(t.parts), "log records": caplog.text, "written logs": written_logs.getvalue()}
    assert len(places["log records"]) > 1000, "the scan needs the logs of real work"
    for where, text in places.items():
        for what, values in secrets.items():
            for value in values:
                assert value not in text, f"{what} found in {where}: ...{_around(text, value)}..."
        for mark in UPSTREAM_MARKS:
            assert mark not in text, f"an upstream BaseURL ({mark}) found in {where}: ...{_around(text, mark)}..."


def _location(t: Transcript) -> str:
    last = t.parts[-1]
    return next(line.split(": ", 1)[1] for line in last.splitlines() if line.startswith("Location: "))


async def _json(body: bytes) -> dict:
    import json

    return json.loads(body)


def _around(text: str, value: str) -> str:
    at = text.index(value)
    return text[max(0, at - 120) : at].replace(value, "<SECRET>") + "<SECRET>"
