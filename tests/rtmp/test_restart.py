"""The gateway as a real process (`python -m gateway.cli serve`), killed with SIGKILL while
pushing: started again on the same config, its pushes come back on their own."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.rtmp.conftest import ADMIN, ADMIN_KEY, wait_for_state
from tests.rtmp.nginx import free_port, probe

pytestmark = pytest.mark.peer

REPO = Path(__file__).resolve().parents[2]


def write_config(path: Path, emulator, port: int, db_path: Path) -> None:
    settings = emulator.settings
    path.write_text(f"""
[server]
listen = "127.0.0.1:{port}"
[wep]
url = "{emulator.url}"
username = "{settings.username}"
password = "{settings.password}"
user_nonce = "{settings.user_nonce}"
user_key = "{settings.user_key}"
[auth]
admin_key = "{ADMIN_KEY}"
viewer_auth = false
[sources]
idle_close_after = 2.0
[pushes]
db_path = "{db_path}"
""")


async def start_gateway(config: Path, log: Path, base: str) -> asyncio.subprocess.Process:
    with open(log, "ab") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway.cli", "serve", "--config", str(config),
            cwd=REPO, stdout=output, stderr=output, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    async with aiohttp.ClientSession() as http:
        for _ in range(150):
            if process.returncode is not None:
                raise AssertionError(f"gateway exited: {log.read_text()[-2000:]}")
            try:
                async with http.get(f"{base}/readyz") as resp:
                    if resp.status == 200:
                        return process
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    process.kill()
    raise AssertionError(f"gateway not ready: {log.read_text()[-2000:]}")


async def test_pushes_come_back_after_sigkill(emulator, nginx, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config, log, db_path = tmp_path / "gateway.toml", tmp_path / "gateway.log", tmp_path / "var" / "pushes.sqlite3"
    write_config(config, emulator, port, db_path)
    process = await start_gateway(config, log, base)
    try:
        async with aiohttp.ClientSession(headers=ADMIN) as http:
            created = {}
            for key, body in {
                "gw-key-0123456789": {"camera": emulator.camera_ids[0], "mode": "gateway", "media": "both"},
                "wep-key-0123456789": {"camera": emulator.camera_ids[1], "mode": "wep", "quality": "low"},
            }.items():
                async with http.post(f"{base}/api/v1/pushes", json={**body, "url": nginx.url("live", key)}) as resp:
                    assert resp.status == 201, await resp.text()
                    created[key] = (await resp.json())["id"]
            for push_id in created.values():
                view = await wait_for_state(http, f"{base}/api/v1/pushes/{push_id}", {"live"}, 30)
                assert view["state"] == "live", view

            process.send_signal(signal.SIGKILL)
            await process.wait()
            # Pushed by WEP, the wep-mode stream outlives the gateway; the gateway's own ends
            # with the process. Kill the receiver too, so both must be started again.
            nginx.kill()
            nginx.start()

            process = await start_gateway(config, log, base)
            async with http.get(f"{base}/api/v1/pushes") as resp:
                restored = {view["id"]: view for view in (await resp.json())["pushes"]}
            assert set(restored) == set(created.values())
            for push_id in created.values():
                view = await wait_for_state(http, f"{base}/api/v1/pushes/{push_id}", {"live"}, 30)
                assert view["state"] == "live", view
            await asyncio.sleep(2.0)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()
    for key in ("gw-key-0123456789", "wep-key-0123456789"):
        recordings = nginx.recordings(key)
        assert len(recordings) >= 2, (key, recordings)  # before the kill, and after the restart
        assert probe(recordings[-1])["frames"]["video"]
    logged = log.read_text()
    assert "restored 2 push(es)" in logged and "live/gw***" in logged
    assert "0123456789" not in logged  # the keys never reach the gateway's log
