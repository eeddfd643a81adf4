"""The event layer's parts, built from config and started after the core services: the bus,
the intake, WEP's webhook (when `[events] public_url` is set and WEP is configured), the
backends' own event streams, and the alarm book."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from aiohttp import web

from gateway.backends.alta.alarms import AltaAlarms
from gateway.backends.alta.client import AltaClient
from gateway.backends.base import Backend
from gateway.cluster.events import EventRelay, NodeWebhooks
from gateway.events.alarms import AlarmBook, AlarmSource, WepAlarms
from gateway.events.audit import AlarmAudit
from gateway.events.backfill import Backfill
from gateway.events.bus import EventBus
from gateway.events.intake import EventIntake
from gateway.events.model import EventError, TopicFilter, from_camera_event
from gateway.events.receiver import WebhookReceiver
from gateway.events.registration import WebhookRegistration
from gateway.logs import redactor
from gateway.services import CAMERAS, CLUSTER, CONFIG, WEP
from gateway.wep.events_api import WepEventsApi

log = logging.getLogger("gateway.events")

FEED_RETRY = 5.0


@dataclass
class EventLayer:
    bus: EventBus
    intake: EventIntake
    alarms: AlarmBook
    api: WepEventsApi | None  # WEP's event routes, when WEP is configured
    receiver: WebhookReceiver | None = None  # when the webhook is on
    registration: WebhookRegistration | None = None
    backfill: Backfill | None = None
    alta: AltaAlarms | None = None  # Avigilon Alta's alarms, when [alta] url is set
    relay: EventRelay | None = None  # in a cluster: what one node alone hears, to the others

    def readiness(self) -> str | None:
        """None when events flow as configured, else why they may not (for /readyz)."""
        if self.registration is None or self.registration.healthy:
            return None
        return self.registration.degraded_reason


EVENTS = web.AppKey("events", EventLayer)


def build(app: web.Application) -> EventLayer:
    config = app[CONFIG]
    events = config.events
    bus = EventBus(events.ring_size, events.subscriber_queue)
    intake = EventIntake(bus, app[CAMERAS], events.clip_pre_s)
    client = app.get(WEP)
    api = WepEventsApi(client) if client is not None else None
    sources: list[AlarmSource] = [WepAlarms(api)] if api is not None else []
    alta = None
    if config.alta.url:
        for secret in (config.alta.password, config.alta.webhook_secret):
            redactor.add(secret)
        alta = AltaAlarms(AltaClient(config.alta, on_secret=redactor.add), intake)
        sources.append(alta)
    audit = AlarmAudit(config.pushes.db_path, events.audit_days * 86400)
    alarms = AlarmBook(sources, intake, audit, app[CAMERAS], events.clip_pre_s)
    bus.add_listener(alarms.on_event)
    layer = EventLayer(bus, intake, alarms, api, alta=alta)
    if api is not None and events.public_url:
        topics = TopicFilter(events.topics_whitelist, events.topics_blacklist)
        receiver = WebhookReceiver(
            intake,
            topics,
            https=events.public_url.startswith("https://"),
            queue_size=events.queue_size,
            on_gap=lambda since: backfill.request(since),  # noqa: PLW0108  backfill is built below, after the receiver
        )
        backfill = Backfill(api, intake, topics, receiver.stats)
        registration = WebhookRegistration(
            api,
            receiver,
            topics,
            events.public_url,
            events.heartbeat_ms,
            receiver.stats,
            on_recovered=backfill.request,
            cluster=NodeWebhooks(app[CLUSTER]) if CLUSTER in app else None,
        )
        layer.receiver, layer.backfill, layer.registration = receiver, backfill, registration
    elif api is not None:
        log.info("[events] public_url is empty: no WEP webhook, so WEP events arrive only through searches")
    return layer


async def event_services(app: web.Application) -> AsyncIterator[None]:
    layer = app[EVENTS] = build(app)
    loop = asyncio.get_running_loop()
    tasks = [
        loop.create_task(
            _supervised(partial(_feed, backend, layer.intake), f"events of {backend.name}"),
            name=f"events of {backend.name}",
        )
        for backend in app[CAMERAS].backends
    ]
    if layer.registration is not None:
        assert layer.receiver is not None and layer.backfill is not None  # build() sets the three together
        tasks += [
            loop.create_task(_supervised(run, name), name=name)
            for run, name in (
                (layer.receiver.run, "webhook worker"),
                (layer.backfill.run, "event backfill"),
                (layer.registration.run, "webhook registration"),
            )
        ]
    if layer.alta is not None:
        tasks.append(loop.create_task(_supervised(layer.alta.run, "Alta webhook worker"), name="alta worker"))
    if CLUSTER in app:
        layer.relay = EventRelay(app[CLUSTER], layer.bus)
        layer.relay.start()
    try:
        yield
    finally:
        if layer.relay is not None:
            await layer.relay.close()
        layer.bus.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if layer.registration is not None:
            await layer.registration.unregister()
        if layer.alta is not None:
            await layer.alta.close()
        layer.alarms.close()


async def close_streams(app: web.Application) -> None:
    """on_shutdown: end the SSE streams now rather than after the shutdown timeout."""
    layer = app.get(EVENTS)
    if layer is not None:
        layer.bus.close()


async def _supervised(run: Callable[[], Awaitable[None]], name: str) -> None:
    """Keep a background loop running: a fault in it (a bug, an input nobody foresaw) is
    logged with its traceback and the loop started again, so events never stop silently."""
    while True:
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed; started again in %.0f s", name, FEED_RETRY)
            await asyncio.sleep(FEED_RETRY)


async def _feed(backend: Backend, intake: EventIntake) -> None:
    """One backend's own event stream into the bus (WEP's ends at once: its events come by
    webhook). The backend reconnects its cameras itself; a failure of the whole stream is
    the supervisor's to log and restart."""
    async for camera_event in backend.events():
        try:
            event = from_camera_event(camera_event)
        except EventError as exc:
            intake.stats.malformed += 1
            log.warning("%s event unreadable: %s", backend.name, exc, extra={"camera": camera_event.camera})
            continue
        await intake.accept(event)
