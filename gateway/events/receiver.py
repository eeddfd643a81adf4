"""`POST /wep/webhook`: WEP's notifications in.

The guide: "Queue incoming webhook notifications ... instead of processing them right away.
If notifications are processed right away, the client is likely to hang", and WEP keeps at
most 5 posts in flight for all its targets. So a post is verified (webhook_auth.py), put on
a bounded queue and answered at once; a worker processes the queue. A full queue never makes
WEP wait: the post is counted, logged, and the gap it leaves is filled from /events/search.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from gateway.api.bodies import read_bounded
from gateway.api.errors import ApiError, bad_request
from gateway.events import webhook_auth
from gateway.events.intake import EventIntake
from gateway.events.model import EventError, TopicFilter, from_wep
from gateway.events.stats import WebhookStats

log = logging.getLogger("gateway.events")

MAX_NOTIFICATION_BYTES = 1024 * 1024
# A replaced token stays valid this long: posts signed with it may still be in flight.
TOKEN_GRACE = 60.0
MESSAGE_TYPES = ("HELLO", "HEARTBEAT", "NOTIFICATION")
# One line per this many seconds for repeated refusals and overflows (a forger must not flood the log).
LOG_EVERY = 10.0


class WebhookReceiver:
    def __init__(
        self, intake: EventIntake, topics: TopicFilter, *, https: bool, queue_size: int, on_gap: Callable[[float], None]
    ):
        self.stats = WebhookStats()
        self.https = https
        # Wall-clock time of the last verified post: the heartbeat watchdog and backfills read it.
        self.last_message: float | None = None
        self._intake = intake
        self._topics = topics
        # HELLO or an overflow: events since the given time may be missing, search for them.
        self._on_gap = on_gap
        self._started = time.time()
        # Each verified post with the time of the post before it (where a gap it reveals began).
        self._queue: asyncio.Queue[tuple[dict[str, Any], float]] = asyncio.Queue(queue_size)
        self._tokens: list[tuple[str, float]] = []  # (token, valid until); the current one: inf
        self._listeners: list[Callable[[], None]] = []
        self._last_logged: dict[str, float] = {}
        self._unknown_types: set[str] = set()

    def set_token(self, token: str) -> None:
        """The token of a new registration; the previous one is accepted for a grace period."""
        now = time.monotonic()
        kept = [(old, min(until, now + TOKEN_GRACE)) for old, until in self._tokens if until > now and old != token]
        self._tokens = [(token, float("inf")), *kept[:1]]

    def add_message_listener(self, listener: Callable[[], None]) -> None:
        """Told of every verified post (the registration's heartbeat watchdog)."""
        self._listeners.append(listener)

    def _valid_tokens(self) -> list[str]:
        now = time.monotonic()
        return [token for token, until in self._tokens if until > now]

    # -- the route --------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        try:
            raw = await read_bounded(request, MAX_NOTIFICATION_BYTES, "notification")
        except ApiError:
            self.stats.bad_requests += 1
            raise
        try:
            payload = webhook_auth.verify(raw, request.headers.get("Authorization"), self._valid_tokens(), self.https)
        except webhook_auth.Unverified as exc:
            self.stats.rejected[str(exc)] += 1
            self._log_limited(
                "rejected",
                "webhook post from %s refused: %s (%d refused so far)",
                request.remote,
                exc,
                sum(self.stats.rejected.values()),
            )
            raise ApiError(401, "unauthorized", "notification not verified") from None
        except webhook_auth.BadNotification as exc:
            self.stats.bad_requests += 1
            log.warning("webhook post from WEP unreadable: %s", exc)
            raise bad_request(f"notification unreadable: {exc}") from None
        previous, self.last_message = self.last_message or self._started, time.time()
        for listener in self._listeners:
            listener()
        try:
            self._queue.put_nowait((payload, previous))
        except asyncio.QueueFull:
            self.stats.overflow += 1
            self._log_limited(
                "overflow",
                "webhook queue full (%d): notification dropped, the gap will be searched (%d dropped so far)",
                self._queue.maxsize,
                self.stats.overflow,
            )
            self._on_gap(previous)
        return web.json_response({"status": "ok"})

    # -- the worker -------------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            payload, previous = await self._queue.get()
            kind = payload.get("type")
            if kind not in MESSAGE_TYPES:
                self._unknown_type(kind)
                continue
            self.stats.posts[kind] += 1
            if kind == "HELLO":
                log.info("WEP says HELLO (connected anew: events may have been missed); searching for them")
                self._on_gap(previous)
            elif kind == "NOTIFICATION":
                await self._notification(payload.get("notification"))

    async def _notification(self, entries: Any) -> None:
        if not isinstance(entries, list):
            self._intake.stats.malformed += 1
            self._log_limited("malformed", "NOTIFICATION without a notification list: ignored")
            return
        for raw in entries:
            try:
                event = from_wep(raw)
            except EventError as exc:
                self._intake.stats.malformed += 1
                self._log_limited("malformed", "WEP event unreadable: %s", exc)
                continue
            if self._topics.allows(event.type):
                await self._intake.accept(event)

    def _unknown_type(self, kind: object) -> None:
        name = str(kind)[:40]
        self.stats.posts["unknown"] += 1
        if name not in self._unknown_types and len(self._unknown_types) < 64:
            self._unknown_types.add(name)
            log.warning("webhook message of unknown type %r ignored (logged once per type)", name)

    def _log_limited(self, key: str, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last_logged.get(key, -LOG_EVERY) >= LOG_EVERY:
            self._last_logged[key] = now
            log.warning(message, *args)
