"""Events one node alone hears reach the others' buses (gateway/cluster/events.py), and a
webhook URL is one node's: two nodes in this process on a real redis-server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from gateway.cluster.events import KIND, EventRelay, NodeWebhooks
from gateway.cluster.node import ClusterNode
from gateway.config import ClusterConfig
from gateway.events.bus import EventBus
from gateway.events.model import Event
from tests.cluster.conftest import wait_until

pytestmark = pytest.mark.timeout(60)


@asynccontextmanager
async def node_with_bus(redis_url: str, node_id: str) -> AsyncIterator[tuple[ClusterNode, EventBus, EventRelay]]:
    node = ClusterNode(
        ClusterConfig(redis_url=redis_url, node_id=node_id, secret="s" * 16, lease_ms=1500), "127.0.0.1:1"
    )
    bus = EventBus(100, 100)
    relay = EventRelay(node, bus)
    await node.start()
    relay.start()
    try:
        yield node, bus, relay
    finally:
        await relay.close()
        bus.close()
        await node.close()


def alarm(event_id: str, source: str = "alta", camera: str | None = None) -> Event:
    return Event(
        event_id,
        camera,
        "ALARM_TRIGGERED",
        "start",
        "2026-11-30T12:00:00.000Z",
        source,
        {"zone": "z1", "shared_links": ["https://alta.example/share/1"]},
        {"snapshot": None, "recording": None},
        1796040000.0,
        frozenset({"operator-1"}),
    )


def ids(bus: EventBus) -> list[str]:
    return [event.id for event in bus.recent()]


async def subscribed(*nodes: ClusterNode) -> None:
    """Each node listens on the channel (a message published before that is not heard)."""
    for node in nodes:
        await wait_until(lambda node=node: node.available, 5, f"{node.node_id} connected to Redis")
    for _ in range(100):
        answers = await nodes[0].redis.pubsub_numsub("wepgw:cluster")
        if answers and answers[0][1] >= len(nodes):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the nodes never subscribed")


async def test_an_event_one_node_heard_reaches_the_other_bus_whole(redis):
    async with node_with_bus(redis.url, "a") as (a, bus_a, relay_a), node_with_bus(redis.url, "b") as (b, bus_b, _):
        await subscribed(a, b)
        sent = alarm("alta:guid-1:1")
        assert bus_a.publish(sent)
        await wait_until(lambda: "alta:guid-1:1" in ids(bus_b), 5, "the alarm on b's bus")
        [received] = bus_b.recent()
        assert received == sent  # every field, `at` and `notify` too
        # Not sent back: A's bus holds it once, and A counted one sent, nothing received.
        await asyncio.sleep(0.2)
        assert ids(bus_a) == ["alta:guid-1:1"]
        assert relay_a.stats["sent"] == 1 and relay_a.stats["received"] == 0


async def test_what_every_node_hears_itself_is_not_relayed(redis):
    async with node_with_bus(redis.url, "a") as (a, bus_a, relay_a), node_with_bus(redis.url, "b") as (b, bus_b, _):
        await subscribed(a, b)
        bus_a.publish(alarm("wep:17", source="wep", camera="cam"))
        bus_a.publish(alarm("amcrest:abc", source="amcrest", camera="cam"))
        bus_a.publish(alarm("rules:1", source="rules", camera="cam"))  # a firing: one node's
        await wait_until(lambda: ids(bus_b) == ["rules:1"], 5, "the firing on b's bus")
        await asyncio.sleep(0.2)
        assert ids(bus_b) == ["rules:1"] and relay_a.stats["sent"] == 1


async def test_a_message_that_is_not_an_event_is_counted_and_skipped(redis, caplog):
    async with node_with_bus(redis.url, "a") as (a, _, _), node_with_bus(redis.url, "b") as (b, bus_b, relay_b):
        await subscribed(a, b)
        with caplog.at_level(logging.WARNING, "gateway.cluster"):
            await a.publish(KIND, event={"id": 5, "camera": None})
            await a.publish(KIND, event="not an event")
            await wait_until(lambda: relay_b.stats["unreadable"] == 2, 5, "two unreadable messages")
        assert not ids(bus_b)
        assert "from a that is not an event" in caplog.text


async def test_events_while_redis_is_away_are_dropped_and_counted_then_flow_again(redis, caplog):
    async with node_with_bus(redis.url, "a") as (a, bus_a, relay_a), node_with_bus(redis.url, "b") as (b, bus_b, _):
        await subscribed(a, b)
        redis.stop()
        with caplog.at_level(logging.INFO, "gateway.cluster"):
            bus_a.publish(alarm("alta:lost-1:1"))
            bus_a.publish(alarm("alta:lost-2:1"))
            await wait_until(lambda: relay_a.stats["dropped"] == 2, 5, "two events dropped")
            assert sorted(ids(bus_a)) == ["alta:lost-1:1", "alta:lost-2:1"]  # still on the node that heard them
            redis.start()
            await subscribed(a, b)
            bus_a.publish(alarm("alta:after:1"))
            await wait_until(lambda: ids(bus_b) == ["alta:after:1"], 10, "the event after Redis returned")
        assert caplog.text.count("events stay on this node while Redis is away") == 1
        assert "events reach the other nodes again" in caplog.text


async def test_a_webhook_url_is_one_nodes(redis):
    async with node_with_bus(redis.url, "a") as (a, _, _), node_with_bus(redis.url, "b") as (b, _, _):
        await subscribed(a, b)
        hooks_a, hooks_b = NodeWebhooks(a), NodeWebhooks(b)
        shared = "http://edge.example/wep/webhook"
        assert await hooks_a.claim(shared) is None
        assert await hooks_a.claim(shared) is None  # a's again: still a's
        refused = await hooks_b.claim(shared)
        assert refused is not None and "node a registered already" in refused and shared in refused
        assert await hooks_b.claim("http://10.0.0.6:8080/wep/webhook") is None
        await asyncio.sleep(2.0)  # past the lease: renewed with a's other leases
        assert await hooks_b.claim(shared) is not None


async def test_the_webhook_of_a_node_that_is_gone_is_stale(redis):
    url_a, url_b, foreign = "http://10.0.0.5:8080/wep/webhook", "http://10.0.0.6:8080/wep/webhook", "http://vms/hook"
    async with node_with_bus(redis.url, "b") as (b, _, _):
        hooks_b = NodeWebhooks(b)
        async with node_with_bus(redis.url, "a") as (a, _, _):
            await subscribed(a, b)
            assert await NodeWebhooks(a).claim(url_a) is None
            assert await hooks_b.claim(url_b) is None
            assert await hooks_b.stale([url_a, foreign]) == []  # a is a member: its webhook stays
        # a left (a clean close deletes its member key; a crash lets it lapse)
        assert await hooks_b.stale([url_a, foreign]) == [url_a]  # somebody else's webhook: never
        assert await hooks_b.stale([url_a]) == [url_a]  # until it is deleted from WEP
        await hooks_b.forget([url_a])
        assert await hooks_b.stale([url_a]) == []
        assert await b.redis.hkeys("wepgw:webhooks") == [url_b.encode()]
