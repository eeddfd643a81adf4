"""What the cluster benches share: the site (the WEP emulator in this process, so its
counters show every pull; redis-server; gateway nodes started by tests/cluster/conftest.py's
Cluster), viewer tokens, and CPU shares read from /proc."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Self

from coordinator import ROOT

CLK_TCK = os.sysconf("SC_CLK_TCK")
# Encoded loops are kept between runs (bench_hls_fanout.py's emulator uses the same ones).
EMULATOR_CACHE = Path(tempfile.gettempdir()) / "wep-gateway-bench-cache"
# [limits] for thousands of viewers of one camera (the defaults: 200 a camera, which holds for
# the whole cluster, and 1000 a node), as an operator expecting them would set them. The
# nodes inherit them from this process's environment (WEPGW_<SECTION>_<KEY>).
LIMITS_ENV = {"WEPGW_LIMITS_MAX_VIEWERS_PER_CAMERA": "100000", "WEPGW_LIMITS_MAX_VIEWERS_TOTAL": "100000"}


class ClusterSite:
    """The emulator (1 camera), Redis and `nodes` gateway nodes in cluster mode, stopped on
    exit. `cluster_class`: tests/cluster/conftest.py's Cluster or a subclass of it."""

    def __init__(self, nodes: int, cluster_class=None):
        self.count = nodes
        self.cluster_class = cluster_class
        self.work = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
        self.emulator = self.redis = self.cluster = None
        self.nodes = []

    @property
    def camera(self) -> str:
        return self.emulator.camera_ids[0]

    async def __aenter__(self) -> Self:
        from gateway.emulator.server import Emulator
        from gateway.emulator.settings import EmulatorSettings
        from tests.cluster.conftest import Cluster
        from tests.cluster.redis_server import RedisServer

        await asyncio.to_thread(EMULATOR_CACHE.mkdir, exist_ok=True)
        os.environ.update(LIMITS_ENV)
        self.emulator = Emulator(EmulatorSettings(port=0, tls=False, cameras=1, cache_dir=str(EMULATOR_CACHE)))
        self.redis = RedisServer(self.work / "redis")
        try:
            await self.emulator.start()
            await asyncio.to_thread(self.redis.start)
            self.cluster = (self.cluster_class or Cluster)(self.work, self.emulator, self.redis.url)
            self.nodes = await self.cluster.start(self.count)
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *_exc) -> None:
        if self.cluster is not None:
            await self.cluster.stop_all()
        if self.redis is not None:
            await asyncio.to_thread(self.redis.stop)
        if self.emulator is not None:
            await self.emulator.stop()
        await asyncio.to_thread(shutil.rmtree, self.work, True)

    def video_pulls(self, quality: str) -> int:
        """Media connections the camera's video of `quality` had from the gateways, ever."""
        return self.emulator.stats["media_connections"].get(f"{self.camera}/fmp4/{quality}", 0)

    async def mint_tokens(self, http, count: int) -> list[str]:
        """`count` viewer tokens for the camera, each its own (POST /api/v1/tokens, admin)."""
        from tests.cluster.conftest import ADMIN

        gate = asyncio.Semaphore(16)
        body = {"cameras": [self.camera], "actions": ["view"], "ttl": 3600}

        async def mint() -> str:
            async with gate, http.post(f"{self.nodes[0].base}/api/v1/tokens", json=body, headers=ADMIN) as response:
                if response.status != 201:
                    raise RuntimeError(f"minting a token: {response.status} {await response.text()}")
                return (await response.json())["token"]

        return list(await asyncio.gather(*(mint() for _ in range(count))))


async def wait_ready(node) -> None:
    """Until `node` answers /readyz 200 (RuntimeError with its log's tail if it exits or never does)."""
    import aiohttp

    async with aiohttp.ClientSession() as http:
        for _ in range(150):
            if node.process.returncode is not None:
                break
            try:
                async with http.get(f"{node.base}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    log = await asyncio.to_thread(node.log.read_text)
    raise RuntimeError(
        f"{node.name} {'exited' if node.process.returncode is not None else 'never ready'}: {log[-2000:]}"
    )


async def start_script_node(node, script: str, *args: str) -> None:
    """A Cluster node run as `script --role node --config CONFIG args...` (a bench's
    instrumented `wep-gateway serve`), its output in the node's log."""
    with node.log.open("ab") as output:
        node.process = await asyncio.create_subprocess_exec(
            *(sys.executable, script, "--role", "node", "--config", str(node.config), *args),
            cwd=ROOT,
            stdout=output,
            stderr=output,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    await wait_ready(node)


# ---- CPU ---------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (/proc/stat): the load of
    everything else on the box shows beside ours."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / CLK_TCK, sum(values) / CLK_TCK


class CpuMeter:
    """CPU of groups of processes between `begin()` and `end()`, in % of one core; `end()`
    adds "machine" (every process on the box, % of one core) and "cores" (how many)."""

    def __init__(self, groups: dict[str, list[int]]):
        self.groups = groups
        self.start: dict[str, float] = {}
        self.started_at = 0.0
        self.machine = (0.0, 0.0)

    def _read(self) -> dict[str, float]:
        return {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in self.groups.items()}

    def begin(self) -> None:
        self.start, self.started_at, self.machine = self._read(), time.time(), machine_busy()

    def end(self) -> dict[str, float]:
        now, elapsed = self._read(), time.time() - self.started_at
        busy, total = machine_busy()
        shares = {name: 100 * (now[name] - self.start[name]) / elapsed for name in self.groups}
        shares["machine"] = 100 * (busy - self.machine[0]) / elapsed
        shares["cores"] = (total - self.machine[1]) / elapsed
        return shares
