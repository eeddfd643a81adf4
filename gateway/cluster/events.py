"""Events one node alone hears reach every node's event stream.

Each node hears the camera systems' events itself: its own WEP webhook, its own Amcrest
event streams (HEARD_BY_EVERY_NODE). What happens on one node only does not: an Alta
alarm (Alta's webhook reaches whichever node the edge picked), an operator acknowledging
an alarm there, a rule firing. Those are announced on the cluster channel and published
on every other node's bus under their own id, so an operator sees the same stream
wherever the edge sent the SSE connection, and every node's alarm lists go stale when
an alarm changes (AlarmBook.on_event).

The bus already drops an id it has seen, so a copy that comes back is harmless. Events
are live news: while Redis is away they are not queued (the outage is logged once and
counted); the origin node still has them, and `/api/v1/events` there lists them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter
from contextlib import suppress

from gateway.cluster.leases import ClusterUnavailable
from gateway.cluster.node import ClusterNode
from gateway.events.bus import EventBus
from gateway.events.model import Event

log = logging.getLogger("gateway.cluster")

KIND = "event"
HEARD_BY_EVERY_NODE = frozenset({"wep", "amcrest"})
WEBHOOKS = "wepgw:webhooks"  # WEP webhook URL -> the node that registered it
QUEUE_SIZE = 1000  # events waiting for the channel; past it the oldest are dropped (counted)


class NodeWebhooks:
    """Each node's WEP webhook URL, as WEP's registration sees it in a cluster.

    A URL is one node's (its lease, renewed with the node's others), and is written down
    with its node in `wepgw:webhooks`, so when a node dies without deleting its webhook (a
    crash, a pod's new address) the next registration anywhere deletes it from WEP rather
    than leave WEP posting to nobody."""

    def __init__(self, node: ClusterNode):
        self._node = node

    async def claim(self, url: str) -> str | None:
        """None when this node may register WEP's webhook at `url`, else why not. Redis
        unable to tell: None (a node's own URL, the usual case, must not wait for Redis)."""
        name = "webhook:" + hashlib.sha256(url.encode()).hexdigest()[:16]
        node = self._node
        try:
            if await node.leases.acquire(name, retake=True) is not None:
                await node.ask(node.redis.hset(WEBHOOKS, url, node.node_id))
                return None
            holder = await node.leases.holder(name)
        except ClusterUnavailable:
            return None
        return (
            f"[events] public_url gives WEP the webhook URL {url}, which node {holder} registered already:"
            " in a cluster each node needs its own (the address WEP reaches that node at)"
        )

    async def stale(self, urls: list[str]) -> list[str]:
        """Those of `urls` (WEP's other webhooks) that a cluster node registered and that
        node is gone."""
        node = self._node
        try:
            found = await node.ask(node.redis.hgetall(WEBHOOKS))
            live = {member.node_id for member in await node.members()}
        except ClusterUnavailable:
            return []  # tidied at a later registration
        owners = {_text(url): _text(owner) for url, owner in found.items()}
        return [url for url in urls if url in owners and owners[url] not in live]

    async def forget(self, urls: list[str]) -> None:
        """Deleted from WEP: no longer anybody's."""
        with suppress(ClusterUnavailable):
            await self._node.ask(self._node.redis.hdel(WEBHOOKS, *urls))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def encode(event: Event) -> dict:
    return {**event.public(), "at": event.at, "notify": sorted(event.notify)}


def decode(data: object) -> Event | None:
    """The event a peer announced; None when it is not one (another version's message)."""
    if not isinstance(data, dict):
        return None
    try:
        fields = {name: data[name] for name in ("id", "type", "state", "time", "source")}
        camera, at = data["camera"], float(data["at"])
        payload, links, notify = data.get("data", {}), data.get("links", {}), data.get("notify", [])
    except (KeyError, TypeError, ValueError):
        return None
    texts = all(isinstance(value, str) for value in fields.values())
    if not texts or not (camera is None or isinstance(camera, str)) or not isinstance(payload, dict):
        return None
    if not isinstance(links, dict) or not isinstance(notify, list):
        return None
    return Event(
        fields["id"],
        camera,
        fields["type"],
        fields["state"],
        fields["time"],
        fields["source"],
        payload,
        links,
        at,
        frozenset(str(subject) for subject in notify),
    )


class EventRelay:
    def __init__(self, node: ClusterNode, bus: EventBus):
        self._node = node
        self._bus = bus
        self._queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_SIZE)
        self._from_peer: str | None = None  # the id being published from a peer (not sent back)
        self._waiting_for_redis = False
        self.stats: Counter[str] = Counter()  # sent, received, dropped, unreadable
        self._task: asyncio.Task | None = None
        bus.add_listener(self._published)
        node.on_message(KIND, self._received)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._send(), name="cluster event relay")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    # -- out ----------------------------------------------------------------------------------
    def _published(self, event: Event) -> None:
        """A bus listener: an event of this node's own goes to the others."""
        if event.source in HEARD_BY_EVERY_NODE or event.id == self._from_peer:
            return
        if self._queue.full():
            self._queue.get_nowait()
            self.stats["dropped"] += 1
        self._queue.put_nowait(event)

    async def _send(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self._node.publish(KIND, event=encode(event))
                self.stats["sent"] += 1
                if self._waiting_for_redis:
                    log.info("cluster: events reach the other nodes again")
                    self._waiting_for_redis = False
            except ClusterUnavailable as exc:
                self.stats["dropped"] += 1
                if not self._waiting_for_redis:  # once per outage
                    log.warning("cluster: events stay on this node while Redis is away (%s)", exc)
                    self._waiting_for_redis = True

    # -- in -----------------------------------------------------------------------------------
    def _received(self, message: dict) -> None:
        if message.get("from") == self._node.node_id:
            return  # the channel brings our own announcements back
        event = decode(message.get("event"))
        if event is None:
            self.stats["unreadable"] += 1
            log.warning("cluster: ignored an event message from %s that is not an event", message.get("from"))
            return
        self.stats["received"] += 1
        self._from_peer = event.id
        try:
            self._bus.publish(event)
        finally:
            self._from_peer = None
