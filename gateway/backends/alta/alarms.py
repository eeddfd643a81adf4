"""Alta's alarms in the gateway's alarm book and event stream (reference/alta-alarms.txt).

- **In.** Alta's alarm action calls our webhook with the zone (and device); the route puts
  the ids on a bounded queue and answers at once. A worker then follows the guide's flow:
  `GET /api/v1/ongoingAlerts`, the alert whose `alarm_zone_id` matches (tried again
  briefly: the alert may lag the webhook), its `guid`, `merged` and `origin_name`; then
  `GET /api/v1/alerts/<guid>/bookmarks` and each bookmark's shared link
  (`<url>/cloud?t=<guest_token>`). The alarm goes on the bus as `ALARM_TRIGGERED` from
  source `alta`; a detection Alta merged into an ongoing alert is the same alarm again.
- **Listed.** `alarms()` is `ongoingAlerts`, each with the links found for it.
- **Actions.** `verify` posts `acknowledgment_code` (101 none, 201 valid, 202 false) with
  `guid`, `merged` and `origin_name` to `/api/v1/alerts/<guid>`; `end` posts
  `/api/v1/alerts/<guid>/end`. The alarm book audits and announces both.
What cannot be read (payloads, answers) is counted and logged in one line, never raised
into the webhook's answer: the next webhook or listing tries again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, OrderedDict
from typing import ClassVar
from urllib.parse import quote

from gateway.backends.alta.client import AltaClient, AltaRefused
from gateway.backends.alta.readers import (
    AltaAlert,
    AltaShapeError,
    read_alerts,
    read_bookmarks,
    read_zones,
    shared_link,
)
from gateway.backends.base import UpstreamFailure
from gateway.events.alarms import Alarm
from gateway.events.intake import EventIntake
from gateway.events.model import Event, iso_at

log = logging.getLogger("gateway.alta")

SOURCE = "alta"
VERIFY_CODES = {"none": 101, "valid": 201, "false": 202}
VERIFIED = {code: result for result, code in VERIFY_CODES.items()}
QUEUE_SIZE = 1000
# The alert may show up in ongoingAlerts a moment after the webhook: tried this often, with
# these waits between (seconds).
LOOKUP_WAITS = (0.3, 0.6, 1.2, 2.4, 4.8)
LINKS_KEPT = 1000  # alerts whose shared links are remembered for the listing


class AltaAlarms:
    name = SOURCE
    actions = ("verify", "end")
    options: ClassVar[dict[str, tuple[str, ...]]] = {"verify": tuple(VERIFY_CODES)}  # each action's `result`

    def __init__(self, client: AltaClient, intake: EventIntake, lookup_waits: tuple[float, ...] = LOOKUP_WAITS):
        self._client = client
        self._intake = intake
        self._waits = lookup_waits
        self._queue: asyncio.Queue[tuple[str, str | None]] = asyncio.Queue(QUEUE_SIZE)
        self._links: OrderedDict[str, list[str]] = OrderedDict()
        self._devices: dict[str, str] = {}  # guid -> the device the webhook named
        self.stats: Counter[str] = Counter()  # webhooks, overflow, alarms, merged, no_alert, unreadable...

    # -- in ------------------------------------------------------------------------------------

    def take(self, zone: str, device: str | None) -> bool:
        """A verified webhook's ids, queued; False (counted) when the queue is full."""
        self.stats["webhooks"] += 1
        try:
            self._queue.put_nowait((zone, device))
        except asyncio.QueueFull:
            self.stats["overflow"] += 1
            log.warning("Alta webhook for zone %s dropped: %d waiting already", zone, QUEUE_SIZE)
            return False
        return True

    async def run(self) -> None:
        """The worker: one webhook at a time, in the order they came."""
        while True:
            zone, device = await self._queue.get()
            try:
                await self._process(zone, device)
            except UpstreamFailure as exc:
                self.stats["lookup_failed"] += 1
                log.warning(
                    "Alta alarm of zone %s not looked up: %s (the next webhook or listing tries again)", zone, exc
                )

    async def _process(self, zone: str, device: str | None) -> None:
        alert = await self._find(zone)
        if alert is None:
            return
        links = await self._shared_links(alert)
        if device:
            self._devices[alert.guid] = device
        alarm_id = f"{SOURCE}:{alert.guid}"
        now = time.time()
        self.stats["merged" if alert.merged else "alarms"] += 1
        data = {
            "alarm": alarm_id,
            "alarm_source": SOURCE,
            "name": alert.zone_name or f"zone {zone}",
            "zone": zone,
            "device": device or alert.origin_name,
            "origin_name": alert.origin_name,
            "merged": alert.merged,
            "shared_links": links,
        }
        # One event per detection: a repeat of the same webhook (the same alert state) is one.
        event = Event(
            f"{SOURCE}:{alert.guid}:{alert.time or int(now * 1000)}",
            None,
            "ALARM_TRIGGERED",
            "start",
            iso_at(now),
            SOURCE,
            data,
            {"snapshot": None, "recording": None, "shared": links},
            now,
        )
        await self._intake.accept(event)
        log.info(
            "Alta alarm %s in zone %s%s, %d shared link(s)",
            alert.guid,
            alert.zone_name or zone,
            " (merged into the ongoing alert)" if alert.merged else "",
            len(links),
        )

    async def _find(self, zone: str) -> AltaAlert | None:
        """The zone's ongoing alert; tried again while it is not there yet or Alta fails."""
        failure: UpstreamFailure | None = None
        answered = False
        for attempt, wait in enumerate((0.0, *self._waits)):
            if wait:
                await asyncio.sleep(wait)
            try:
                alerts = await self._ongoing()
            except UpstreamFailure as exc:
                if failure is None:
                    log.info("Alta lookup for zone %s: %s; trying again", zone, exc)
                failure = exc
                continue
            answered = True
            found = next((alert for alert in alerts if alert.zone_id == zone), None)
            if found is not None:
                if attempt:
                    self.stats["found_late"] += 1
                return found
        if not answered and failure is not None:
            raise failure
        self.stats["no_alert"] += 1
        if zone not in {z["id"] for z in await self.zones()}:
            self.stats["unknown_zone"] += 1
            log.warning("Alta webhook names zone %r, which Alta does not list: nothing to show", zone)
        else:
            log.warning("Alta webhook for zone %s: no ongoing alert there after %.0f s", zone, sum(self._waits))
        return None

    async def _ongoing(self) -> list[AltaAlert]:
        try:
            alerts, unreadable = read_alerts(await self._client.call("GET", "/api/v1/ongoingAlerts"))
        except AltaShapeError as exc:
            self.stats["unreadable"] += 1
            raise AltaShape(str(exc)) from None
        if unreadable:
            self.stats["unreadable"] += unreadable
            log.warning("%d Alta ongoing alert(s) without guid or alarm_zone_id left out", unreadable)
        return alerts

    async def _shared_links(self, alert: AltaAlert) -> list[str]:
        try:
            bookmarks = read_bookmarks(
                await self._client.call("GET", f"/api/v1/alerts/{quote(alert.guid, safe='')}/bookmarks")
            )
        except (UpstreamFailure, AltaShapeError) as exc:
            self.stats["no_links"] += 1
            log.warning("Alta alert %s: its bookmarks cannot be read (%s): listed without video links", alert.guid, exc)
            return self._links.get(alert.guid, [])
        links = [shared_link(self._client.base_url, bookmark.guest_token) for bookmark in bookmarks]
        self._links[alert.guid] = links
        self._links.move_to_end(alert.guid)
        while len(self._links) > LINKS_KEPT:
            self._links.popitem(last=False)
        return links

    # -- the alarm book's source ----------------------------------------------------------------

    async def alarms(self) -> list[Alarm]:
        return [self._alarm(alert) for alert in await self._ongoing()]

    def _alarm(self, alert: AltaAlert) -> Alarm:
        verified = VERIFIED.get(alert.acknowledgment_code) if alert.acknowledgment_code is not None else None
        state = "active" if verified in (None, "none") else f"verified {verified}"
        return Alarm(
            f"{SOURCE}:{alert.guid}",
            SOURCE,
            alert.zone_name or f"zone {alert.zone_id}",
            state,
            (),
            alert.time,
            {"snapshot": None, "recording": None, "shared": self._links.get(alert.guid, [])},
            {
                "zone": alert.zone_id,
                "device": self._devices.get(alert.guid) or alert.origin_name,
                "origin_name": alert.origin_name,
                "merged": alert.merged,
                "verified": verified,
            },
        )

    async def act(self, upstream_id: str, action: str, note: str | None, option: str | None = None) -> None:
        guid = quote(upstream_id, safe="")
        if action == "end":
            await self._client.call("POST", f"/api/v1/alerts/{guid}/end")
            return
        alert = next((alert for alert in await self._ongoing() if alert.guid == upstream_id), None)
        if alert is None:
            raise AltaRefused(f"alert {upstream_id} is no longer ongoing", 409)
        await self._client.call(
            "POST",
            f"/api/v1/alerts/{guid}",
            {
                "acknowledgment_code": VERIFY_CODES[option or "none"],
                "guid": alert.guid,
                "merged": alert.raw_merged if alert.raw_merged is not None else alert.merged,
                "origin_name": alert.origin_name,
            },
        )

    @property
    def client_stats(self) -> Counter[str]:
        return self._client.stats

    async def close(self) -> None:
        await self._client.close()

    async def zones(self) -> list[dict]:
        try:
            return [zone.public() for zone in read_zones(await self._client.call("GET", "/api/v1/alarmZones"))]
        except AltaShapeError as exc:
            raise AltaShape(str(exc)) from None

    async def arm(self, zone_id: str, armed: bool) -> None:
        await self._client.call("POST", f"/api/v1/alarmZones/{quote(zone_id, safe='')}/{'arm' if armed else 'disarm'}")


class AltaShape(UpstreamFailure):
    """Alta answered something the flow cannot read."""

    def __init__(self, message: str):
        super().__init__("unreadable", f"Alta's answer cannot be read: {message}")
