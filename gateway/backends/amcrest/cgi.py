"""The HTTP CGI client of one Amcrest/Dahua camera: snapshot.cgi, ptz.cgi, audio.cgi
postAudio and the eventManager attach stream (reference/amcrest-cgi-facts.md).

One aiohttp session per camera carries `DigestAuthMiddleware`: it keeps the credentials,
answers the camera's 401 challenge by resending the request once, and is preemptive once it
holds a challenge. URLs never carry credentials, and every failure is an `UpstreamFailure`
whose one-line message names the camera and the cause, never the password.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable

import aiohttp
from aiohttp import ClientHandlerType, ClientRequest, ClientResponse, ClientTimeout, DigestAuthMiddleware, hdrs
from yarl import URL

from gateway.backends.amcrest.event_parser import (
    EventPart,
    EventStreamError,
    EventStreamParser,
    Heartbeat,
    boundary_from_content_type,
)
from gateway.backends.base import UpstreamFailure

log = logging.getLogger("gateway.backends.amcrest")

# Amcrest's postAudio takes a declared length it never waits for: the talk ends when the
# connection does (the cgi facts; Scrypted's amcrest plugin sends the same).
TALK_CONTENT_LENGTH = 9_999_999
# After the talk body ends, how long the camera may take to answer before the connection is
# closed under it: some firmware never answers a body shorter than its declared length.
ANSWER_GRACE = 0.25
# A digest challenge answered this recently is taken as still fresh for a streamed upload.
# Dahua does not document its nonce lifetime; a stale one costs one talk (see _NoReplay).
CHALLENGE_FRESH = 10.0
MAX_ANSWER = 16 * 1024 * 1024  # a snapshot is the largest answer read whole
SILENT_HEARTBEATS = 3  # heartbeats missed before an event stream is taken as dead


class _Replay(Exception):
    """The digest middleware wanted to resend a streamed upload."""


class _NoReplay:
    """Client middleware placed under the digest one for a streamed upload. On a 401 the
    digest middleware takes the new challenge and sends the request again, which a
    streamed body cannot survive (its first attempt already took chunks from the iterator).
    The resend is refused here; the first attempt's answer is closed, which stops its writer."""

    def __init__(self) -> None:
        self._first: ClientResponse | None = None

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        if self._first is not None:
            self._first.close()
            raise _Replay()
        self._first = await handler(request)
        return self._first


class _Upload:
    """The caller's talk body as aiohttp pulls it: knows when it ended and why."""

    def __init__(self, body: AsyncIterable[bytes]) -> None:
        self._body = body
        self.ended = asyncio.Event()
        self.error: Exception | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._body:
                if chunk:
                    yield chunk
        except Exception as exc:
            self.error = exc
            raise
        finally:
            self.ended.set()


