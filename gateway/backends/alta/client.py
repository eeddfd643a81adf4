"""The Alta Video API client: login cookie, one shared re-login, typed errors.

`POST /api/v1/dologin` with the JSON credentials answers with the authentication cookie
(its name is Alta's business: the session's cookie jar keeps whatever it is and sends it
back). A call answered 401 logs in again once, shared by every call that saw the same
401, and is retried once. A refused login (401/403 to dologin) is held for
`LOGIN_REFUSED_HOLD` seconds: calls in that time fail at once with the same error, so a
wrong password is one log line and no retry storm. Every call has a timeout; answers are
bounded in size. The password and the cookie never reach a log (the redactor knows them).

Errors: `AltaLoginRefused` (the credentials), `AltaRefused` (a 4xx to a call: a bad guid,
an ended alert), `AltaUnavailable` (cannot reach, 5xx, timeout, garbage): all are
`UpstreamFailure`s, so the alarm routes answer them as they do WEP's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections import Counter
from collections.abc import Callable
from typing import Any

import aiohttp

from gateway.backends.base import UpstreamFailure
from gateway.config import AltaConfig

log = logging.getLogger("gateway.alta")

LOGIN_REFUSED_HOLD = 30.0
MAX_BODY = 4 * 1024 * 1024


class AltaError(UpstreamFailure):
    pass


class AltaLoginRefused(AltaError):
    def __init__(self, message: str):
        super().__init__("login_refused", message, 502)


class AltaRefused(AltaError):
    def __init__(self, message: str, status: int):
        super().__init__("refused", message, status if status in (404, 409) else 502)
        self.upstream_status = status


class AltaUnavailable(AltaError):
    """Alta cannot be reached or answered no usable answer (cause "connection": an API
    answer says 503 and to retry; "upstream": it answered, with a fault)."""

    def __init__(self, message: str, status: int = 502, cause: str = "upstream"):
        super().__init__(cause, message, status)


class AltaClient:
    def __init__(self, config: AltaConfig, on_secret: Callable[[str], None] | None = None):
        self._config = config
        self.base_url = config.url.rstrip("/")
        self._on_secret = on_secret  # the redactor: each cookie value as it arrives
        self._http: aiohttp.ClientSession | None = None
        self._generation = 0  # logins so far; a 401 relogs in only if nobody did since
        self._login_task: asyncio.Task | None = None
        self._refused: tuple[float, AltaLoginRefused] | None = None
        self.stats: Counter[str] = Counter()  # logins, login_failures, relogins, calls, failures

    async def open(self) -> None:
        if self._http is not None:
            return
        config = self._config
        # unsafe=True: the cookie is kept for an IP-address host too (a lab, the emulator).
        self._http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            timeout=aiohttp.ClientTimeout(total=config.request_timeout, sock_connect=config.connect_timeout),
            connector=aiohttp.TCPConnector(ssl=self._ssl(), limit=16),
        )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _ssl(self) -> ssl.SSLContext | bool:
        if not self._config.verify_tls:
            return False
        return ssl.create_default_context(cafile=self._config.ca_file or None)

    @property
    def logged_in(self) -> bool:
        return self._generation > 0 and self._refused is None

    # -- login ---------------------------------------------------------------------------------

    async def _login_once(self, seen_generation: int) -> None:
        """Log in unless someone did since the caller's 401; shared by concurrent callers."""
        if self._generation != seen_generation:
            return
        if self._refused is not None:
            refused_at, error = self._refused
            if asyncio.get_running_loop().time() - refused_at < LOGIN_REFUSED_HOLD:
                raise error
        task = self._login_task
        if task is None or task.done():
            task = self._login_task = asyncio.get_running_loop().create_task(self._login(), name="alta login")
            task.add_done_callback(lambda done: done.cancelled() or done.exception())
        await asyncio.shield(task)

    async def _login(self) -> None:
        assert self._http is not None
        config = self._config
        self.stats["logins"] += 1
        if self._generation:
            self.stats["relogins"] += 1
        try:
            async with self._http.post(
                self.base_url + "/api/v1/dologin", json={"username": config.username, "password": config.password}
            ) as response:
                await response.content.read(MAX_BODY)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self.stats["login_failures"] += 1
            error = AltaUnavailable(f"Alta login: cannot reach {self.base_url} ({_why(exc)})", cause="connection")
            log.warning("%s", error)
            raise error from None
        if status in (401, 403):
            self.stats["login_failures"] += 1
            refused = AltaLoginRefused(
                f"Alta refused the login as {config.username!r} (HTTP {status}): check [alta] username and password"
            )
            if self._refused is None:  # one line per refusal spell, not one per call
                log.error("%s", refused)
            self._refused = (asyncio.get_running_loop().time(), refused)
            raise refused
        if not 200 <= status < 300:
            self.stats["login_failures"] += 1
            error = AltaUnavailable(f"Alta login answered HTTP {status}")
            log.warning("%s", error)
            raise error
        cookies = list(self._http.cookie_jar)
        if not cookies:
            self.stats["login_failures"] += 1
            raise AltaUnavailable("Alta's dologin answered without a cookie")
        if self._on_secret is not None:
            for cookie in cookies:
                self._on_secret(cookie.value)
        self._refused = None
        self._generation += 1
        log.info("logged in to Alta at %s as %r", self.base_url, config.username)

    # -- calls -----------------------------------------------------------------------------------

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        """The JSON answer of `method path` (None for an empty one); one re-login on a 401."""
        await self.open()
        if self._generation == 0:
            await self._login_once(0)
        for attempt in (1, 2):
            generation = self._generation
            status, raw = await self._send(method, path, body)
            if status == 401 and attempt == 1:
                await self._login_once(generation)
                continue
            break
        what = f"{method} {path}"
        if status == 401:
            raise AltaUnavailable(f"{what}: still refused (401) after logging in again")
        if status >= 500:
            raise AltaUnavailable(f"{what}: Alta answered HTTP {status}")
        if status >= 400:
            raise AltaRefused(f"{what}: Alta answered HTTP {status}{_message(raw)}", status)
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise AltaUnavailable(f"{what}: the answer is not JSON") from None

    async def _send(self, method: str, path: str, body: Any) -> tuple[int, bytes]:
        assert self._http is not None
        self.stats["calls"] += 1
        try:
            async with self._http.request(method, self.base_url + path, json=body) as response:
                raw = await response.content.read(MAX_BODY + 1)
                if len(raw) > MAX_BODY:
                    raise AltaUnavailable(f"{method} {path}: the answer is larger than {MAX_BODY} bytes")
                return response.status, raw
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self.stats["failures"] += 1
            raise AltaUnavailable(
                f"{method} {path}: {_why(exc)}", 504 if isinstance(exc, TimeoutError) else 502, "connection"
            ) from None


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return f"{type(exc).__name__}"


def _message(raw: bytes) -> str:
    """A short reason from an error body, if it has one."""
    try:
        parsed = json.loads(raw)
    except ValueError:
        return ""
    text = parsed.get("message") or parsed.get("error") if isinstance(parsed, dict) else None
    return f" ({str(text)[:120]})" if isinstance(text, (str, int)) and text else ""
