"""Debian's redis-server for the cluster tests: one per test, on a free port, with an
append-only file as the README asks of a cluster's Redis (it holds the push set and the
guest links): a restart comes back with them, and with every lease lapsed."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.rtmp.nginx import free_port


class RedisServer:
    def __init__(self, prefix: Path):
        self.prefix = prefix
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        prefix.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """Start (or start again, same port) and wait until it accepts connections."""
        assert shutil.which("redis-server"), "redis-server is not installed (run ./scripts/test)"
        with (self.prefix / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    "redis-server",
                    "--port", str(self.port),
                    "--bind", "127.0.0.1",
                    "--save", "",
                    "--appendonly", "yes",
                    "--appendfsync", "always",
                    "--dir", str(self.prefix),
                ],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {(self.prefix / 'redis.log').read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer in time")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None
