"""The push registry shared by the cluster's nodes.

The set of pushes lives in Redis (hash `wepgw:pushes`: id -> the spec as JSON), written
before the API answers, as the single node's SQLite file is. Each push runs on the node
holding its lease `push:<id>`: the node that created it first, and when that node dies
(its lease lapses) whichever node claims it next, restarting it from the spec (a WEP-mode
push's stream id and session are in the spec, so the new owner stops the old stream
first, as after a restart). A node that cannot renew a push's lease stops the push when
the lease would have expired: never two publishers of one stream.

Each owner publishes its pushes' views (hash `wepgw:pushviews`), so any node answers
GET /api/v1/pushes for the whole cluster; a DELETE on any node removes the spec and tells
the owner on the cluster channel.

The specs hold stream keys and WEP sessions: Redis is the cluster's trusted store
(README "Scaling past one box": give it a password and a private network).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

from gateway.cluster.leases import ClusterUnavailable, Lease
from gateway.cluster.node import ClusterNode
from gateway.rtmp.store import PushSpec, PushStoreError

log = logging.getLogger("gateway.cluster")

SPECS = "wepgw:pushes"
VIEWS = "wepgw:pushviews"
CLAIM_EVERY_S = 1.0


def lease_name(push_id: str) -> str:
    return f"push:{push_id}"


def _encode(spec: PushSpec) -> str:
    return json.dumps(dataclasses.asdict(spec), separators=(",", ":"))


def _decode(raw: bytes | str) -> PushSpec | None:
    try:
        return PushSpec(**json.loads(raw))
    except (ValueError, TypeError):
        return None


class ClusterPushBook:
    """The specs in Redis, with the PushBook interface of gateway/rtmp/store.py."""

    path = "redis"

    def __init__(self, node: ClusterNode):
        self._node = node
        self._redis = node.redis

    async def _call(self, what: str, call):
        try:
            return await call
        except (RedisError, OSError) as exc:
            raise PushStoreError(f"cluster push store: could not {what} ({exc.__class__.__name__})") from None

    async def add(self, spec: PushSpec) -> None:
        await self._call("save the push", self._redis.hset(SPECS, spec.id, _encode(spec)))

    async def remove(self, push_id: str) -> None:
        await self._call("remove the push", self._redis.hdel(SPECS, push_id))
        await self._call("remove the push", self._redis.hdel(VIEWS, push_id))

    async def get(self, push_id: str) -> PushSpec | None:
        raw = await self._call("read the push", self._redis.hget(SPECS, push_id))
        return _decode(raw) if raw is not None else None

    async def set_wep_stream(self, push_id: str, stream_id: str | None, session: str | None) -> None:
        spec = await self.get(push_id)
        if spec is not None:
            await self.add(dataclasses.replace(spec, wep_stream_id=stream_id, wep_session=session))

    async def all(self) -> list[PushSpec]:
        raw = await self._call("list the pushes", self._redis.hgetall(SPECS))
        specs = [spec for value in raw.values() if (spec := _decode(value)) is not None]
        return sorted(specs, key=lambda spec: (spec.created_at, spec.id))

    async def views(self) -> dict[str, dict]:
        raw = await self._call("list the pushes", self._redis.hgetall(VIEWS))
        views = {}
        for key, value in raw.items():
            try:
                views[key.decode() if isinstance(key, bytes) else key] = json.loads(value)
            except ValueError:
                continue
        return views

    async def publish_views(self, views: dict[str, dict]) -> None:
        if views:
            mapping: dict[FieldT, EncodableT] = {
                push_id: json.dumps(view, separators=(",", ":")) for push_id, view in views.items()
            }
            await self._call("publish the pushes' states", self._redis.hset(VIEWS, mapping=mapping))

    def close(self) -> None:
        return None


class PushPlacement:
    """Which node runs which push: leases, the claim loop's rounds, deletions told to the
    owner. The registry (gateway/rtmp/registry.py) asks; this module talks to Redis."""

    def __init__(self, node: ClusterNode):
        self._node = node
        self.node_id = node.node_id
        self._on_deleted: list[Callable[[str], None]] = []
        node.on_message("push_deleted", self._deleted)

    async def claim(self, push_id: str, on_lapse: Callable[[], None]) -> Lease | None:
        """The push's lease for this node, or None when another node runs it (or Redis is away)."""
        try:
            lease = await self._node.leases.acquire(lease_name(push_id))
        except ClusterUnavailable:
            return None
        if lease is not None:
            lease.on_lapse = on_lapse
        return lease

    def release(self, lease: Lease) -> None:
        self._node.leases.release(lease)

    async def deleted(self, push_id: str) -> None:
        try:
            await self._node.publish("push_deleted", id=push_id)
        except ClusterUnavailable:
            pass  # the owner finds the spec gone at its next round

    def on_deleted(self, callback: Callable[[str], None]) -> None:
        self._on_deleted.append(callback)

    def _deleted(self, message: dict) -> None:
        push_id = message.get("id")
        if isinstance(push_id, str):
            for callback in self._on_deleted:
                callback(push_id)

    async def run(self, round_: Callable[[], Awaitable[None]]) -> None:
        """Call the registry's claim round every second (takeover of dead nodes' pushes)."""
        while True:
            try:
                await round_()
            except PushStoreError as exc:
                log.debug("push claim round skipped: %s", exc)
            except Exception:  # the loop outlives a bug in one round
                log.exception("push claim round failed")
            await asyncio.sleep(CLAIM_EVERY_S)
