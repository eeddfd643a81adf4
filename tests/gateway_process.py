"""The gateway as a real process (`python -m gateway.cli serve`), for tests of what only a
process shows: SIGKILL and restart, SIGTERM and its shutdown."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]


def wep_toml(emulator) -> str:
    """The `[wep]` table of a config for a gateway in front of `emulator` (its URL and the
    credentials it accepts), for the config files of real-process tests and benches."""
    settings = emulator.settings
    return f"""[wep]
url = "{emulator.url}"
username = "{settings.username}"
password = "{settings.password}"
user_nonce = "{settings.user_nonce}"
user_key = "{settings.user_key}"
"""


async def start_gateway(config: Path, log: Path, base: str) -> asyncio.subprocess.Process:
    """Start `serve --config config` (its output appended to `log`) and wait until `base`
    answers /readyz 200; AssertionError with the log's tail if it exits or is never ready."""
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gateway.cli",
            "serve",
            "--config",
            str(config),
            cwd=ROOT,
            stdout=output,
            stderr=output,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    async with aiohttp.ClientSession() as http:
        for _ in range(150):
            if process.returncode is not None:
                raise AssertionError(f"gateway exited: {(await asyncio.to_thread(log.read_text))[-2000:]}")
            try:
                async with http.get(f"{base}/readyz") as resp:
                    if resp.status == 200:
                        return process
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    process.kill()
    raise AssertionError(f"gateway not ready: {(await asyncio.to_thread(log.read_text))[-2000:]}")
