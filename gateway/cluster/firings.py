"""A rule fires once per cluster for an event, and its cooldown holds for the cluster.

Every node sees the cameras' events (each has its own WEP webhook and Amcrest event
streams) and runs the same rules; before a firing, the node asks Redis in one script:
the firing key `wepgw:fired:<rule>:<event>` is set only by the first node (the others
skip, "elsewhere"), then the cooldown key `wepgw:cool:<rule>:<camera>` (the others and
later events skip, "cooldown").

A rule is known by a digest of its body, so the same rule stored on every node (each
node's id may differ) is one rule here. An event is known by its upstream id where the
upstream gives one (WEP); Amcrest cameras give none, so their events are known by
camera, type, state and second: two nodes hear the same message within milliseconds.
"""

from __future__ import annotations

import enum
import hashlib
import json

from redis.exceptions import RedisError

from gateway.cluster.node import ClusterNode
from gateway.events.model import Event

FIRED_FOR_MS = 10 * 60 * 1000  # an event is at most 5 minutes old when rules see it

_GATE = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
if tonumber(ARGV[3]) > 0 and not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[3]) then return 2 end
return 1
"""


class Verdict(enum.Enum):
    FIRE = "fire"
    ELSEWHERE = "elsewhere"  # another node fired it for this event
    COOLDOWN = "cooldown"  # the rule fired for this camera on some node lately
    UNAVAILABLE = "cluster_unavailable"  # Redis cannot say: not fired (never twice)


def rule_digest(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def event_key(event: Event) -> str:
    if event.source == "wep":
        return event.id
    return f"{event.camera}|{event.type}|{event.state}|{int(event.at)}"


class FiringGate:
    def __init__(self, node: ClusterNode):
        self._node = node
        self._gate = node.redis.register_script(_GATE)

    async def decide(self, digest: str, event: Event, cooldown_s: float) -> Verdict:
        keys = [f"wepgw:fired:{digest}:{event_key(event)}", f"wepgw:cool:{digest}:{event.camera}"]
        try:
            answer = await self._gate(keys=keys, args=[self._node.node_id, FIRED_FOR_MS, int(cooldown_s * 1000)])
        except (RedisError, OSError):
            return Verdict.UNAVAILABLE
        return {1: Verdict.FIRE, 0: Verdict.ELSEWHERE, 2: Verdict.COOLDOWN}[int(answer)]
