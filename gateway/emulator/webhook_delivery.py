"""Posting a webhook's messages in order, one task per webhook (guide, "Monitoring Events
with Webhooks").

- HELLO first: when the webhook is created, when its url changes, and whenever delivery
  resumes after a failure or a pause ("a disconnected ACC server has reconnected. It is an
  indication that some events may have been missed").
- A failed post (connection error, timeout, non-2xx) disconnects the webhook: what was
  pending is dropped and counted (the HELLO signals the gap), events raised while
  disconnected are dropped too, and HELLO is retried with backoff until one succeeds.
- HEARTBEAT "at the configured frequencyMs time interval after the last successful webhook
  notification".
- Pending events wait in a bounded queue; past it the newest are counted and dropped, the
  event source never waits for a receiver.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from dataclasses import dataclass, field

import aiohttp

from gateway.emulator.event_log import iso_ms
from gateway.emulator.webhook_config import Webhook
from gateway.emulator.webhook_message import HEARTBEAT, HELLO, NOTIFICATION, message, signed_post

log = logging.getLogger(__name__)
IN_FLIGHT = 5  # guide, "Tips and Best Practices": "5 webhook notifications in flight at a time"
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 5.0
MAX_BATCH = 100  # events in one NOTIFICATION


@dataclass
class DeliveryCounters:
    posts: Counter = field(default_factory=Counter)  # message type -> successful posts
    events: int = 0  # events carried by successful NOTIFICATIONs
    failures: int = 0  # failed posts
    dropped: int = 0  # events never posted (failure, pause, full queue)

    def snapshot(self) -> dict:
        posts = {kind: self.posts[kind] for kind in (HELLO, HEARTBEAT, NOTIFICATION)}
        return {"posts": posts, "events": self.events, "failures": self.failures, "dropped": self.dropped}


class Courier:
    """What every delivery shares: the HTTP client, the in-flight limit, the site's link
    state (paused: WEP has lost its webhook connections) and the total counters."""

    def __init__(self, site_id: str, verify_tls: bool, timeout: float = 5.0):
        self.site_id = site_id
        self.verify_tls = verify_tls
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.slots = asyncio.Semaphore(IN_FLIGHT)
        self.online = asyncio.Event()
        self.online.set()
        self.totals = DeliveryCounters()
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:  # made on first use, inside the running loop
            connector = aiohttp.TCPConnector(ssl=self.verify_tls)  # True: aiohttp's default verification
            self._session = aiohttp.ClientSession(connector=connector, timeout=self.timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class WebhookDelivery:
    def __init__(self, webhook: Webhook, courier: Courier, queue_size: int):
        self.webhook = webhook
        self.counters = DeliveryCounters()
        self.connected = False  # the last post succeeded
        self._courier = courier
        self._queue_size = queue_size
        self._pending: deque[dict] = deque()
        self._wake = asyncio.Event()
        self._need_hello = True
        self._failed = False  # between a failed post and the next successful HELLO
        self._last_success = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"webhook-{webhook.id}")

    # Called by the registry; never awaits the receiver ------------------------------
    def push(self, event: dict) -> None:
        if self._failed or not self._courier.online.is_set() or len(self._pending) >= self._queue_size:
            self._drop(1)
            return
        self._pending.append(event)
        self._wake.set()

    def reconnect(self) -> None:
        """Greet with HELLO before anything else (resume, or a new url)."""
        self._failed = False
        self._need_hello = True
        self._wake.set()

    def lose_pending(self) -> None:
        self._drop(len(self._pending))
        self._pending.clear()

    def reconfigured(self) -> None:
        self._wake.set()  # the heartbeat period may have changed

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.wait([self._task])

    # The task ---------------------------------------------------------------------
    async def _run(self) -> None:
        backoff = BACKOFF_FIRST
        while True:
            await self._courier.online.wait()
            if self._need_hello:
                ok = await self._post(HELLO)
                if ok:
                    self._need_hello = self._failed = False
            elif self._pending:
                batch = [self._pending.popleft() for _ in range(min(MAX_BATCH, len(self._pending)))]
                ok = await self._post(NOTIFICATION, batch)
            elif not await self._wait_for_work():
                ok = await self._post(HEARTBEAT) if self._courier.online.is_set() else True
            else:
                continue
            if ok:
                backoff = BACKOFF_FIRST
                continue
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    async def _wait_for_work(self) -> bool:
        """Wait for an event or a change; False when a heartbeat is due first."""
        self._wake.clear()
        period = self.webhook.heartbeat_ms
        timeout = None if period is None else max(0.0, self._last_success + period / 1000 - time.monotonic())
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _post(self, kind: str, events: list[dict] | None = None) -> bool:
        webhook = self.webhook  # read now: a new token or url applies to the next post
        now_ms = int(time.time() * 1000)
        body, headers = signed_post(webhook.url, webhook.authentication_token,
                                    message(self._courier.site_id, kind, iso_ms(now_ms), events))  # fmt: skip
        try:
            async with self._courier.slots, self._courier.session().post(webhook.url, data=body,
                                                                         headers=headers) as resp:  # fmt: skip
                await resp.read()
                ok = 200 <= resp.status < 300
                reason = f"HTTP {resp.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            ok, reason = False, type(exc).__name__
        if ok:
            self.connected = True
            self._last_success = time.monotonic()
            for counters in (self.counters, self._courier.totals):
                counters.posts[kind] += 1
                counters.events += len(events or ())
            return True
        log.info("webhook %s: %s to %s failed (%s); disconnected", webhook.id, kind, webhook.url, reason)
        self.connected = False
        self._failed = self._need_hello = True
        for counters in (self.counters, self._courier.totals):
            counters.failures += 1
        self._drop(len(events or ()))
        self.lose_pending()
        return False

    def _drop(self, count: int) -> None:
        self.counters.dropped += count
        self._courier.totals.dropped += count
