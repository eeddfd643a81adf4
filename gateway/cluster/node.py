"""This gateway as one node of a cluster: its Redis connection, membership, leases and
the cluster's message channel. Built only when `[cluster] redis_url` is set.

Redis trouble is survived, never fatal: unreachable at start, the node logs one clear
line, retries with backoff and reports why in /readyz until Redis answers; lost mid-run,
the node keeps serving what it serves, its leases lapse by their own deadlines
(leases.py), and everything resumes when Redis returns.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from gateway.cluster import membership
from gateway.cluster.leases import Leases, T, ask
from gateway.config import ClusterConfig

log = logging.getLogger("gateway.cluster")

CHANNEL = "wepgw:cluster"
MAX_CAMERAS_TOLD = 1000
BEAT_S = 1.0
RETRY_MAX_S = 4.0

Handler = Callable[[dict], None]


@dataclass
class ClusterCounters:
    redis_errors: int = 0  # commands or beats Redis did not answer
    messages: Counter[str] = field(default_factory=Counter)  # received on the channel, by kind


def shown_url(url: str) -> str:
    """The Redis URL without its credentials, for logs and /readyz."""
    parts = urlsplit(url)
    host = parts.hostname or parts.path or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


class ClusterNode:
    def __init__(self, config: ClusterConfig, listen: str):
        self.config = config
        self.node_id = config.node_id or membership.default_node_id()
        self.url = (config.advertise_url or f"http://{listen}").rstrip("/")
        self._where = shown_url(config.redis_url)
        # Commands answer fast or fail fast: a lease must be decided within its TTL. One
        # immediate retry, on a new connection: after Redis restarts, each pooled connection
        # fails once; no backoff, which would outlast a lease.
        timeout = min(1.0, config.lease_ms / 3000)
        self.redis = Redis.from_url(
            config.redis_url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[RedisConnectionError],
        )
        # The channel's connection waits for messages as long as it takes.
        self._listener = Redis.from_url(config.redis_url, socket_connect_timeout=timeout)
        self.leases = Leases(self.redis, self.node_id, config.lease_ms, self._redis_failed)
        self._problem: str | None = f"cluster: not connected to Redis at {self._where} yet"
        self._handlers: dict[str, list[Handler]] = {}
        self._on_connect: list[Callable[[], object]] = []
        self._tasks: list[asyncio.Task] = []
        self._background: set[asyncio.Task] = set()
        self.counters = ClusterCounters()
        self._cpu = membership.CpuMeter()
        self._started_at = time.time()
        # What this node tells the others it serves (set by the app: viewer counts).
        self.viewers: Callable[[], dict[str, int]] = dict  # this node's viewers per camera
        # The other live nodes' viewers per camera, as of their last beat (limits count them).
        self.viewers_elsewhere: dict[str, int] = {}
        self.camera_leases: Callable[[], list[tuple[str, str]]] = list

    # -- state --------------------------------------------------------------------
    def readiness(self) -> str | None:
        """None when Redis answers, else why not (one line, no credentials)."""
        return self._problem

    @property
    def available(self) -> bool:
        return self._problem is None

    def _redis_failed(self, exc: Exception) -> None:
        self.counters.redis_errors += 1
        if self._problem is None:
            log.error(
                "cluster: lost Redis at %s (%s): serving what runs, leases lapse on their own deadlines",
                self._where,
                exc.__class__.__name__,
            )
        self._problem = f"cluster: Redis at {self._where} unreachable ({exc.__class__.__name__})"

    def _redis_back(self) -> None:
        if self._problem is not None:
            log.info("cluster: connected to Redis at %s as node %s (%s)", self._where, self.node_id, self.url)
            self._problem = None
            for callback in self._on_connect:
                callback()

    def on_connect(self, callback: Callable[[], object]) -> None:
        """Called each time Redis answers after it did not (start-up included, and now if
        it answers already): reload what may have been missed on the channel meanwhile."""
        self._on_connect.append(callback)
        if self.available:
            callback()

    def spawn(self, coroutine: Coroutine[object, object, object], name: str) -> None:
        """Run in the background, kept until done (and cancelled on close)."""
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- the channel ----------------------------------------------------------------
    def on_message(self, kind: str, handler: Handler) -> None:
        self._handlers.setdefault(kind, []).append(handler)

    async def publish(self, kind: str, **data: object) -> None:
        """Tell every node (this one too, through the channel); ClusterUnavailable when
        Redis cannot take it."""
        await self.ask(self.redis.publish(CHANNEL, json.dumps({"kind": kind, "from": self.node_id, **data})))

    def _dispatch(self, raw: bytes) -> None:
        try:
            message = json.loads(raw)
            handlers = self._handlers.get(message.get("kind"), [])
            self.counters.messages[str(message.get("kind"))] += 1
        except (ValueError, AttributeError):
            log.warning("cluster: ignored a message that is not JSON on %s", CHANNEL)
            return
        for handler in handlers:
            try:
                handler(message)
            except Exception:  # one handler's bug must not end the channel for all
                log.exception("cluster: handler for %r failed", message.get("kind"))

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            try:
                async with self._listener.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    delay = 0.5
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._dispatch(message["data"])
            except (RedisError, OSError) as exc:
                self._redis_failed(exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)

    # -- membership -------------------------------------------------------------------
    def member(self) -> membership.Member:
        by_camera = self.viewers()
        busiest = dict(sorted(by_camera.items(), key=lambda item: -item[1])[:MAX_CAMERAS_TOLD])
        return membership.Member(
            self.node_id,
            self.url,
            tuple(self.camera_leases()),
            sum(by_camera.values()),
            busiest,
            self._cpu.read(),
            self._started_at,
        )

    async def _count_elsewhere(self) -> None:
        """Keep `viewers_elsewhere` current (once a beat); without Redis it keeps its last
        value: the limits go on counting what they last knew."""
        try:
            found = await membership.members(self.redis)
        except (RedisError, OSError):
            return
        totals: dict[str, int] = {}
        for member in found:
            if member.node_id != self.node_id:
                for camera, count in member.by_camera.items():
                    totals[camera] = totals.get(camera, 0) + count
        self.viewers_elsewhere = totals

    async def _beat(self) -> None:
        delay = BEAT_S
        while True:
            try:
                await membership.beat(self.redis, self.member(), self.config.member_ttl_ms)
                self._redis_back()
                await self._count_elsewhere()
                delay = BEAT_S
            except (RedisError, OSError) as exc:
                if self._problem is not None and "not connected" in self._problem:
                    log.error(
                        "cluster: Redis at %s unreachable (%s): retrying; nothing cluster-wide is served until it answers",
                        self._where,
                        exc.__class__.__name__,
                    )
                self._redis_failed(exc)
                delay = min(delay * 2, RETRY_MAX_S)
            await asyncio.sleep(min(delay, self.config.member_ttl_ms / 3000))

    async def ask(self, call: Awaitable[T]) -> T:
        """`call`'s answer; ClusterUnavailable (and this node's health told) on a Redis fault."""
        return await ask(call, self._redis_failed)

    async def members(self) -> list[membership.Member]:
        return await self.ask(membership.members(self.redis))

    async def url_of(self, node_id: str) -> str | None:
        if node_id == self.node_id:
            return self.url
        return await self.ask(membership.url_of(self.redis, node_id))

    # -- life ---------------------------------------------------------------------------
    async def start(self) -> None:
        self._started_at = time.time()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._beat(), name="cluster beat"),
            loop.create_task(self.leases.run(), name="cluster leases"),
            loop.create_task(self._listen(), name="cluster channel"),
        ]

    async def close(self) -> None:
        tasks = [*self._tasks, *self._background]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.leases.close()
        try:
            await membership.leave(self.redis, self.node_id)
        except (RedisError, OSError):
            pass  # the key lapses by itself
        await self.redis.aclose()
        await self._listener.aclose()
