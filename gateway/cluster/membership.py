"""Who is in the cluster: each node keeps a key `wepgw:member:<node_id>` alive with a TTL,
holding how peers reach it and what it serves. A node that dies stops renewing; its key
lapses after `[cluster] member_ttl_ms` and it leaves the list."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

from redis.asyncio import Redis

PREFIX = "wepgw:member:"


@dataclass(frozen=True, slots=True)
class Member:
    node_id: str
    url: str
    cameras: tuple[tuple[str, str], ...]  # the camera leases it holds: (camera, quality)
    viewers: int
    # Its viewers per camera (for the cluster-wide per-camera limit; the busiest cameras).
    by_camera: dict[str, int]
    load: float  # the process's CPU over the last beat, in cores (1.0: one core busy)
    started_at: float

    def public(self) -> dict:
        return {
            "node_id": self.node_id,
            "url": self.url,
            "cameras": [{"camera": camera, "quality": quality} for camera, quality in self.cameras],
            "viewers": self.viewers,
            "load": round(self.load, 3),
            "started_at": round(self.started_at, 3),
        }

    def encode(self) -> str:
        return json.dumps({**self.public(), "by_camera": self.by_camera}, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: bytes | str) -> Member | None:
        try:
            data = json.loads(raw)
            return cls(
                str(data["node_id"]),
                str(data["url"]),
                tuple((str(item["camera"]), str(item["quality"])) for item in data["cameras"]),
                int(data["viewers"]),
                {str(camera): int(count) for camera, count in data.get("by_camera", {}).items()},
                float(data["load"]),
                float(data["started_at"]),
            )
        except (ValueError, KeyError, TypeError):
            return None  # a key another version wrote: not ours to read


class CpuMeter:
    """The process's CPU use between two readings, in cores."""

    def __init__(self) -> None:
        self._cpu = time.process_time()
        self._wall = time.monotonic()

    def read(self) -> float:
        cpu, wall = time.process_time(), time.monotonic()
        used = (cpu - self._cpu) / max(wall - self._wall, 1e-6)
        self._cpu, self._wall = cpu, wall
        return used


def default_node_id() -> str:
    return f"{os.uname().nodename}-{os.getpid()}"


async def beat(redis: Redis, member: Member, ttl_ms: int) -> None:
    await redis.set(PREFIX + member.node_id, member.encode(), px=ttl_ms)


async def leave(redis: Redis, node_id: str) -> None:
    await redis.delete(PREFIX + node_id)


async def members(redis: Redis) -> list[Member]:
    """Every live member, by node id (a SCAN: clusters are a handful of nodes)."""
    keys = [key async for key in redis.scan_iter(match=PREFIX + "*", count=100)]
    if not keys:
        return []
    found = [Member.decode(raw) for raw in await redis.mget(keys) if raw is not None]
    return sorted((member for member in found if member is not None), key=lambda member: member.node_id)


async def url_of(redis: Redis, node_id: str) -> str | None:
    raw = await redis.get(PREFIX + node_id)
    member = Member.decode(raw) if raw is not None else None
    return member.url if member is not None else None
