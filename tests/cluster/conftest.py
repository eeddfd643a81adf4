"""A cluster on 127.0.0.1: redis-server, gateway nodes as real processes (SIGKILL must be
real) and the WEP emulator in the test's own process, so its counters show every pull."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.cluster.redis_server import RedisServer
from tests.gateway_process import start_gateway, wep_toml
from tests.rtmp.nginx import free_port

ADMIN_KEY = "cluster-admin-key-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
SECRET = "cluster-peer-secret-0123456789"
TOKEN_SECRET = "cluster-token-secret-0123456789abcdef"


@pytest.fixture
def emulator_settings(emulator_settings):
    # Camera 0 turns (PTZ); no motion of its own: the tests inject the events they want.
    return dataclasses.replace(emulator_settings, ptz_camera=1, motion_every=0)


@pytest.fixture
def redis(tmp_path):
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def wait_until(predicate, timeout: float, what: str, step: float = 0.05) -> float:
    """Seconds it took until predicate() is true; AssertionError naming `what` after timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return time.monotonic() - start
        await asyncio.sleep(step)
    raise AssertionError(f"not within {timeout}s: {what}")


@dataclass
class Node:
    name: str
    port: int
    config: Path
    log: Path
    process: asyncio.subprocess.Process | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Cluster:
    def __init__(self, tmp_path: Path, emulator, redis_url: str, lease_ms: int = 2000):
        self._tmp = tmp_path
        self._emulator = emulator
        self._redis_url = redis_url
        self._lease_ms = lease_ms
        self.nodes: list[Node] = []
        self.extra = ""  # more TOML for every node started from now on
        self.events_url: str | None = None  # every node's [events] public_url; None: each its own

    def _write(self, node: Node) -> None:
        node.config.write_text(f"""
[server]
listen = "127.0.0.1:{node.port}"
{wep_toml(self._emulator)}[auth]
admin_key = "{ADMIN_KEY}"
token_secret = "{TOKEN_SECRET}"
viewer_auth = true
[sources]
idle_close_after = 5.0
stall_timeout = 3.0
[events]
public_url = "{self.events_url or node.base}"
heartbeat_ms = 1000
[pushes]
db_path = "{self._tmp / node.name / "pushes.sqlite3"}"
[rules]
snapshots_dir = "{self._tmp / node.name / "snapshots"}"
clips_dir = "{self._tmp / node.name / "clips"}"
[cluster]
redis_url = "{self._redis_url}"
node_id = "{node.name}"
secret = "{SECRET}"
lease_ms = {self._lease_ms}
member_ttl_ms = 3000
{self.extra}
""")

    async def start(self, count: int) -> list[Node]:
        for _ in range(count):
            name = f"node-{chr(ord('a') + len(self.nodes))}"
            (self._tmp / name).mkdir(parents=True, exist_ok=True)
            node = Node(name, free_port(), self._tmp / name / "gateway.toml", self._tmp / name / "gateway.log")
            self._write(node)
            self.nodes.append(node)
        await asyncio.gather(*(self.launch(node) for node in self.nodes[-count:]))
        return self.nodes[-count:]

    async def launch(self, node: Node) -> None:
        node.process = await start_gateway(node.config, node.log, node.base)

    async def kill(self, node: Node) -> None:
        assert node.process is not None
        node.process.send_signal(signal.SIGKILL)
        await node.process.wait()
        node.process = None

    async def stop_all(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.returncode is None:
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes:
            if node.process is not None:
                try:
                    await asyncio.wait_for(node.process.wait(), 15)
                except TimeoutError:
                    node.process.kill()
                    await node.process.wait()

    def logs(self) -> str:
        return "\n".join(f"--- {node.name}\n{node.log.read_text()[-3000:]}" for node in self.nodes if node.log.exists())


@pytest.fixture
async def cluster(emulator, redis, tmp_path):
    nodes = Cluster(tmp_path, emulator, redis.url)
    try:
        yield nodes
    finally:
        await nodes.stop_all()


@pytest.fixture
async def admin_http():
    async with aiohttp.ClientSession(headers=ADMIN) as session:
        yield session


@pytest.fixture
def rtmp_receiver(tmp_path):
    from tests.rtmp.nginx import NginxRtmp

    receiver = NginxRtmp(tmp_path / "nginx-rtmp")
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.kill()
