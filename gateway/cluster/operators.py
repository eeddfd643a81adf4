"""One operator steers a camera at a time, across the cluster: the key `wepgw:ptz:<camera>`
holds the operator (who, since when) and lapses `LAPSE` after its last command, the same
model as the node-local lock (gateway/control/locks.py), decided in Redis with one script.
"""

from __future__ import annotations

import json
import time

from gateway.cluster.node import ClusterNode
from gateway.control.locks import LAPSE, Held, Hold, Operator

PREFIX = "wepgw:ptz:"

# KEYS[1] the camera's key; ARGV: operator key, "1" for the admin key, the new holder's
# JSON, the lapse in ms. nil: the operator holds the camera now; else the holder's JSON.
_TAKE = """
local current = redis.call('GET', KEYS[1])
if current then
  local holder = cjson.decode(current)
  if holder['key'] == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[4])
    return nil
  end
  if ARGV[2] ~= '1' then return current end
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
return nil
"""


def _hold(raw: bytes | str) -> Hold:
    data = json.loads(raw)
    operator = Operator(str(data["key"]), str(data["name"]), bool(data.get("admin")))
    return Hold(operator, float(data["since"]), time.monotonic())


class ClusterOperatorLocks:
    def __init__(self, node: ClusterNode, lapse: float = LAPSE):
        self._node = node
        self._lapse_ms = int(lapse * 1000)
        self._take = node.redis.register_script(_TAKE)

    async def take(self, camera_id: str, operator: Operator) -> None:
        """As OperatorLocks.take, for the cluster: Held naming the holder on any node;
        ClusterUnavailable when Redis cannot say."""
        holder = json.dumps(
            {"key": operator.key, "name": operator.name, "admin": operator.admin, "since": time.time()},
            separators=(",", ":"),
        )
        current = await self._node.ask(
            self._take(
                keys=[PREFIX + camera_id], args=[operator.key, "1" if operator.admin else "0", holder, self._lapse_ms]
            )
        )
        if current is not None:
            raise Held(camera_id, _hold(current))

    async def holder(self, camera_id: str) -> Hold | None:
        current = await self._node.ask(self._node.redis.get(PREFIX + camera_id))
        return _hold(current) if current is not None else None
