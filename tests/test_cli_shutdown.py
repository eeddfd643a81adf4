"""`wep-gateway serve` stopped with SIGTERM while it streams: the streams end first, each
with its chunked transfer's last chunk, then the WEP webhook and session go, all within
`[server] shutdown_timeout` (`docker stop` kills at 10 s)."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import aiohttp

from tests.gateway_process import start_gateway as start
from tests.gateway_process import wep_toml
from tests.test_cli import free_port

ROOT = Path(__file__).resolve().parent.parent
SHUTDOWN_TIMEOUT = 5.0
MARGIN = 1.5  # asyncio.run's teardown and the interpreter's exit


def write_config(path: Path, emulator, port: int) -> None:
    path.write_text(f"""
[server]
listen = "127.0.0.1:{port}"
shutdown_timeout = {SHUTDOWN_TIMEOUT}
{wep_toml(emulator)}[auth]
viewer_auth = false
[events]
public_url = "http://127.0.0.1:{port}"
[pushes]
db_path = "{path.parent / "pushes.sqlite3"}"
""")


class Client:
    """One streaming GET read to its end: how it ended, and when."""

    def __init__(self, http: aiohttp.ClientSession, url: str):
        self.url = url
        self.received = 0
        self.first_bytes = asyncio.Event()
        self.ended_at: float | None = None
        self.outcome = "running"
        self.task = asyncio.create_task(self._read(http))

    async def _read(self, http: aiohttp.ClientSession) -> None:
        try:
            async with http.get(self.url) as resp:
                assert resp.status == 200, await resp.text()
                async for chunk in resp.content.iter_any():
                    self.received += len(chunk)
                    self.first_bytes.set()
            self.outcome = "clean end"  # the chunked body's last (0-length) chunk arrived
        except aiohttp.ClientPayloadError as exc:
            self.outcome = f"truncated: {exc}"
        except aiohttp.ClientError as exc:
            self.outcome = f"failed: {exc!r}"
        finally:
            self.ended_at = time.monotonic()


async def test_sigterm_ends_streams_cleanly_and_logs_out_within_shutdown_timeout(emulator, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config, log = tmp_path / "gateway.toml", tmp_path / "gateway.log"
    write_config(config, emulator, port)
    process = await start(config, log, base)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
            lives = [Client(http, f"{base}/live/{camera}.mp4") for camera in emulator.camera_ids for _ in range(2)]
            events = Client(http, f"{base}/api/v1/events/stream")
            clients = [*lives, events]
            await asyncio.wait_for(asyncio.gather(*(client.first_bytes.wait() for client in clients)), 20)
            for _ in range(100):  # the webhook is registered once WEP's check came back
                if emulator.webhooks:
                    break
                await asyncio.sleep(0.1)
            assert emulator.webhooks and emulator.stats["sessions"] == 1

            sent = time.monotonic()
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), SHUTDOWN_TIMEOUT + 10)
            took = time.monotonic() - sent
            await asyncio.wait_for(asyncio.gather(*(client.task for client in clients)), 5)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    logged = log.read_text()
    assert process.returncode == 0, logged[-3000:]
    outcomes = [client.outcome for client in clients]
    assert took < SHUTDOWN_TIMEOUT + MARGIN, f"exit {took:.1f}s after SIGTERM; clients: {outcomes}\n{logged[-3000:]}"
    assert outcomes == ["clean end"] * len(clients), logged[-3000:]
    # The streams ended first: well before the process did.
    assert all(client.ended_at - sent < SHUTDOWN_TIMEOUT / 2 for client in clients)
    # WEP saw the logout and the webhook's deletion before the process was gone.
    assert emulator.stats["sessions"] == 0, logged[-3000:]
    assert emulator.webhooks == []
    assert "logged out of WEP" in logged and "WEP webhook deleted" in logged
    assert "Traceback" not in logged
