"""Leases against a real redis-server: taken once, renewed, moved, lapsed, given up."""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis

from gateway.cluster.leases import ClusterUnavailable, Leases
from gateway.cluster.node import shown_url


def leases_of(redis_url: str, node_id: str, ttl_ms: int = 600) -> tuple[Leases, list[Exception], Redis]:
    client = Redis.from_url(redis_url, socket_timeout=0.3, socket_connect_timeout=0.3)
    errors: list[Exception] = []
    return Leases(client, node_id, ttl_ms, errors.append), errors, client


async def test_one_holder_renewals_and_release(redis):
    a, _, client_a = leases_of(redis.url, "a")
    b, _, client_b = leases_of(redis.url, "b")
    try:
        lease = await a.acquire("camera:x:high")
        assert lease is not None and lease.held()
        assert await b.acquire("camera:x:high") is None
        assert await b.holder("camera:x:high") == "a"
        assert await a.acquire("camera:x:high") is lease  # ours already: the same lease
        for _ in range(4):  # past the TTL, renewed all along
            await asyncio.sleep(0.25)
            assert await a.renew_all()
        assert lease.held() and await b.holder("camera:x:high") == "a"
        a.release(lease)
        await asyncio.sleep(0.1)
        assert not lease.held()
        assert await b.acquire("camera:x:high") is not None
    finally:
        await client_a.aclose()
        await client_b.aclose()


async def test_a_lease_taken_by_another_node_is_moved(redis):
    a, _, client_a = leases_of(redis.url, "a")
    b, _, client_b = leases_of(redis.url, "b")
    try:
        lease = await a.acquire("push:1")
        assert lease is not None
        await client_a.delete("wepgw:lease:push:1")  # it lapsed in Redis (a paused process)
        assert await b.acquire("push:1") is not None
        lapsed = []
        lease.on_lapse = lambda: lapsed.append(True)
        assert await a.renew_all()
        assert lease.moved.is_set() and not lease.held() and lapsed == [True]
    finally:
        await client_a.aclose()
        await client_b.aclose()


async def test_without_redis_a_lease_ends_at_its_own_deadline(redis, caplog):
    a, errors, client = leases_of(redis.url, "a")
    try:
        push = await a.acquire("push:2")
        camera = await a.acquire("camera:y:low", retake=True)
        assert push is not None and camera is not None
        lapsed = []
        push.on_lapse = lambda: lapsed.append("push")
        camera.on_lapse = lambda: lapsed.append("camera")
        redis.stop()
        caplog.set_level(logging.WARNING, "gateway.cluster")
        assert not await a.renew_all()
        assert push.held()  # not yet: its deadline is ahead
        await asyncio.sleep(0.6)
        assert not await a.renew_all()
        assert lapsed == ["push"], "a push stops at its deadline; a camera pull goes on"
        assert not push.held() and not camera.held() and not camera.moved.is_set()
        assert errors and "lapsed" in caplog.text
        try:
            await a.acquire("push:3")
        except ClusterUnavailable:
            pass
        else:
            raise AssertionError("acquire without Redis must say so")
        redis.start()
        assert await a.renew_all()  # the camera's lease is taken again: free after the restart
        assert camera.held() and await a.holder("camera:y:low") == "a"
    finally:
        await client.aclose()


def test_the_redis_url_is_shown_without_credentials():
    assert shown_url("redis://:hunter2@10.0.0.9:6379/1") == "redis://10.0.0.9:6379"
    assert shown_url("rediss://user:pw@redis.example:6380/0") == "rediss://redis.example:6380"
    assert "hunter2" not in shown_url("redis://default:hunter2@h/0")
