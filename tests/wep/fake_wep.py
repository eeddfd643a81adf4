"""A small fake WEP (aiohttp.web) for the client's tests: it checks what the guide asks of a
client (token, session in header and query/body) and records what it saw, with switches
for the faults a real WEP or its network produce."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from dataclasses import dataclass, field

from aiohttp import web

API = "/mt/api/rest/v1"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60 + b"\xff\xd9"
USERNAME, PASSWORD = "operator", "pa55-word-SECRET"
USER_NONCE, USER_KEY = "test-nonce", "user-key-SECRET"

MPD = """<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic"><Period><AdaptationSet>
<Role schemeIdUri="urn:mpeg:dash:role:2011" value="main"/>
<Representation id="hi" bandwidth="2000000" width="1280" height="720" mimeType="video/mp4" codecs="avc1.4D401F">
<BaseURL>/mt/api/rest/v1/media?ctx=hi%2Bctx&amp;session={session}&amp;cameraId={camera}</BaseURL></Representation>
<Representation id="lo" bandwidth="300000" width="320" height="180" mimeType="video/mp4" codecs="avc1.42E01E">
<BaseURL>/mt/api/rest/v1/media?ctx=lo&amp;session={session}&amp;cameraId={camera}</BaseURL></Representation>
</AdaptationSet></Period></MPD>"""


def envelope(status: int, message: str, code: int, name: str) -> web.Response:
    body = {"status": "error", "statusCode": status, "message": message, "meta": {"code": code, "name": name}}
    return web.json_response(body, status=status)


def success(result) -> web.Response:
    return web.json_response({"status": "success", "result": result})


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    header_session: str | None
    body: dict | None = None


@dataclass
class FakeWep:
    sessions: set[str] = field(default_factory=set)
    issued: list[str] = field(default_factory=list)  # every session ever handed out
    logins: int = 0
    tokens: list[str] = field(default_factory=list)
    logouts: list[str] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    refuse_logins: bool = False
    login_delay: float = 0.0
    # route key ("GET /cameras") -> (status, content type, body), answered after the session check
    overrides: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    stream_chunks_before_stall: int | None = None  # None: stream until the client leaves
    audio: list[bytes] = field(default_factory=list)
    audio_headers: dict[str, str] = field(default_factory=dict)
    rtmp: dict[str, dict] = field(default_factory=dict)
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    def expire_sessions(self) -> None:
        self.sessions.clear()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(API + "/login", self.login)
        app.router.add_post(API + "/logout", self.logout)
        app.router.add_get(API + "/health", self.health)
        app.router.add_get(API + "/cameras", self.cameras)
        app.router.add_get(API + "/camera", self.camera)
        app.router.add_get(API + "/media", self.media)
        app.router.add_post(API + "/media", self.media_post)
        app.router.add_get(API + "/media/imageRef", self.image_ref)
        app.router.add_route("*", API + "/media/rtmp", self.media_rtmp)
        return app

    # -- session ---------------------------------------------------------------------------

    def token_ok(self, token: str) -> bool:
        parts = token.split(":")
        if len(parts) not in (3, 4) or parts[0] != USER_NONCE:
            return False
        return parts[2] == hashlib.sha256((parts[1] + USER_KEY).encode()).hexdigest()

    async def login(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.logins += 1
        self.tokens.append(body.get("authorizationToken", ""))
        self.seen.append(Seen("POST", "/login", {}, request.headers.get("x-avg-session"), body))
        if self.login_delay:
            await asyncio.sleep(self.login_delay)
        if self.refuse_logins or not self.token_ok(body.get("authorizationToken", "")):
            return envelope(401, "invalid authorization token", -3, "UNAUTHORIZED")
        if (body.get("username"), body.get("password")) != (USERNAME, PASSWORD) or not body.get("clientName"):
            return envelope(401, "invalid credentials", -4, "UNAUTHORIZED")
        session = f"SESS{next(self._counter)}x{hashlib.sha256(str(id(body)).encode()).hexdigest()[:12]}"
        self.sessions.add(session)
        self.issued.append(session)
        return success({"session": session, "externalUserId": "u1", "domainId": "d1"})

    async def logout(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.logouts.append(body.get("session"))
        self.sessions.discard(body.get("session"))
        return success("ok")

    def check(self, request: web.Request, body: dict | None = None) -> web.Response | None:
        """None when the request carries a live session where the guide puts it."""
        header = request.headers.get("x-avg-session")
        query = {key: request.query.getall(key) for key in request.query}
        self.seen.append(Seen(request.method, request.path.removeprefix(API), query, header, body))
        carried = body.get("session") if body is not None else request.query.get("session")
        if header not in self.sessions or carried != header:
            return envelope(401, "session expired or invalid", -1, "UNAUTHORIZED")
        override = self.overrides.get(f"{request.method} {request.path.removeprefix(API)}")
        if override is not None:
            status, content_type, raw = override
            return web.Response(status=status, body=raw, headers={"Content-Type": content_type})
        return None

    # -- routes ----------------------------------------------------------------------------

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(text="GOOD")

    async def cameras(self, request: web.Request) -> web.Response:
        return self.check(request) or success(
            {"cameras": [{"id": "cam-1", "name": "Lobby"}, {"id": "cam-2", "name": "Dock"}]}
        )

    async def camera(self, request: web.Request) -> web.Response:
        return self.check(request) or success(
            {"cameras": [{"id": i, "active": True} for i in request.query.getall("ids")]}
        )

    async def image_ref(self, request: web.Request) -> web.Response:
        return self.check(request) or web.Response(body=JPEG, content_type="image/jpeg")

    async def media(self, request: web.Request) -> web.StreamResponse:
        refused = self.check(request)
        if refused is not None:
            return refused
        camera = request.query["cameraId"]
        if camera == "missing":
            return envelope(404, "camera not found.", -25, "NOT_FOUND")
        media_format = request.query.get("format", "fmp4")
        if media_format == "mpd":
            session = request.query["session"]
            return web.Response(text=MPD.format(session=session, camera=camera), content_type="application/dash+xml")
        if media_format == "spkc":
            return success(
                {
                    "speakerEnabled": camera == "cam-1",
                    "availableAudioCodecs": ["audio/PCMU", "audio/opus"] if camera == "cam-1" else [],
                }
            )
        if media_format == "jpeg":
            return web.Response(body=JPEG, content_type="image/jpeg")
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        await response.prepare(request)
        for index in itertools.count():
            if self.stream_chunks_before_stall is not None and index >= self.stream_chunks_before_stall:
                await asyncio.sleep(3600)  # stall: connection open, no bytes
            await response.write(f"chunk{index:04d}|".encode())
            await asyncio.sleep(0.01)
        return response

    async def media_post(self, request: web.Request) -> web.Response:
        refused = self.check(request)
        if refused is not None:
            return refused
        self.audio_headers = dict(request.headers)
        async for chunk in request.content.iter_any():
            self.audio.append(chunk)
        return success("ok")

    async def media_rtmp(self, request: web.Request) -> web.Response:
        body = await request.json() if request.method in ("POST", "DELETE") else None
        refused = self.check(request, body)
        if refused is not None:
            return refused
        if request.method == "GET":
            return success({"streams": list(self.rtmp.values())})
        if request.method == "POST":
            stream = {"id": f"rtmp-{len(self.rtmp) + 1}", "cameraId": body["cameraId"], "url": body["url"]}
            self.rtmp[stream["id"]] = stream
            return success(stream)
        for stream_id in body.get("ids") or list(self.rtmp):
            self.rtmp.pop(stream_id, None)
        return success({})
