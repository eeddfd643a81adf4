"""The edge tier as deployed, for the tests and the cluster benches: Debian's nginx running
deploy/nginx/edge.conf (the file itself, beside a gateways.conf and a listen.conf naming
the gateway ports it is given) under its own prefix, on a free port of 127.0.0.1."""

from __future__ import annotations

import asyncio
import shutil
import signal
from pathlib import Path

import aiohttp

from tests.conftest import require
from tests.gateway_process import ROOT
from tests.rtmp.nginx import free_port

EDGE_DIR = ROOT / "deploy" / "nginx"


class Edge:
    """nginx with deploy/nginx/edge.conf as it is, under its own prefix; `stop()` ends the
    master we started (it ends its workers)."""

    def __init__(self, prefix: Path, gateway_ports: list[int]):
        self.prefix = prefix
        self.port = free_port()
        self.log = prefix / "nginx.log"
        self.process: asyncio.subprocess.Process | None = None
        conf = prefix / "conf"
        conf.mkdir(parents=True)
        shutil.copy(EDGE_DIR / "edge.conf", conf / "edge.conf")
        (conf / "listen.conf").write_text(f"listen 127.0.0.1:{self.port};\n")
        (conf / "gateways.conf").write_text(
            "".join(f"server 127.0.0.1:{port} max_fails=2 fail_timeout=5s;\n" for port in gateway_ports)
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        require("nginx")
        with self.log.open("ab") as log:
            # `user root`: the workers read the prefix, a directory only root may enter.
            self.process = await asyncio.create_subprocess_exec(
                *("nginx", "-p", f"{self.prefix}/", "-c", "conf/edge.conf", "-g", "daemon off; user root;"),
                stdout=log,
                stderr=log,
                stdin=asyncio.subprocess.DEVNULL,
            )
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                assert self.process.returncode is None, f"nginx exited: {self.log.read_text()[-2000:]}"
                try:
                    async with http.get(f"{self.url}/_edge/healthz") as response:
                        if response.status == 204:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError("the edge never answered /_edge/healthz")

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
