"""One talker per camera speaker across the cluster: the lease `talk:<camera>`.

Within a node, talkers rank (gateway/talkdown/session.py: microphone > file > clip). Across
nodes the lease holder's node decides the same way: a talker that finds the speaker held
elsewhere asks on the cluster channel (`talk_preempt`); the holding node preempts its
session if it ranks lower, which frees the lease, and the asker takes it. Otherwise the
asker gets 409 naming the node.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from gateway.cluster.leases import Lease
from gateway.cluster.node import ClusterNode

log = logging.getLogger("gateway.cluster")

# How long a higher-ranked talker waits for the holding node to give the speaker up.
PREEMPT_WAIT_S = 1.5


class SpeakerHeldElsewhere(Exception):
    def __init__(self, camera_id: str, node_id: str | None):
        super().__init__(f"camera {camera_id!r} speaker is in use by a talker on node {node_id or '?'}")
        self.node_id = node_id


def lease_name(camera_id: str) -> str:
    return f"talk:{camera_id}"


class ClusterSpeakers:
    def __init__(self, node: ClusterNode, ranks: dict[str, int]):
        self._node = node
        self._ranks = ranks
        # Set by the talk sessions: preempt this node's holder of a camera for a talker of
        # the given source, if it ranks lower (returns whether it did).
        self.preempt_local: Callable[[str, str], bool] = lambda camera_id, source: False
        node.on_message("talk_preempt", self._on_preempt)

    async def claim(self, camera_id: str, source: str, on_lapse: Callable[[], None]) -> Lease:
        """The camera's speaker for this node; SpeakerHeldElsewhere, or ClusterUnavailable
        when Redis cannot say who holds it."""
        leases = self._node.leases
        lease = await leases.acquire(lease_name(camera_id))
        if lease is None and self._ranks[source] > 0:  # a clip never cuts in
            await self._node.publish("talk_preempt", camera=camera_id, source=source)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + PREEMPT_WAIT_S
            while lease is None and loop.time() < deadline:
                await asyncio.sleep(0.1)
                lease = await leases.acquire(lease_name(camera_id))
        if lease is None:
            raise SpeakerHeldElsewhere(camera_id, await leases.holder(lease_name(camera_id)))
        lease.on_lapse = on_lapse
        return lease

    def release(self, lease: Lease) -> None:
        self._node.leases.release(lease)

    def _on_preempt(self, message: dict) -> None:
        if message.get("from") == self._node.node_id:
            return
        camera_id, source = message.get("camera"), message.get("source")
        if isinstance(camera_id, str) and source in self._ranks and self.preempt_local(camera_id, source):
            log.info(
                "talk preempted for a %s talker on node %s", source, message.get("from"), extra={"camera": camera_id}
            )