class AmcrestCgi:
    def __init__(
        self,
        *,
        camera_id: str,
        host: str,
        http_port: int,
        username: str,
        password: str,
        channel: int,
        request_timeout: float = 10.0,
        connect_timeout: float = 5.0,
    ):
        self.camera_id = camera_id
        self.channel = channel  # 1-based, as the CGI takes it
        self._origin = URL.build(scheme="http", host=host, port=http_port)
        self._where = f"{host}:{http_port}"
        self._digest = DigestAuthMiddleware(username, password)
        self._timeout = ClientTimeout(total=request_timeout, sock_connect=connect_timeout)
        self._connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None
        self._authenticated_at: float | None = None  # monotonic time of the last answer past the digest

    async def open(self) -> None:
        if self._session is None:
            # Cameras serve few connections at once: the event stream, a talk and a request or two.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=6),
                middlewares=(self._digest,),
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": "wep-gateway"},
            )

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    # -- requests ------------------------------------------------------------------------------

    async def snapshot(self) -> bytes:
        """GET snapshot.cgi: a JPEG of the live picture."""
        response = await self._send("GET", self._url("/cgi-bin/snapshot.cgi", channel=self.channel), "snapshot.cgi")
        try:
            body = await self._read(response, "snapshot.cgi")
        finally:
            response.release()
        if not body.startswith(b"\xff\xd8"):
            kind = response.headers.get(hdrs.CONTENT_TYPE, "no Content-Type")
            raise UpstreamFailure(
                "bad_media", f"camera {self.camera_id!r} sent {len(body)} bytes of {kind} for a snapshot, not a JPEG"
            )
        return body

    async def ptz(self, action: str, code: str, arg1: int = 0, arg2: int = 0, arg3: int = 0) -> None:
        """GET ptz.cgi: `action` start/stop, `code` Left, ZoomTele, GotoPreset..."""
        url = self._url(
            "/cgi-bin/ptz.cgi", action=action, channel=self.channel, code=code, arg1=arg1, arg2=arg2, arg3=arg3
        )
        response = await self._send("GET", url, "ptz.cgi")
        try:
            answer = (await self._read(response, "ptz.cgi")).decode("latin-1").strip()
        finally:
            response.release()
        # Dahua answers "OK"; some firmware says "Error\r\nBad Request!" with a 200.
        if answer.lower().startswith("error"):
            said = " ".join(answer.split())[:60]
            raise UpstreamFailure("refused", f"camera {self.camera_id!r} refused ptz {action} {code}: {said}")

    async def post_audio(self, body: AsyncIterable[bytes], content_type: str = "Audio/G.711A") -> None:
        """POST audio.cgi postAudio: `body` (8 kHz G.711, paced in real time by the caller) goes
        out chunk by chunk as it is yielded; the upload ends when `body` does.

        aiohttp streams an async-iterable body with an explicit Content-Length as-is (no
        chunking): each chunk is written to the transport when yielded (the headers go out with
        the first one), with no buffering to the end. The declared length is never reached, so
        once the body ends the camera gets ANSWER_GRACE to answer, then the connection closes.
        """
        session = self._require_session()
        await self._fresh_challenge()
        url = self._url("/cgi-bin/audio.cgi", action="postAudio", httptype="singlepart", channel=self.channel)
        upload = _Upload(body)
        # No total timeout: a talk lasts as long as it lasts. The digest middleware computes
        # qop=auth without reading the body (qop=auth-int would read it all first; Dahua offers
        # auth only).
        request = asyncio.ensure_future(
            session.post(
                url,
                data=upload.chunks(),
                middlewares=(self._digest, _NoReplay()),
                headers={hdrs.CONTENT_TYPE: content_type, hdrs.CONTENT_LENGTH: str(TALK_CONTENT_LENGTH)},
                timeout=ClientTimeout(total=None, sock_connect=self._connect_timeout),
            )
        )
        ending = asyncio.ensure_future(upload.ended.wait())
        response: ClientResponse | None = None
        try:
            await asyncio.wait({request, ending}, return_when=asyncio.FIRST_COMPLETED)
            if upload.error is not None:
                raise upload.error  # the caller's body failed: the caller's error, not the camera's
            if not request.done():
                await asyncio.wait({request}, timeout=ANSWER_GRACE)
            if not request.done():
                return  # the usual end: no answer; cancelling the request closes the connection
            response = await self._answer(request, "audio.cgi")
            if not upload.ended.is_set():
                # Answered 200 while the talk goes on: stream until the body ends, or until the
                # answer is complete (aiohttp then stops the body writer: the camera is done).
                log.debug("camera %r answered the talk upload before its end", self.camera_id)
                reading = asyncio.ensure_future(_drain(response))
                try:
                    await asyncio.wait({ending, reading}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    await _settle(reading)
        finally:
            await _settle(request)
            await _settle(ending)
            if response is not None:
                response.close()

    @contextlib.asynccontextmanager
    async def attach_events(self, heartbeat: int = 5) -> AsyncIterator[AsyncGenerator[EventPart | Heartbeat, None]]:
        """Open eventManager.cgi attach; the context gives the parts as they come. Entering
        raises `UpstreamFailure` if the camera refuses; the iterator ends only by raising it:
        "closed" (the camera ended the stream), "truncated" (inside a part), "bad_stream"
        (garbage), "stall" (silent for SILENT_HEARTBEATS heartbeats) or a connection cause."""
        # codes=[All] goes out literally, as python-amcrest (requests) sends it: yarl would
        # percent-encode the brackets, and embedded servers may not decode them.
        url = URL(
            f"{self._origin}/cgi-bin/eventManager.cgi?action=attach&codes=[All]&heartbeat={heartbeat}", encoded=True
        )
        silence = SILENT_HEARTBEATS * heartbeat
        timeout = ClientTimeout(total=None, sock_connect=self._connect_timeout, sock_read=silence)
        response = await self._send("GET", url, "eventManager.cgi", timeout=timeout)
        try:
            try:
                parser = EventStreamParser(boundary_from_content_type(response.headers.get(hdrs.CONTENT_TYPE, "")))
            except EventStreamError as exc:
                raise UpstreamFailure("bad_stream", f"camera {self.camera_id!r}: {exc}") from None
            yield self._event_parts(response, parser, silence)
        finally:
            response.close()

    async def _event_parts(
        self, response: ClientResponse, parser: EventStreamParser, silence: float
    ) -> AsyncGenerator[EventPart | Heartbeat, None]:
        try:
            async for data in response.content.iter_any():
                try:
                    parts = parser.feed(data)
                except EventStreamError as exc:
                    for part in exc.events:
                        yield part
                    raise UpstreamFailure(
                        "bad_stream", f"camera {self.camera_id!r} sent a malformed event stream: {exc}"
                    ) from None
                for part in parts:
                    yield part
        except TimeoutError:
            raise UpstreamFailure(
                "stall", f"camera {self.camera_id!r} event stream silent for {silence:g}s", 504
            ) from None
        except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, ConnectionError):
            pass  # the connection went: whether a part was cut decides the cause below
        except (aiohttp.ClientError, OSError) as exc:
            raise self._failure(exc, "eventManager.cgi") from None
        try:
            parser.close()
        except EventStreamError as exc:
            raise UpstreamFailure("truncated", f"camera {self.camera_id!r}: {exc}") from None
        raise UpstreamFailure("closed", f"camera {self.camera_id!r} closed its event stream")

    # -- plumbing ------------------------------------------------------------------------------

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("AmcrestCgi.open() first")
        return self._session

    def _url(self, path: str, **query: object) -> URL:
        return self._origin.with_path(path).with_query({name: str(value) for name, value in query.items()})

    async def _fresh_challenge(self) -> None:
        # A streamed body cannot be sent twice, so the talk POST must carry credentials on its
        # first try: the digest middleware must already hold a live challenge. When no
        # request passed the digest lately, a cheap authenticated GET (snapshot.cgi, which
        # every firmware has) takes one first. It also tells a wrong password apart before
        # any audio is spent. An empty first POST was the other way: it would start a talk.
        if self._authenticated_at is not None and time.monotonic() - self._authenticated_at < CHALLENGE_FRESH:
            return
        try:
            response = await self._send("GET", self._url("/cgi-bin/snapshot.cgi", channel=self.channel), "snapshot.cgi")
        except UpstreamFailure as failure:
            if not failure.cause.startswith("upstream_"):
                raise
            return  # the camera answered past the digest (a 404 on a doorbell...): the challenge is held
        response.close()  # the picture is not wanted: dropping the connection is cheaper than reading it

    async def _send(self, method: str, url: URL, what: str, timeout: ClientTimeout | None = None) -> ClientResponse:
        session = self._require_session()
        return await self._answer(
            session.request(method, url, timeout=timeout or self._timeout, allow_redirects=False), what
        )

    async def _answer(self, pending: Awaitable[ClientResponse], what: str) -> ClientResponse:
        """Await a request; its response if 200, else the `UpstreamFailure` it amounts to."""
        try:
            response = await pending
        except _Replay:
            raise UpstreamFailure(
                "auth_stale",
                f"camera {self.camera_id!r} renewed its digest challenge during "
                f"{what}; the streamed body cannot be resent",
            ) from None
        except (aiohttp.ClientError, OSError) as exc:  # TimeoutError is an OSError
            raise self._failure(exc, what) from None
        if response.status == 200:
            self._authenticated_at = time.monotonic()
            return response
        response.release()
        if response.status == 401:
            raise UpstreamFailure(
                "auth", f"camera {self.camera_id!r} refused the credentials (HTTP 401 from the camera)"
            )
        raise UpstreamFailure(
            f"upstream_{response.status}", f"camera {self.camera_id!r} answered HTTP {response.status} to {what}"
        )

    async def _read(self, response: ClientResponse, what: str) -> bytes:
        chunks, size = [], 0
        try:
            async for chunk in response.content.iter_chunked(64 * 1024):
                size += len(chunk)
                if size > MAX_ANSWER:
                    raise UpstreamFailure(
                        "bad_media", f"camera {self.camera_id!r} answered {what} with over {MAX_ANSWER} bytes"
                    )
                chunks.append(chunk)
        except (aiohttp.ClientError, OSError) as exc:
            raise self._failure(exc, what) from None
        return b"".join(chunks)

    def _failure(self, exc: BaseException, what: str) -> UpstreamFailure:
        camera = f"camera {self.camera_id!r}"
        if isinstance(exc, aiohttp.ClientConnectorError):
            return UpstreamFailure("connection", f"{camera} unreachable at {self._where}: {_reason(exc.os_error)}")
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return UpstreamFailure("timeout", f"{camera} unreachable at {self._where}: connect timed out", 504)
        if isinstance(exc, TimeoutError):
            return UpstreamFailure("timeout", f"{camera} at {self._where} did not answer {what} in time", 504)
        if isinstance(exc, aiohttp.ServerDisconnectedError):
            return UpstreamFailure("connection", f"{camera} at {self._where} closed the connection during {what}")
        if isinstance(exc, aiohttp.ClientPayloadError):
            return UpstreamFailure("connection", f"{camera} at {self._where} cut its answer to {what} short")
        reason = _reason(exc) if isinstance(exc, OSError) else type(exc).__name__
        return UpstreamFailure("connection", f"{camera} at {self._where}: {what} failed: {reason}")


def _reason(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return "name not resolved"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "host unreachable" if exc.errno == errno.EHOSTUNREACH else "network unreachable"
    return (exc.strerror or type(exc).__name__).lower()


async def _settle(task: asyncio.Future) -> None:
    """Cancel `task` and wait until it has stopped (a cancelled request has closed its
    connection then); its outcome is dropped."""
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled():
        task.exception()


async def _drain(response: ClientResponse) -> None:
    async for _ in response.content.iter_chunked(4096):
        pass
