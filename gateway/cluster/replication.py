"""What every node must know at once: revoked viewer tokens and guest links.

Each change is written to Redis (so a node that starts, or comes back after Redis was
away, loads it all) and announced on the cluster channel (so the others apply it within
milliseconds). Changes made while Redis is away wait in a queue and go out when it
answers again: a revocation is never lost, only late.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError

from gateway.auth.revocations import Revocations
from gateway.cluster.leases import ClusterUnavailable
from gateway.cluster.node import ClusterNode
from gateway.links.book import LinkBook
from gateway.links.store import LinkRecord

log = logging.getLogger("gateway.cluster")

REVOKED = "wepgw:revoked:"  # + jti -> until (Unix seconds), expiring then
LINKS = "wepgw:links"  # hash -> the link's record as JSON (no id: only its SHA-256)
RETRY_S = 1.0
RETENTION_S = 7 * 86400  # a link's record is kept this long after it ended (its history)


class Outbox:
    """Announcements waiting for Redis, sent in order, retried until they go."""

    def __init__(self, node: ClusterNode):
        self._node = node
        self._queue: list[Callable[[], Awaitable[None]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    def send(self, step: Callable[[], Awaitable[None]]) -> None:
        self._queue.append(step)
        self._wake.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="cluster outbox")

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            waiting = False
            while self._queue:
                try:
                    await self._queue[0]()
                except (RedisError, OSError, ClusterUnavailable) as exc:
                    if not waiting:  # once per outage, not once a retry
                        log.warning("cluster: announcements wait for Redis (%s)", exc.__class__.__name__)
                        waiting = True
                    await asyncio.sleep(RETRY_S)
                    continue
                self._queue.pop(0)
            if waiting:
                log.info("cluster: the announcements that waited for Redis went out")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def share_revocations(node: ClusterNode, revocations: Revocations, outbox: Outbox) -> None:
    def revoked_here(jti: str, until: int) -> None:
        async def step() -> None:
            await node.redis.set(REVOKED + jti, until, exat=max(int(until), 1))
            await node.publish("token_revoked", jti=jti, until=until)

        outbox.send(step)

    def revoked_elsewhere(message: dict) -> None:
        jti, until = message.get("jti"), message.get("until")
        if message.get("from") != node.node_id and isinstance(jti, str) and isinstance(until, int):
            revocations.apply(jti, until)

    async def load() -> None:
        try:
            keys = [key async for key in node.redis.scan_iter(match=REVOKED + "*", count=500)]
            values = await node.redis.mget(keys) if keys else []
        except (RedisError, OSError) as exc:
            log.warning("cluster: revoked tokens not loaded (%s): retried when Redis answers", exc.__class__.__name__)
            return
        for key, value in zip(keys, values, strict=True):
            if value is not None:
                jti = (key.decode() if isinstance(key, bytes) else key)[len(REVOKED) :]
                revocations.apply(jti, int(value))

    revocations.add_listener(revoked_here)
    node.on_message("token_revoked", revoked_elsewhere)
    node.on_connect(lambda: node.spawn(load(), "load revoked tokens"))


def share_links(node: ClusterNode, links: LinkBook, outbox: Outbox) -> None:
    def encode(record: LinkRecord) -> str:
        return json.dumps(dataclasses.asdict(record), separators=(",", ":"))

    def changed_here(record: LinkRecord) -> None:
        raw = encode(record)

        async def step() -> None:
            await node.redis.hset(LINKS, record.hash, raw)
            await node.publish("link_changed", record=raw)

        outbox.send(step)

    async def apply(raw: str | bytes) -> None:
        try:
            record = LinkRecord(**json.loads(raw))
        except (ValueError, TypeError):
            log.warning("cluster: ignored a guest link record that does not parse")
            return
        await links.apply(record)

    def changed_elsewhere(message: dict) -> None:
        if message.get("from") != node.node_id and isinstance(message.get("record"), str):
            node.spawn(apply(message["record"]), "guest link from a peer")

    async def load() -> None:
        try:
            records = await node.redis.hgetall(LINKS)
        except (RedisError, OSError) as exc:
            log.warning("cluster: guest links not loaded (%s): retried when Redis answers", exc.__class__.__name__)
            return
        stale = time.time() - RETENTION_S
        for key, raw in records.items():
            try:
                ended = json.loads(raw)
                ended = ended["revoked_at"] or ended["expires_at"]
            except (ValueError, KeyError, TypeError):
                ended = 0
            if ended < stale:
                await node.redis.hdel(LINKS, key)  # long over: no node needs it any more
                continue
            await apply(raw)

    links.on_created.append(changed_here)
    links.on_revoked.append(changed_here)
    node.on_message("link_changed", changed_elsewhere)
    node.on_connect(lambda: node.spawn(load(), "load guest links"))


def start(node: ClusterNode, revocations: Revocations, links: LinkBook | None) -> Outbox:
    """Share this node's revocations and guest links with the cluster; close the returned
    outbox on shutdown."""
    outbox = Outbox(node)
    share_revocations(node, revocations, outbox)
    if links is not None:
        share_links(node, links, outbox)
    return outbox
