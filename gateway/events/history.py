"""Events older than the ring, from WEP's Event Query API (TIME_RANGE per server, CONTINUE
pages), for `GET /api/v1/events`. Pages come oldest first; the newest `limit` are kept."""

from __future__ import annotations

from collections import deque

from gateway.events.intake import EventIntake
from gateway.events.model import Event, EventError, from_wep, iso_at
from gateway.events.query import EventQuery, newest
from gateway.wep.events_api import WepEventsApi

PAGE_LIMIT = 1000
MAX_PAGES = 20  # per server and query: a bound on what one API call may cost WEP


async def past_events(
    api: WepEventsApi, intake: EventIntake, query: EventQuery, start: float, end: float, device_ids: list[str]
) -> list[Event]:
    first, last = iso_at(start), iso_at(end)
    found: list[Event] = []
    for server_id in await api.server_ids():
        kept: deque[Event] = deque(maxlen=query.limit)
        page = await api.search(
            server_id, first, last, topics=sorted(query.types), device_ids=device_ids, limit=PAGE_LIMIT
        )
        for _ in range(MAX_PAGES):
            for raw in page.events:
                try:
                    event = from_wep(raw)
                except EventError:
                    continue
                if query.matches(event) and (linked := await intake.linked(event)) is not None:
                    kept.append(linked)
            if page.token is None:
                break
            page = await api.search_more(page.token, PAGE_LIMIT)
        found.extend(kept)
    return newest(found, query.limit)
