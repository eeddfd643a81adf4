"""Snapshot cache hits: requests per second and p99 latency of the gateway next to nginx
serving the same JPEG from disk, measured in the same run, plus upstream fetches saved.

    .venv/bin/python bench/bench_snapshots.py [--duration 5] [--connections 32] [--rounds 2] [--viewer-auth]

`--viewer-auth` runs the gateway as `serve` defaults to, every request with a viewer token.

The emulator and the gateway (uvloop, production logging) run in this process; nginx (Debian,
`worker_processes 1`, temp config and dir, 127.0.0.1) runs beside it; load comes from a
separate process: wrk (`apt-get install -y wrk`) if installed, else this script's own aiohttp
loader (`--load URL`), which is slower and then caps both columns. One server process, one
core each: nginx with one worker against one gateway process, same connections, same file.
Target: cache hits at least half of nginx's rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

NGINX_CONF = """\
{user}
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    types {{ image/jpeg jpg; }}
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    open_file_cache max=16 inactive=60s;
    open_file_cache_valid 60s;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {dir}/www;
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout:.0f} s") from None
            await asyncio.sleep(0.05)


# -- load generators (separate processes) ---------------------------------------------------


def _wrk_duration_ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


async def run_wrk(url: str, connections: int, duration: float) -> dict:
    process = await asyncio.create_subprocess_exec(
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration:.0f}s",
        "--latency",
        "--timeout",
        "5s",
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), duration + 30)
    text = out.decode()
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.MULTILINE)
    total = re.search(r"(\d+) requests in", text)
    if not (rate and p99 and total):
        raise RuntimeError(f"cannot read wrk output: {text or err.decode()}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return {
        "rps": float(rate.group(1)),
        "p99_ms": _wrk_duration_ms(*p99.groups()),
        "requests": int(total.group(1)),
        "errors": (int(bad.group(1)) if bad else 0) + (sum(map(int, errors.groups())) if errors else 0),
    }


async def run_loader(url: str, connections: int, duration: float) -> dict:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--load",
        url,
        "--connections",
        str(connections),
        "--duration",
        str(duration),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(process.communicate(), duration + 30)
    return json.loads(out)


async def load(url: str, connections: int, duration: float) -> dict:
    """The aiohttp loader: `connections` keep-alive workers, each one request at a time."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    stop_at = time.monotonic() + duration

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            async with http.get(url) as response:
                await response.read()
                errors += response.status != 200
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as http:
        started = time.monotonic()
        await asyncio.gather(*(worker(http) for _ in range(connections)))
        elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "requests": len(latencies),
        "errors": errors,
    }


# -- the run --------------------------------------------------------------------------------


async def start_gateway(tmp: Path, viewer_auth: bool):
    from aiohttp import web

    from gateway.app import create_app
    from gateway.emulator.server import Emulator
    from gateway.emulator.settings import EmulatorSettings
    from gateway.snapshots.fast_path import GatewayRunner
    from tests.conftest import config_for

    emulator = Emulator(
        EmulatorSettings(
            host="127.0.0.1",
            port=0,
            tls=False,
            cameras=1,
            loop_seconds=2.0,
            fps=15,
            high_size=(1280, 720),
            low_size=(320, 180),
            high_bitrate=800_000,
            low_bitrate=200_000,
            cache_dir=str(tmp / "emulator"),
        )
    )
    await emulator.start()
    # viewer_auth on (the default of `serve`): every request carries a viewer token.
    app = create_app(config_for(emulator, auth={"viewer_auth": viewer_auth, "token_secret": "b" * 40}))
    # As `wep-gateway serve` runs it (gateway/cli.py): the snapshot fast path, no access log.
    runner = GatewayRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return emulator, app, runner, f"http://127.0.0.1:{port}"


async def start_aiohttp_ceiling(jpeg: bytes) -> tuple[object, str]:
    """The framework's own ceiling: a bare aiohttp handler returning the bytes, no middleware,
    no parsing, on the same loop. What the gateway's hit path can at best approach."""
    from aiohttp import web

    async def bare(request: web.Request) -> web.Response:
        return web.Response(body=jpeg, content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/snapshot.jpg", bare)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/snapshot.jpg"


async def start_nginx(tmp: Path, jpeg: bytes) -> tuple[asyncio.subprocess.Process, str]:
    (tmp / "www").mkdir()
    (tmp / "www" / "snapshot.jpg").write_bytes(jpeg)
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""  # workers must read the 0700 temp dir
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(user=user, dir=tmp, port=port))
    with (tmp / "nginx.stderr").open("wb") as stderr:  # nginx keeps its own copy of the descriptor
        process = await asyncio.create_subprocess_exec(
            shutil.which("nginx") or "/usr/sbin/nginx",
            "-p",
            str(tmp),
            "-c",
            str(tmp / "nginx.conf"),
            stderr=stderr,
        )
    try:
        await wait_listening(port)
    except RuntimeError:
        raise RuntimeError(f"nginx did not start: {(tmp / 'nginx.stderr').read_text().strip()}") from None
    return process, f"http://127.0.0.1:{port}/snapshot.jpg"


