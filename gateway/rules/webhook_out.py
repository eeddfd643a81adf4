"""The webhook action's POSTs: JSON signed the way WEP signs its own notifications.

`Authorization: base64(HMAC-SHA256(secret, body))` over the exact bytes sent, so a receiver
checks it with the same code it uses for WEP. A post is retried with backoff (0.5 s,
doubling) when the receiver cannot be reached, times out, or answers 408, 429 or 5xx, at
most `attempts` times; any other answer is final. At most `in_flight` posts run at once:
past that a post is refused at once (and audited by the engine), so a receiver that hangs
can never pile up work without bound. Redirects are not followed: a signed body goes only
where the rule says.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json

import aiohttp

RETRY_STATUSES = frozenset({408, 429})
FIRST_BACKOFF = 0.5
USER_AGENT = "wep-gateway-rules"


class WebhookFailed(Exception):
    """The receiver did not take the post (after the retries); the message says why."""


def signature(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class WebhookSender:
    def __init__(self, in_flight: int, attempts: int, timeout: float, first_backoff: float = FIRST_BACKOFF):
        self._limit = in_flight
        self._attempts = attempts
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._first_backoff = first_backoff
        self._running = 0
        self._session: aiohttp.ClientSession | None = None
        self.sent = 0
        self.failed = 0
        self.refused = 0

    async def send(self, url: str, secret: str, payload: dict) -> str:
        """Post `payload` to `url`; the answer's status line, or WebhookFailed."""
        if self._running >= self._limit:
            self.refused += 1
            raise WebhookFailed(f"refused: {self._limit} webhook posts are already in flight")
        self._running += 1
        try:
            body = json.dumps(payload, separators=(",", ":")).encode()
            headers = {
                "Content-Type": "application/json",
                "Authorization": signature(secret, body),
                "User-Agent": USER_AGENT,
            }
            return await self._post(url, body, headers)
        finally:
            self._running -= 1

    async def _post(self, url: str, body: bytes, headers: dict) -> str:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        delay = self._first_backoff
        why = ""
        for attempt in range(1, self._attempts + 1):
            if attempt > 1:
                await asyncio.sleep(delay)
                delay *= 2
            try:
                async with self._session.post(url, data=body, headers=headers, allow_redirects=False) as response:
                    if 200 <= response.status < 300:
                        self.sent += 1
                        return f"HTTP {response.status} after {attempt} attempt(s)"
                    why = f"HTTP {response.status}"
                    if response.status < 500 and response.status not in RETRY_STATUSES:
                        break
            except TimeoutError:
                why = "no answer in time"
            except aiohttp.ClientError as exc:
                why = f"unreachable ({type(exc).__name__})"
        self.failed += 1
        raise WebhookFailed(f"the receiver did not take the post: {why} (attempt {attempt} of {self._attempts})")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
