"""`wep-gateway serve` as a process: bad upstream situations give clear lines, never a traceback."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(tmp_path: Path, wep_url: str, password: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(f'''
[server]
listen = "127.0.0.1:{free_port()}"
[wep]
url = "{wep_url}"
username = "admin"
password = "{password}"
user_nonce = "wep-emulator-nonce"
user_key = "wep-emulator-key"
[auth]
viewer_auth = false
''')
    return path


async def serve(config: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        "serve",
        "--config",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def stderr_at_exit(process: asyncio.subprocess.Process, timeout: float) -> str:
    """The process's stderr once it exits; killed if it has not within `timeout`."""
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout)
    finally:
        if process.returncode is None:
            process.kill()
    return stderr.decode()


async def test_a_refused_login_stops_the_service_with_one_clear_line(emulator, tmp_path):
    process = await serve(write_config(tmp_path, emulator.url, "not-the-password"))
    text = await stderr_at_exit(process, 60)
    assert process.returncode == 2, text
    refused = [line for line in text.splitlines() if "ERROR" in line]
    assert len(refused) == 1 and "WEP refused the login" in refused[0] and "check [wep]" in refused[0]
    assert "Traceback" not in text and "not-the-password" not in text


async def test_a_wep_answering_garbage_is_retried_with_backoff(aiohttp_server, tmp_path):
    async def garbage(request: web.Request) -> web.Response:
        return web.Response(text="<html>maintenance</html>", content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", garbage)
    upstream = await aiohttp_server(app)
    process = await serve(write_config(tmp_path, str(upstream.make_url("")).rstrip("/"), "admin"))
    await asyncio.sleep(5)  # attempts at 0, 1 and 3 s
    kept_running = process.returncode is None
    if kept_running:
        process.send_signal(signal.SIGTERM)
    text = await stderr_at_exit(process, 30)
    assert kept_running, f"the service must keep running and retry: {text}"
    assert process.returncode == 0, text
    retries = [line for line in text.splitlines() if "WEP not reachable yet" in line]
    assert len(retries) >= 2 and "retrying in" in retries[0], text
    assert "Traceback" not in text


def test_emulator_with_bad_amcrest_settings_exits_with_one_line():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "emulator", "--http", "--listen", "127.0.0.1:0", "--amcrest", "70"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["wep-gateway emulator: channels must be 1..64, not 70"]