async def main(args: argparse.Namespace) -> int:
    import aiohttp

    from gateway.services import CONFIG
    from gateway.snapshots.routes import SNAPSHOTS

    measure = run_wrk if shutil.which("wrk") else run_loader
    loader = "wrk -t1" if shutil.which("wrk") else "aiohttp loader (wrk not installed)"
    with tempfile.TemporaryDirectory(prefix="bench-snapshots-") as tmp_name:
        tmp = Path(tmp_name)
        emulator, app, runner, base = await start_gateway(tmp, args.viewer_auth)
        nginx = ceiling = None
        try:
            camera = emulator.camera_ids[0]
            past = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
            full_url = f"{base}/api/v1/cameras/{camera}/snapshot.jpg?t={past}"
            if args.viewer_auth:
                from gateway.auth.routes import TOKENS

                token, _ = app[TOKENS].mint([camera], ["snapshot"], 3600)
                full_url += f"&token={token}"
            crop_url = f"{full_url}&roi=0.25,0.25,0.75,0.75&size=320x180"
            async with aiohttp.ClientSession() as http:
                async with http.get(full_url) as response:
                    assert response.status == 200, await response.text()
                    jpeg = await response.read()
                async with http.get(crop_url) as response:
                    assert response.status == 200, await response.text()
            nginx, nginx_url = await start_nginx(tmp, jpeg)
            ceiling, ceiling_url = await start_aiohttp_ceiling(jpeg)
            renders_before = sum(emulator.stats["jpeg_renders"].values())
            store = app[SNAPSHOTS]
            targets = [
                ("nginx, file from disk", nginx_url),
                ("gateway, cache hit (full frame)", full_url),
                ("gateway, cache hit (ROI crop)", crop_url),
                ("bare aiohttp handler (ceiling)", ceiling_url),
            ]
            results: dict[str, list[dict]] = {name: [] for name, _ in targets}
            served = 0
            for _ in range(args.rounds):  # interleaved, so drift on a shared machine hits all alike
                for name, url in targets:
                    result = await measure(url, args.connections, args.duration)
                    results[name].append(result)
                    served += result["requests"] if name.startswith("gateway") else 0
            renders_during = sum(emulator.stats["jpeg_renders"].values()) - renders_before
        finally:
            if nginx is not None and nginx.returncode is None:
                nginx.terminate()
                await asyncio.wait_for(nginx.wait(), 10)
            if ceiling is not None:
                await ceiling.cleanup()
            await runner.cleanup()
            await emulator.stop()

    print(
        f"\nsnapshot cache hits vs nginx: {len(jpeg)} B JPEG (1280x720), {args.connections} connections, "
        f"{args.rounds} x {args.duration:.0f} s per target, load from {loader}\n"
    )
    # Medians over the rounds: the machine is shared, single runs swing by a third.
    best = {
        name: {"rps": statistics.median(r["rps"] for r in runs), "p99_ms": statistics.median(r["p99_ms"] for r in runs)}
        for name, runs in results.items()
    }
    reference = best[targets[0][0]]["rps"]
    print(f"{'target (median of rounds)':34} {'req/s':>9} {'p99 ms':>8} {'vs nginx':>9} {'errors':>7}   runs req/s")
    for name, result in best.items():
        runs = " ".join(f"{r['rps']:.0f}" for r in results[name])
        errors = sum(r["errors"] for r in results[name])
        print(
            f"{name:34} {result['rps']:9.0f} {result['p99_ms']:8.2f} {result['rps'] / reference:9.2f} {errors:7d}   {runs}"
        )
    stats = store.stats
    fast = runner.fast_path
    print(
        "\nfast path (gateway/snapshots/fast_path.py): "
        + (
            f"{fast.stats.answered} requests answered below aiohttp, viewer_auth "
            f"{'on' if app[CONFIG].auth.viewer_auth else 'off'}"
            if fast is not None
            else "OFF"
        )
    )
    print(
        f"upstream fetches: {renders_during} emulator renders for {served} gateway requests under load "
        f"(fetches saved: {served - renders_during}); store: hits {stats.hits}, misses {stats.misses}, "
        f"upstream fetches {stats.upstream_fetches}, local crops {stats.local_crops}"
    )
    worst = min(best[name]["rps"] for name, _ in targets[1:3]) / reference
    verdict = "met" if worst >= 0.5 else "NOT met"
    print(f"target (cache hits >= 0.5 x nginx): {verdict} ({worst:.2f})")
    return 0 if worst >= 0.5 else 1


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per target per round")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--viewer-auth", action="store_true", help="viewer tokens on, as `serve` defaults to")
    parser.add_argument("--load", metavar="URL", help=argparse.SUPPRESS)  # the loader subprocess
    args = parser.parse_args()
    if args.load:
        print(json.dumps(asyncio.run(load(args.load, args.connections, args.duration))))
        return 0
    from gateway.logs import configure_logging

    configure_logging("text", logging.WARNING)
    import uvloop

    return uvloop.run(main(args))


if __name__ == "__main__":
    sys.exit(cli())
