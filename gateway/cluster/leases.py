"""Leases: one node at a time acts on a thing (pulls a camera, runs a push, holds a talk).

A lease is a Redis key holding the owner's node id with a TTL (`SET NX PX`), renewed by
the holder every third of its life and given up with a compare-and-delete, both as Lua so
a node never extends or deletes a lease another node has taken meanwhile (the Redis
docs' single-instance lock pattern).

The holder keeps its own deadline: the time it *sent* the last successful renewal plus
the TTL. Past that deadline it no longer counts as the holder, whether or not Redis
answered, because another node may already have taken the lease. What a holder does then
depends on the thing: a push or a talk stops (never two of them); a camera pull goes on
(its viewers keep their picture) until Redis names another owner (`Lease.moved`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("gateway.cluster")

PREFIX = "wepgw:lease:"
T = TypeVar("T")

# Take the lease if it is free or already ours (a renewal after a Redis restart, or a
# second claim of our own): 1 taken/kept, 0 held by another node.
_TAKE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
# Renew only what is still ours: 1 renewed, 0 lost (expired, or another node holds it).
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class ClusterUnavailable(Exception):
    """Redis could not be asked: cluster-wide decisions cannot be made now."""


async def ask(call: Awaitable[T], failed: Callable[[Exception], None]) -> T:
    """`call`'s answer. A Redis fault is told to `failed` (the node's health: /readyz, the
    error counter) and raised as ClusterUnavailable, for the caller to decide without Redis."""
    try:
        return await call
    except (RedisError, OSError) as exc:
        failed(exc)
        raise ClusterUnavailable(str(exc)) from None


@dataclass(eq=False)
class Lease:
    """A lease this node holds (or held). `moved` is set once Redis names another holder;
    `held` says whether this node may still act on it now."""

    name: str
    # `retake`: a lease that lapsed while Redis was away is taken again when free (a camera
    # pull); without it a lapsed lease is over (a push, a talk: their owner stopped).
    retake: bool
    deadline: float  # monotonic: the holder's own view of when the lease ends
    moved: asyncio.Event = field(default_factory=asyncio.Event)
    released: bool = False
    on_lapse: Callable[[], None] | None = None  # called once when `held` turns false

    def held(self, now: float | None = None) -> bool:
        if self.released or self.moved.is_set():
            return False
        return (time.monotonic() if now is None else now) < self.deadline


class Leases:
    def __init__(self, redis: Redis, node_id: str, ttl_ms: int, on_redis_error: Callable[[Exception], None]):
        self._redis = redis
        self.node_id = node_id
        self.ttl_ms = ttl_ms
        self._on_redis_error = on_redis_error
        self._take = redis.register_script(_TAKE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._held: dict[str, Lease] = {}
        self._background: set[asyncio.Task] = set()

    @property
    def ttl_s(self) -> float:
        return self.ttl_ms / 1000

    def _deadline(self, sent_at: float) -> float:
        # A tenth of the TTL short of Redis's own expiry: clocks drift, and acting a little
        # less long than allowed is always safe.
        return sent_at + self.ttl_s * 0.9

    async def acquire(self, name: str, *, retake: bool = False) -> Lease | None:
        """The lease `name` for this node, or None when another node holds it;
        ClusterUnavailable when Redis cannot be asked."""
        sent_at = time.monotonic()
        taken = await ask(self._take(keys=[PREFIX + name], args=[self.node_id, self.ttl_ms]), self._on_redis_error)
        if not taken:
            return None
        lease = self._held.get(name)
        if lease is None or lease.released or lease.moved.is_set():
            lease = self._held[name] = Lease(name, retake, self._deadline(sent_at))
        else:
            lease.deadline = self._deadline(sent_at)
        return lease

    async def holder(self, name: str) -> str | None:
        value = await ask(self._redis.get(PREFIX + name), self._on_redis_error)
        return value.decode() if isinstance(value, bytes) else value

    def release(self, lease: Lease) -> None:
        """Give the lease up now (in the background: callers may be cancelled tasks)."""
        if lease.released:
            return
        lease.released = True
        if self._held.get(lease.name) is lease:
            del self._held[lease.name]
        task = asyncio.get_running_loop().create_task(self._delete(lease.name))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _delete(self, name: str) -> None:
        try:
            await self._release(keys=[PREFIX + name], args=[self.node_id])
        except (RedisError, OSError) as exc:
            self._on_redis_error(exc)  # it lapses by itself

    def held_names(self) -> list[str]:
        now = time.monotonic()
        return [name for name, lease in self._held.items() if lease.held(now)]

    async def renew_all(self) -> bool:
        """One round of renewals; False when Redis could not be asked."""
        leases = [lease for lease in self._held.values() if not lease.released and not lease.moved.is_set()]
        if not leases:
            return True
        sent_at = time.monotonic()
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for lease in leases:
                    script = self._take if lease.retake else self._renew
                    await script(keys=[PREFIX + lease.name], args=[self.node_id, self.ttl_ms], client=pipe)
                results = await pipe.execute()
        except (RedisError, OSError) as exc:
            self._on_redis_error(exc)
            self._lapse_overdue()
            return False
        for lease, renewed in zip(leases, results, strict=True):
            if renewed:
                lease.deadline = self._deadline(sent_at)
            else:
                log.warning("lease %s is no longer ours", lease.name)
                self._end(lease, moved=True)
        return True

    def _lapse_overdue(self) -> None:
        now = time.monotonic()
        for lease in list(self._held.values()):
            if now >= lease.deadline and not lease.retake:
                log.warning("lease %s lapsed: Redis could not renew it in time, stopping what it covers", lease.name)
                self._end(lease, moved=False)

    def _end(self, lease: Lease, *, moved: bool) -> None:
        if moved:
            lease.moved.set()
        if self._held.get(lease.name) is lease:
            del self._held[lease.name]
        if lease.on_lapse is not None:
            callback, lease.on_lapse = lease.on_lapse, None
            callback()

    async def run(self) -> None:
        """Renew every held lease a third of its life apart, and end the ones that lapse."""
        while True:
            await asyncio.sleep(self.ttl_s / 3)
            if not await self.renew_all():
                continue
            self._lapse_overdue()

    async def close(self) -> None:
        """Give every lease up (shutdown): the next owner needs not wait for the TTL."""
        for lease in list(self._held.values()):
            self.release(lease)
        if self._background:
            await asyncio.wait(self._background, timeout=1.0)
