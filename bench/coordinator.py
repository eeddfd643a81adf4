"""What the multi-process benches share: start this script again as a worker process and
read the JSON lines it answers with (benches run as `python bench/bench_x.py`, so this
module is importable as `coordinator`)."""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def spawn(script: str, *args: str) -> subprocess.Popen:
    """`script` run again with `args` (a worker role), talking JSON lines over stdio."""
    return subprocess.Popen(
        [sys.executable, script, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )


def read_json(process: subprocess.Popen, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"process {process.args[2:]} ended")
        if line.startswith("{"):
            return json.loads(line)
    raise TimeoutError(f"no answer from {process.args[2:]}")


def http_json(method: str, url: str) -> dict:
    import urllib.request

    with urllib.request.urlopen(
        urllib.request.Request(url, method=method, data=b"" if method == "POST" else None), timeout=30
    ) as response:
        return json.loads(response.read())


def add_bench_route(app, method: str, path: str, handler) -> None:
    """A bench-only probe route on the gateway app. The gateway refuses routes that have no
    access policy (it fails closed), so the probe is declared open here."""
    from gateway.auth.policy import OPEN, POLICY

    app.router.add_route(method, path, handler)
    POLICY[(method, path)] = OPEN


def finish(process: subprocess.Popen) -> None:
    """Close a worker's stdin (its signal to stop) and wait for it; kill it if it hangs."""
    try:
        process.stdin.close()
        process.wait(30)
    except (subprocess.TimeoutExpired, BrokenPipeError, OSError):
        process.kill()


class Child:
    """A worker process of this script, talking JSON lines over stdio; ended by its PID."""

    def __init__(self, role: str, process: asyncio.subprocess.Process):
        self.role, self.process = role, process

    @classmethod
    async def start(cls, script: str, role: str, *args: str, limit: int = 64 * 1024 * 1024) -> Child:
        """`script` run again as `--role role`; `limit`: the longest answer line (bytes)."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            script,
            "--role",
            role,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
            limit=limit,
        )
        return cls(role, process)

    @property
    def pid(self) -> int:
        return self.process.pid

    def send(self, command: dict) -> None:
        self.process.stdin.write((json.dumps(command) + "\n").encode())

    async def answer(self, timeout: float) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:  # skips lines that are not ours, until the deadline
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no answer from the {self.role} process")
            line = await asyncio.wait_for(self.process.stdout.readline(), remaining)
            if not line:
                raise RuntimeError(f"the {self.role} process ended (exit {await self.process.wait()})")
            if line.startswith(b"{"):
                return json.loads(line)

    async def ask(self, command: dict, timeout: float) -> dict:
        self.send(command)
        return await self.answer(timeout)

    async def end(self) -> None:
        """Close its stdin (its word to stop), then SIGTERM, then SIGKILL, each bounded."""
        if self.process.returncode is not None:
            return
        self.process.stdin.close()
        for stop in (None, self.process.terminate, self.process.kill):
            if stop is not None:
                stop()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
                return
            except TimeoutError:
                continue


def percentile(ordered: list[float], q: float) -> float:
    """The q-quantile of values already sorted (nan for none)."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def raise_fd_limit() -> None:
    """Room for a thousand sockets in one process."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def say(answer: dict) -> None:
    """A worker's answer to its coordinator: one JSON line."""
    print(json.dumps(answer), flush=True)


async def commands(handlers: dict) -> None:
    """A worker's life: answer the coordinator's JSON lines, one at a time, until stdin closes."""
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        command = json.loads(line)
        say(await handlers[command["cmd"]](command))
