"""The CLI hook beside the WEP emulator (`wep-gateway emulator --alta`), and stop()."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from pathlib import Path

import aiohttp

from gateway.emulator.server import add_arguments, alta_settings_from_args, run_from_args

ROOT = Path(__file__).resolve().parents[3]
SMALL_WEP = ("--cameras", "1", "--loop-seconds", "4", "--high-size", "640x360", "--low-size", "320x180")


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_defaults():
    assert alta_settings_from_args(parse()) is None
    settings = alta_settings_from_args(parse("--alta"))
    assert (settings.host, settings.port, settings.tls, settings.webhook_url) == ("127.0.0.1", 8082, True, "")
    settings = alta_settings_from_args(parse("--alta", "--http", "--alta-listen", "0.0.0.0:9000",
                                             "--alta-webhook", "http://127.0.0.1:8080/alta/webhook/s"))  # fmt: skip
    assert (settings.host, settings.port, settings.tls) == ("0.0.0.0", 9000, False)
    assert settings.webhook_url == "http://127.0.0.1:8080/alta/webhook/s"


async def test_run_from_args_starts_it_beside_the_wep_emulator(emulator_cache, capsys):
    args = parse("--listen", "127.0.0.1:0", "--http", *SMALL_WEP, "--cache-dir", emulator_cache,
                 "--alta", "--alta-listen", "127.0.0.1:0")  # fmt: skip
    task = asyncio.create_task(run_from_args(args))
    printed = ""
    try:
        while "alarms/faults/stats" not in printed:
            assert not task.done(), task.exception()
            await asyncio.sleep(0.05)
            printed += capsys.readouterr().out
        lines = printed.splitlines()
        assert lines[0].startswith("WEP emulator: http://127.0.0.1:")
        first = lines.index(next(line for line in lines if line.startswith("Alta emulator: ")))
        url = lines[first].split()[2]
        assert url.startswith("http://127.0.0.1:") and lines[first].endswith("(2 alarm zones)")
        assert lines[first + 1] == ("  username=operator@example.com password=alta-emulator"
                                    "  (POST /api/v1/dologin, cookie _alta_session)")  # fmt: skip
        assert lines[first + 2] == ("  zones: 1 Warehouse Perimeter (devices 101, 102);"
                                    " 2 Main Office (devices 201, 202)")  # fmt: skip
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            login = {"username": "operator@example.com", "password": "alta-emulator"}
            async with http.post(url + "/api/v1/dologin", json=login) as resp:
                assert resp.status == 200
            async with http.post(url + "/_emulator/alarms", json={"zone": 2}) as resp:
                guid = (await resp.json())["alert"]["guid"]
            async with http.get(url + "/api/v1/ongoingAlerts") as resp:
                assert [a["guid"] for a in (await resp.json())["alerts"]] == [guid]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_the_command_line_starts_it(emulator_cache):
    """`python -m gateway.cli emulator --http --alta ...` as a user would run it; SIGINT ends it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "emulator", "--http", "--listen", "127.0.0.1:0", *SMALL_WEP,
        "--cache-dir", emulator_cache, "--alta", "--alta-listen", "127.0.0.1:0",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        url = None
        deadline = time.monotonic() + 120  # a cold cache encodes the WEP emulator's loop first
        while url is None:
            line = await asyncio.wait_for(process.stdout.readline(), max(0.1, deadline - time.monotonic()))
            assert line, (await process.stderr.read()).decode()
            if line.startswith(b"Alta emulator: "):
                url = line.split()[2].decode()
        async with aiohttp.ClientSession() as http:
            async with http.post(url + "/api/v1/dologin", json={"username": "x@example.com", "password": "x"}) as resp:
                assert resp.status == 401
            async with http.get(url + "/api/v1/alarmZones") as resp:
                assert resp.status == 401
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_bad_settings_are_one_line(tmp_path):
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "emulator", "--http", "--cache-dir", str(tmp_path),
        "--alta", "--alta-webhook", "ftp://example.com/hook",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert stderr.decode().strip().splitlines()[-1] == (
        "wep-gateway emulator: webhook_url must be empty or an http(s) URL, not 'ftp://example.com/hook'"
    )
