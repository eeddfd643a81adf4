"""Filling webhook gaps from WEP's Event Query API.

When WEP says HELLO ("a disconnected ACC server has reconnected ... some events may have
been missed"), when heartbeats come back after a silence, or when our own queue overflowed,
every server of the site is searched (TIME_RANGE, guide: "each server must be queried
individually") from shortly before the last post we received, following CONTINUE tokens.
The bus drops what already arrived, so each event is delivered exactly once.

One search runs at a time; requests during a run make one more run after it.
"""

from __future__ import annotations

import asyncio
import logging
import time

from gateway.backends.base import UpstreamFailure
from gateway.events.intake import EventIntake
from gateway.events.model import EventError, TopicFilter, from_wep, iso_at
from gateway.events.stats import WebhookStats
from gateway.wep.events_api import WepEventsApi

log = logging.getLogger("gateway.events")

# The search starts this long before the last post received: posts in flight, clock skew.
OVERLAP = 5.0
# Never further back than this: a gateway down for a week does not replay the week.
MAX_SPAN = 24 * 3600.0
PAGE_LIMIT = 1000  # the guide's default page size
MAX_PAGES = 100
RETRIES = (1.0, 5.0, 15.0)


class Backfill:
    def __init__(self, api: WepEventsApi, intake: EventIntake, topics: TopicFilter, stats: WebhookStats):
        self._api = api
        self._intake = intake
        self._topics = topics
        self._stats = stats
        self._since: float | None = None
        self._wanted = asyncio.Event()

    def request(self, since: float) -> None:
        """Search for events from `since` (wall clock: the last post before the gap) to now."""
        self._since = since if self._since is None else min(self._since, since)
        self._wanted.set()

    async def run(self) -> None:
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            since, self._since = self._since or time.time(), None
            await self._with_retries(max(since - OVERLAP, time.time() - MAX_SPAN))

    async def _with_retries(self, since: float) -> None:
        for attempt, delay in enumerate((*RETRIES, None)):
            try:
                found = await self.search(since, time.time())
            except UpstreamFailure as exc:
                if delay is None:
                    log.warning(
                        "event search failed %d times (%s): events missed since %s stay missing",
                        attempt + 1,
                        exc,
                        iso_at(since),
                    )
                    return
                log.info("event search failed (%s); again in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                continue
            self._stats.backfills += 1
            self._stats.backfilled += found
            log.info("event search since %s: %d missed events delivered", iso_at(since), found)
            return

    async def search(self, start: float, end: float) -> int:
        """Deliver what every server logged between `start` and `end`; how many were new."""
        first, last = iso_at(start), iso_at(end)
        found = 0
        for server_id in await self._api.server_ids():
            page = await self._api.search(server_id, first, last, topics=self._topics.search_topics(), limit=PAGE_LIMIT)
            for _ in range(MAX_PAGES):
                found += await self._deliver(page.events)
                if page.token is None:
                    break
                page = await self._api.search_more(page.token, PAGE_LIMIT)
            else:
                log.warning("event search of server %s stopped after %d pages", server_id, MAX_PAGES)
        return found

    async def _deliver(self, entries: list[dict]) -> int:
        found = 0
        for raw in entries:
            try:
                event = from_wep(raw)
            except EventError:
                self._intake.stats.malformed += 1
                continue
            if self._topics.allows(event.type) and await self._intake.accept(event):
                found += 1
        return found
