"""The WEP REST client: one shared aiohttp session, one WEP login, every call the gateway
makes upstream.

The session goes in the `x-avg-session` header on every call and also where the guide's
route lists it: the `session` query of GET routes and POST /media, the JSON body of
/logout and /media/rtmp. A 401 (guide, "HTTP Status Codes": "the session token has
expired") or an envelope saying the session expired triggers one shared re-login and one
retry. The session, the password, the user key and BaseURLs never reach a log line or an
exception message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from yarl import URL

from gateway.config import WepConfig
from gateway.wep.answers import (
    MAX_ERROR_BYTES,
    MAX_JSON_BYTES,
    WepCall,
    health_state,
    in_context,
    is_error_envelope,
    list_in,
    login_session,
    read_body,
    read_bytes,
    read_ignored,
    read_jpeg,
    read_result,
    reader,
    short,
    unavailable,
)
from gateway.wep.errors import (
    WepAuthError,
    WepError,
    WepUnavailable,
    describe_body,
    is_session_expired,
    parse_error_envelope,
)
from gateway.wep.mpd import MAX_MPD_BYTES, MediaPresentation, MpdError, parse_mpd
from gateway.wep.stats import WepStats
from gateway.wep.stream import MediaStream, set_query_param
from gateway.wep.token import authorization_token

log = logging.getLogger("gateway.wep")

T = TypeVar("T")

API_PATH = "/mt/api/rest/v1"
SESSION_HEADER = "x-avg-session"
DEFAULT_STREAM_READ_TIMEOUT = 10.0
# close() must not hang on a dead WEP: the logout is a courtesy (sessions idle out in 1 h).
LOGOUT_TIMEOUT = 2.0
# Guide, POST /media: "The maximum stream duration is 120000 ms."
AUDIO_POST_LIMIT = 120.0
# After WEP refuses a login, implicit re-logins fail fast for this long instead of asking
# again with the same credentials on every reconnect (accounts can lock out).
LOGIN_REFUSED_HOLD = 30.0


@dataclass(frozen=True)
class SpeakerInfo:
    enabled: bool
    codecs: tuple[str, ...]  # MIME types POST /media accepts as Content-Type (spkc)


class WepClient:
    def __init__(
        self,
        config: WepConfig,
        *,
        clock: Callable[[], float] = time.time,
        on_session: Callable[[str], None] | None = None,
    ):
        self.base_url = config.url.rstrip("/") + API_PATH
        self.stats = WepStats()
        self._config = config
        self._clock = clock  # for the authorization token's timestamp
        self._on_session = on_session  # e.g. the log redactor: told every new session
        self._origin = URL(config.url).origin()
        self._http: aiohttp.ClientSession | None = None
        self._session: str | None = None
        self._generation = 0  # bumped by every successful login
        self._login_task: asyncio.Task[None] | None = None
        self._refused: tuple[float, WepAuthError] | None = None
        self._timeout = aiohttp.ClientTimeout(total=config.request_timeout, sock_connect=config.connect_timeout)

    @property
    def logged_in(self) -> bool:
        return self._session is not None

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Create the shared HTTP session (no login yet)."""
        if self._http is not None:
            return
        connector = aiohttp.TCPConnector(limit=self._config.max_connections, ssl=self._ssl())
        # No cookie jar: the session is ours to carry, nothing else should stick.
        self._http = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), headers={"User-Agent": "wep-gateway"}
        )

    async def start(self) -> None:
        """Open the HTTP session and log in; login errors propagate, the client stays usable."""
        await self.open()
        await self.login()

    async def close(self) -> None:
        """Log out (best effort, bounded) and close the HTTP session."""
        if self._login_task is not None and not self._login_task.done():
            self._login_task.cancel()
        if self._http is None:
            return
        session, self._session = self._session, None
        if session is not None:
            try:
                async with asyncio.timeout(min(LOGOUT_TIMEOUT, self._config.request_timeout)):
                    await self._send(
                        WepCall("POST", "/logout", "logout", body={}, session_in_query=False, session_in_body=True),
                        session,
                        read_ignored,
                    )
                log.info("logged out of WEP")
            except (WepError, TimeoutError) as exc:
                log.info("logout skipped: %s", short(exc))
        http, self._http = self._http, None
        await http.close()

    def _ssl(self) -> ssl.SSLContext | bool:
        if not self._config.verify_tls:
            return False
        if self._config.ca_file:
            return ssl.create_default_context(cafile=self._config.ca_file)
        return True

    def _require_http(self) -> aiohttp.ClientSession:
        if self._http is None:
            raise RuntimeError("WepClient is not open: call open() or start() first")
        return self._http

    # -- login ---------------------------------------------------------------------------------

    async def login(self) -> None:
        """POST /login. Concurrent callers share the login in flight."""
        self._refused = None  # an explicit login always asks WEP
        await self._join_login()

    async def _relogin(self, seen_generation: int) -> None:
        """Log in again unless someone already did since the caller read the session."""
        if self._session is not None and self._generation != seen_generation:
            return
        if self._refused is not None:
            refused_at, error = self._refused
            if asyncio.get_running_loop().time() - refused_at < LOGIN_REFUSED_HOLD:
                raise error
        if self._generation > 0:
            self.stats.relogins += 1
        await self._join_login()

    async def _join_login(self) -> None:
        task = self._login_task
        if task is None or task.done():
            task = self._login_task = asyncio.get_running_loop().create_task(self._do_login(), name="wep login")
            task.add_done_callback(_retrieve_exception)
        # shield: a cancelled caller must not cancel the login the others are waiting for.
        await asyncio.shield(task)

    async def _do_login(self) -> None:
        http = self._require_http()
        config = self._config
        self.stats.logins += 1
        try:
            token = authorization_token(config.user_nonce, config.user_key, int(self._clock()), config.integration_id)
        except ValueError as exc:
            self.stats.login_failures += 1
            raise WepAuthError(401, None, "NO_CREDENTIALS", f"cannot log in: {exc} in [wep]") from None
        body = {
            "username": config.username,
            "password": config.password,
            "clientName": config.client_name,
            "authorizationToken": token,
        }
        started = asyncio.get_running_loop().time()
        failed = True
        try:
            async with http.post(self.base_url + "/login", json=body, timeout=self._timeout) as response:
                raw = await read_body(response, MAX_JSON_BYTES, "POST /login")
                status, content_type = response.status, response.content_type
            session = login_session(status, raw, content_type)
            failed = False
        except WepAuthError as exc:
            self._session = None
            self._refused = (asyncio.get_running_loop().time(), exc)
            self.stats.login_failures += 1
            log.warning("WEP refused the login as %r: %s", config.username, exc)
            raise
        except WepError as exc:
            self._session = None
            self.stats.login_failures += 1
            log.warning("WEP login failed: %s", exc)
            raise
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self._session = None
            self.stats.login_failures += 1
            error = unavailable("POST /login", exc, self._config.request_timeout)
            log.warning("WEP login failed: %s", error)
            raise error from None
        finally:
            self.stats.record("login", asyncio.get_running_loop().time() - started, failed)
        if self._on_session is not None:
            self._on_session(session)  # before anything could log it
        self._session = session
        self._generation += 1
        self._refused = None
        log.info("logged in to WEP at %s as %r", self._origin, config.username)

    async def _current_session(self) -> tuple[str, int]:
        if self._session is None:
            await self._relogin(self._generation)
        session = self._session
        if session is None:  # a logout raced the login
            raise WepUnavailable(503, None, "NOT_LOGGED_IN", "no WEP session")
        return session, self._generation

    # -- the request core ------------------------------------------------------------------------

    async def _call(self, call: WepCall, read: Callable[[aiohttp.ClientResponse, WepCall], Awaitable[T]]) -> T:
        """`call` with the current session; on an expired session, re-login and retry once."""
        result, _ = await self._call_owned(call, read)
        return result

    async def _call_owned(
        self, call: WepCall, read: Callable[[aiohttp.ClientResponse, WepCall], Awaitable[T]]
    ) -> tuple[T, str]:
        """`_call`, also answering the session the successful request was sent with."""
        for attempt in (1, 2):
            session, generation = await self._current_session()
            try:
                return await self._send(call, session, read), session
            except WepError as exc:
                if attempt == 2 or isinstance(exc, WepUnavailable) or not is_session_expired(exc):
                    log.debug("%s failed: %s", call.route, exc, extra=_camera(call.camera_id))
                    raise
                log.info(
                    "WEP session expired (%s %s); logging in again", exc.status, exc.name, extra=_camera(call.camera_id)
                )
                await self._relogin(generation)
        raise AssertionError("unreachable")

    async def _send(
        self, call: WepCall, session: str, read: Callable[[aiohttp.ClientResponse, WepCall], Awaitable[T]]
    ) -> T:
        http = self._require_http()
        params = list(call.params)
        if call.session_in_query:
            params.append(("session", session))
        body = call.body
        if call.session_in_body:
            body = {"session": session, **(body or {})}
        started = asyncio.get_running_loop().time()
        failed = True
        try:
            async with http.request(
                call.method,
                self.base_url + call.path,
                params=params,
                json=body,
                headers={SESSION_HEADER: session},
                timeout=self._timeout,
            ) as response:
                if response.status >= 400:
                    raw = await read_body(response, MAX_ERROR_BYTES, call.context)
                    raise in_context(parse_error_envelope(response.status, raw, response.content_type), call)
                result = await read(response, call)
            failed = False
            return result
        except WepError:
            raise
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise unavailable(call.context, exc, self._config.request_timeout) from None
        finally:
            self.stats.record(call.route, asyncio.get_running_loop().time() - started, failed)

    # -- routes --------------------------------------------------------------------------------

    async def call(self, call: WepCall, *, result: bool = True) -> Any:
        """One JSON route with the session, re-login and error handling above: its `result`,
        or None when the answer has none worth reading (`result=False`). The route modules
        beside this client (events_api.py) add WEP's event, webhook and alarm routes."""
        return await self._call(call, read_result if result else read_ignored)

    async def health(self) -> str:
        """GET /health: "GOOD", "WARN", "BAD" or another configured state (no session needed)."""
        http = self._require_http()
        started = asyncio.get_running_loop().time()
        failed = True
        try:
            async with http.get(self.base_url + "/health", timeout=self._timeout) as response:
                raw = await read_body(response, MAX_ERROR_BYTES, "GET /health")
                state = health_state(raw)
                # Guide: "Responds with text/plain and 200 or 500 code"; a 500 still names a state.
                if state is None or response.status not in (200, 500):
                    raise parse_error_envelope(response.status, raw, response.content_type)
            failed = False
            return state
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise unavailable("GET /health", exc, self._config.request_timeout) from None
        finally:
            self.stats.record("health", asyncio.get_running_loop().time() - started, failed)

    async def cameras(self, verbosity: str | None = None) -> list[dict]:
        params = (("verbosity", verbosity),) if verbosity else ()
        result = await self._call(WepCall("GET", "/cameras", "cameras", params), read_result)
        return list_in(result, "cameras", "GET /cameras")

    async def camera(self, camera_ids: list[str]) -> list[dict]:
        """GET /camera?ids=...: the status of the named cameras."""
        params = tuple(("ids", camera_id) for camera_id in camera_ids)
        result = await self._call(WepCall("GET", "/camera", "camera", params), read_result)
        if isinstance(result, dict) and isinstance(result.get("camera"), dict):
            return [result["camera"]]
        return list_in(result, "cameras", "GET /camera")

    async def mpd(self, camera_id: str) -> MediaPresentation:
        call = WepCall("GET", "/media", "media.mpd", (("cameraId", camera_id), ("format", "mpd")), camera_id=camera_id)
        document = await self._call(call, reader(read_bytes, MAX_MPD_BYTES))
        try:
            # Relative BaseURLs resolve against the MPD's own URL (ISO/IEC 23009-1 5.6.4).
            return parse_mpd(document, self.base_url + "/media")
        except MpdError as exc:
            raise WepUnavailable(502, None, "BAD_MPD", f"{call.context}: {exc}") from None

    async def speaker(self, camera_id: str) -> SpeakerInfo:
        """GET /media?format=spkc: whether the camera has a speaker, and what it accepts."""
        call = WepCall(
            "GET", "/media", "media.spkc", (("cameraId", camera_id), ("format", "spkc")), camera_id=camera_id
        )
        result = await self._call(call, read_result)
        if not isinstance(result, dict):
            raise WepUnavailable(502, None, "BAD_RESPONSE", f"{call.context}: spkc result is not an object")
        codecs = result.get("availableAudioCodecs")
        codecs = tuple(c for c in codecs if isinstance(c, str)) if isinstance(codecs, list) else ()
        return SpeakerInfo(result.get("speakerEnabled") is True, codecs)

    async def jpeg(self, camera_id: str, *, t: str = "live", roi: str | None = None, size: str | None = None) -> bytes:
        params = [("cameraId", camera_id), ("format", "jpeg"), ("t", t)]
        params += [(name, value) for name, value in (("roi", roi), ("size", size)) if value]
        call = WepCall("GET", "/media", "media.jpeg", tuple(params), camera_id=camera_id)
        return await self._call(call, read_jpeg)

    async def image_ref(self, camera_id: str, path: str, ref_type: str) -> bytes:
        """GET /media/imageRef: the JPEG an event's imageRef points at."""
        params = (("cameraId", camera_id), ("imageRefPath", path), ("imageRefType", ref_type))
        return await self._call(
            WepCall("GET", "/media/imageRef", "media.imageRef", params, camera_id=camera_id), read_jpeg
        )

    async def rtmp_list(self) -> list[dict]:
        result = await self._call(WepCall("GET", "/media/rtmp", "rtmp.list"), read_result)
        return list_in(result, "streams", "GET /media/rtmp")

    async def rtmp_start(
        self, camera_id: str, url: str, *, media: str = "video", quality: str = "high", time: str = "live"
    ) -> dict:
        """POST /media/rtmp: WEP pushes the camera to `url` (which may hold a stream key: never logged)."""
        result, _ = await self.rtmp_start_owned(camera_id, url, media=media, quality=quality, time=time)
        return result

    async def rtmp_start_owned(
        self, camera_id: str, url: str, *, media: str = "video", quality: str = "high", time: str = "live"
    ) -> tuple[dict, str]:
        """`rtmp_start`, also answering the WEP session that now owns the stream.

        Why the session leaves the client here, and only here: the guide scopes GET and
        DELETE /media/rtmp to the session that created the stream ("returns the streams
        that were created with the session"), and a WEP push outlives the process that
        started it. A gateway restarted after SIGKILL has a new session and can stop its
        predecessor's stream only with the old one (`rtmp_stop(ids, session=...)`). The
        caller may persist it only where secrets already live (the push database, 0600)
        and must hand it to the log redactor; it is never logged or answered."""
        body = {"cameraId": camera_id, "url": url, "time": time, "media": media, "quality": quality}
        call = WepCall(
            "POST",
            "/media/rtmp",
            "rtmp.start",
            body=body,
            session_in_query=False,
            session_in_body=True,
            camera_id=camera_id,
        )
        result, session = await self._call_owned(call, read_result)
        if not isinstance(result, dict):
            raise WepUnavailable(502, None, "BAD_RESPONSE", f"{call.context}: result is not an object")
        return result, session

    async def rtmp_stop(self, ids: list[str] | None = None, *, session: str | None = None) -> None:
        """DELETE /media/rtmp: the named pushes, or every push of this session (guide).

        `session`: the session that started the streams (from `rtmp_start_owned`), when it
        may not be the current one (a previous process's). It is sent as is, once: no
        re-login and retry, since a 401 means that session is gone and WEP ended its
        streams with it, and retrying under the current session would address other
        streams. With a given session, `ids` are required: an empty list would stop every
        stream of that session."""
        body = {"ids": list(ids)} if ids else {}
        call = WepCall("DELETE", "/media/rtmp", "rtmp.stop", body=body, session_in_query=False, session_in_body=True)
        if session is None:
            await self._call(call, read_ignored)
            return
        if not ids:
            raise ValueError("rtmp_stop with an explicit session needs the stream ids")
        await self._send(call, session, read_ignored)

    # -- media streams -------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def open_stream(
        self,
        camera_id: str,
        *,
        format: str = "fmp4",
        quality: str | None = None,
        base_url: str | None = None,
        t: str | None = None,
        read_timeout: float = DEFAULT_STREAM_READ_TIMEOUT,
    ) -> AsyncIterator[MediaStream]:
        """GET /media as a stream. With `base_url` (a Representation's, from the MPD) that URL
        is requested with its session replaced by the current one; otherwise cameraId, format,
        quality and t make the query. No total timeout: a read that waits `read_timeout`
        raises WepUnavailable."""
        params: list[tuple[str, str]] = []
        if base_url is not None:
            target = self._same_origin(base_url, camera_id)
            route = "media.stream"
        else:
            params = [("cameraId", camera_id), ("format", format)]
            params += [(name, value) for name, value in (("quality", quality), ("t", t)) if value]
            target = None
            route = f"media.{format}"
        response = await self._open_media(camera_id, route, target, params, t)
        log.info("media stream opened (%s, %s)", route, response.content_type, extra=_camera(camera_id))
        stream = MediaStream(response, camera_id, read_timeout, self.stats)
        try:
            yield stream
        finally:
            response.close()
            log.info("media stream closed after %d bytes", stream.bytes_received, extra=_camera(camera_id))

    def _same_origin(self, base_url: str, camera_id: str) -> URL:
        url = URL(base_url, encoded=True)
        if not url.is_absolute():
            url = self._origin.join(url)
        if url.origin() != self._origin:
            # A BaseURL elsewhere would receive our session: refuse (no URL in the message).
            raise ValueError(f"camera {camera_id}: the stream BaseURL is not on the configured WEP server")
        return url

    async def _open_media(
        self, camera_id: str, route: str, target: URL | None, params: list[tuple[str, str]], t: str | None
    ) -> aiohttp.ClientResponse:
        http = self._require_http()
        context = f"GET /media camera {camera_id}"
        # No total: a live stream lasts as long as it lasts; stalls are the reader's timeout.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._config.connect_timeout)
        for attempt in (1, 2):
            session, generation = await self._current_session()
            if target is not None:
                url = str(target)
                if t:
                    url = set_query_param(url, "t", t)
                request_url, query = URL(set_query_param(url, "session", session), encoded=True), None
            else:
                request_url, query = URL(self.base_url + "/media"), [*params, ("session", session)]
            started = asyncio.get_running_loop().time()
            error: WepError
            try:
                async with asyncio.timeout(self._config.request_timeout):
                    response = await http.get(
                        request_url, params=query, headers={SESSION_HEADER: session}, timeout=timeout
                    )
                    if response.status < 400 and response.content_type != "application/json":
                        self.stats.record(route, asyncio.get_running_loop().time() - started, False)
                        return response
                    try:
                        raw = await read_body(response, MAX_ERROR_BYTES, context)
                    finally:
                        response.release()
                error = parse_error_envelope(response.status, raw, response.content_type)
                if response.status < 400 and error.name == "BAD_RESPONSE":
                    error = WepUnavailable(
                        502,
                        None,
                        "BAD_RESPONSE",
                        f"answered JSON ({describe_body(raw, 'application/json')}), not media",
                    )
                error = in_context(error, WepCall("GET", "/media", route, camera_id=camera_id))
            except WepError as exc:
                error = exc
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                error = unavailable(context, exc, self._config.request_timeout)
            self.stats.record(route, asyncio.get_running_loop().time() - started, True)
            if attempt == 2 or isinstance(error, WepUnavailable) or not is_session_expired(error):
                log.info("media stream refused: %s", error, extra=_camera(camera_id))
                raise error
            log.info(
                "WEP session expired (%s %s); logging in again", error.status, error.name, extra=_camera(camera_id)
            )
            await self._relogin(generation)
        raise AssertionError("unreachable")

    async def post_audio(self, camera_id: str, body: AsyncIterable[bytes], *, content_type: str = "audio/PCMU") -> None:
        """POST /media?media=audio: stream `body` (chunked) to the camera's speaker.

        WEP caps one POST at 120 s (guide). A streamed body cannot be replayed, so a 401 is
        not retried here: the session is renewed and the WepError raised, and the caller
        starts a new POST with the rest of its audio."""
        http = self._require_http()
        session, generation = await self._current_session()
        call = WepCall(
            "POST", "/media", "media.audio", (("cameraId", camera_id), ("media", "audio")), camera_id=camera_id
        )

        async def chunks() -> AsyncIterator[bytes]:
            async for chunk in body:
                if chunk:
                    self.stats.audio_bytes += len(chunk)
                    yield chunk

        timeout = aiohttp.ClientTimeout(
            total=AUDIO_POST_LIMIT + self._config.request_timeout, sock_connect=self._config.connect_timeout
        )
        started = asyncio.get_running_loop().time()
        failed = True
        try:
            async with http.post(
                self.base_url + "/media",
                params=[*call.params, ("session", session)],
                data=chunks(),
                headers={SESSION_HEADER: session, "Content-Type": content_type},
                timeout=timeout,
            ) as response:
                raw = await read_body(response, MAX_ERROR_BYTES, call.context)
                status, answer_type = response.status, response.content_type
            if status >= 400 or is_error_envelope(raw):
                raise in_context(parse_error_envelope(status, raw, answer_type), call)
            failed = False
            log.info("audio posted to the speaker", extra=_camera(camera_id))
        except WepError as exc:
            log.info("audio post refused: %s", exc, extra=_camera(camera_id))
            if not isinstance(exc, WepUnavailable) and is_session_expired(exc):
                with contextlib.suppress(WepError):
                    await self._relogin(generation)
            raise
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = unavailable(call.context, exc, AUDIO_POST_LIMIT + self._config.request_timeout)
            log.info("audio post failed: %s", error, extra=_camera(camera_id))
            raise error from None
        finally:
            self.stats.record(call.route, asyncio.get_running_loop().time() - started, failed)


def _camera(camera_id: str | None) -> dict[str, Any]:
    return {"camera": camera_id} if camera_id else {}


def _retrieve_exception(task: asyncio.Task[None]) -> None:
    # The login's waiters get its error; this keeps asyncio from warning when there are none.
    if not task.cancelled():
        task.exception()
