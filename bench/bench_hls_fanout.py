"""LL-HLS fan-out: 1 camera, N simulated LL-HLS players, next to nginx serving the same parts.

Processes (so each one's CPU is its own):
- the WEP emulator (1 camera);
- the gateway (create_app + uvloop + GatewayRunner, as `wep-gateway serve` runs it: live
  HLS answered on the fast path, gateway/hls/fast_path.py; `--runner aiohttp` for every
  request through aiohttp instead), instrumented only to note the wall time each part is
  completed (a bench-only route reads it back);
- a load generator: N players on raw asyncio protocols (keep-alive), each looping blocking
  playlist reload (_HLS_msn/_HLS_part) together with a GET of the preload-hinted part on a
  second connection, as hls.js does in low-latency mode (`--style sequential`: one
  connection, blocking reload then GET of the newest part);
- the reference: Debian nginx on 127.0.0.1 with a temp config, serving the same part bytes
  and a playlist from disk to N players making the same requests at the same rate
  (5 playlist+part pairs per second each; nginx cannot block, so its delay is request to
  response).

Per N: gateway CPU% (of one core), RSS, load generator CPU%, p50/p99 delay from part
completion (in the gateway) to its bytes arriving at a player. The target (issue 19): 1000
players at <= 50 % of a core, p99 < 100 ms, within 2.5x of nginx's CPU in the same run.
bench_live_fanout.py sets /live viewers next to these players.

    .venv/bin/python bench/bench_hls_fanout.py [--players 100,300,1000] [--seconds 15] [--quality low]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
WARMUP = 3.0
PART_RATE = 5.0  # parts per second at the default 0.2 s part target


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- child: emulator --------------------------------------------------------------------
EMULATOR = """
import asyncio, sys
from gateway.emulator.server import Emulator
from gateway.emulator.settings import EmulatorSettings
async def main():
    emu = Emulator(EmulatorSettings(port=0, tls=False, cameras=1, cache_dir=sys.argv[1]))
    await emu.start()
    print(emu.url, emu.camera_ids[0], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""

# -- child: gateway ---------------------------------------------------------------------
GATEWAY = """
import asyncio, dataclasses, json, resource, sys, time
import uvloop
from aiohttp import web
from gateway.app import create_app
from gateway.config import Config
from gateway.hls import muxer as hls_muxer

import logging, os
if os.environ.get("BENCH_DEBUG"):
    logging.basicConfig(level=logging.INFO, format="%(created).3f %(name)s %(message)s")
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
completed = {}
feed = hls_muxer.HlsMuxer.feed
def noting_feed(self, item):
    parts = feed(self, item)
    now = time.time()
    for part in parts:
        completed[part.id] = now
    return parts
hls_muxer.HlsMuxer.feed = noting_feed

async def parts(request):
    return web.json_response(completed)

async def main():
    if len(sys.argv) > 2:  # --profile FILE: cProfile the gateway, written at SIGTERM
        import cProfile, signal
        profiler = cProfile.Profile()
        profiler.enable()
        def dump(*_):
            profiler.disable()
            profiler.dump_stats(sys.argv[2])
            raise SystemExit(0)
        signal.signal(signal.SIGTERM, dump)
    base = Config()
    config = dataclasses.replace(base,
        wep=dataclasses.replace(base.wep, url=sys.argv[1], username="admin", password="admin",
                                user_nonce="wep-emulator-nonce", user_key="wep-emulator-key"),
        auth=dataclasses.replace(base.auth, viewer_auth=False),
        # Every viewer of every bench counted and none refused (/live counts each request).
        limits=dataclasses.replace(base.limits, max_viewers_per_camera=100000, max_viewers_total=100000))
    app = create_app(config)
    app.router.add_get("/_bench/parts", parts)
    # The gateway refuses routes without an access policy; this bench-only one is open.
    from gateway.auth.policy import OPEN, POLICY
    POLICY[("GET", "/_bench/parts")] = OPEN
    from gateway.snapshots.fast_path import GatewayRunner  # as `serve`: HLS on the fast path
    runner = (web.AppRunner if os.environ.get("BENCH_RUNNER") == "aiohttp" else GatewayRunner)(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
uvloop.run(main())
"""


# -- child: load generator --------------------------------------------------------------
class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request at a time; GET only; Content-Length
    bodies only. A protocol rather than asyncio streams: 1000 players' answers come in one
    burst when a part completes, and the time this process takes to read them is in every
    delay measured (with streams, and a task per request pair, it was most of it)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._buffer = bytearray()
        self._answer: asyncio.Future | None = None

    async def connect(self) -> None:
        if self.transport is None:
            await asyncio.get_running_loop().create_connection(lambda: self, self.host, self.port)

    async def get(self, path: str) -> tuple[int, bytes]:
        await self.connect()
        return await self.request(path)

    def request(self, path: str) -> asyncio.Future:
        """Send the request now; the future is its (status, body)."""
        answer = self._answer = asyncio.get_running_loop().create_future()
        if self.transport is None or self.closed:
            answer.set_exception(ConnectionResetError("not connected"))
        else:
            self.transport.write(b"GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path.encode(), self.host.encode()))
        return answer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(ConnectionResetError("connection lost"))

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        length = int(_CONTENT_LENGTH.search(buffer, 0, end).group(1))
        size = end + 4 + length
        if len(buffer) < size:
            return
        status, body = int(buffer[9:12]), bytes(buffer[end + 4 : size])
        del buffer[:size]
        if self._answer is not None and not self._answer.done():
            self._answer.set_result((status, body))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


_CONTENT_LENGTH = re.compile(rb"(?i)content-length: *(\d+)")
_PART = re.compile(rb'#EXT-X-PART:DURATION=[\d.]+,URI="(part(\d+)\.m4s)"')
_MEDIA_SEQUENCE = re.compile(rb"#EXT-X-MEDIA-SEQUENCE:(\d+)")
_SKIPPED = re.compile(rb"#EXT-X-SKIP:SKIPPED-SEGMENTS=(\d+)")


def next_position(text: bytes) -> tuple[int, int, bytes, int]:
    """(msn, part) to block on next; the newest part's name and id."""
    skipped = _SKIPPED.search(text)
    segments = text.count(b"\nseg") + (int(skipped.group(1)) if skipped else 0)
    open_msn = int(_MEDIA_SEQUENCE.search(text).group(1)) + segments
    open_parts = text.count(b"\n#EXT-X-PART:", max(text.rfind(b"\nseg"), 0))  # after the last segment
    name, part_id = _PART.search(text, text.rfind(b"\n#EXT-X-PART:")).groups()
    return open_msn, open_parts, name, int(part_id)


async def llhls_player(host, port, prefix, stop_at, measure_from, received, errors):
    connection = Connection(host, port)
    query = b""
    try:
        while time.time() < stop_at:
            status, text = await connection.get(f"{prefix}/playlist.m3u8{query.decode()}")
            if status != 200:
                errors.append(status)
                await asyncio.sleep(0.2)
                query = b""
                continue
            msn, part, name, part_id = next_position(text)
            status, _ = await connection.get(f"{prefix}/{name.decode()}")
            now = time.time()
            if status != 200:
                errors.append(status)
            elif now >= measure_from:
                received.append((part_id, now))
            query = f"?_HLS_msn={msn}&_HLS_part={part}".encode()
    except (OSError, asyncio.IncompleteReadError) as exc:
        errors.append(type(exc).__name__)
    finally:
        connection.close()


_HINT = re.compile(rb'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="(part(\d+)\.m4s)"')


async def hlsjs_player(host, port, prefix, stop_at, measure_from, received, errors):
    """hls.js in low-latency mode: the blocking reload and the preload-hinted part are
    requested together, on two connections; the part arrives when it is complete."""
    playlists, parts = Connection(host, port), Connection(host, port)
    try:
        status, text = await playlists.get(f"{prefix}/playlist.m3u8")
        await parts.connect()
        while time.time() < stop_at:
            if status != 200:
                errors.append(status)
                await asyncio.sleep(0.2)
                status, text = await playlists.get(f"{prefix}/playlist.m3u8")
                continue
            msn, part, _, _ = next_position(text)
            hint, hint_id = _HINT.search(text).groups()
            fetch_part = parts.request(f"{prefix}/{hint.decode()}")
            status, text = await playlists.request(f"{prefix}/playlist.m3u8?_HLS_msn={msn}&_HLS_part={part}")
            part_status, _body = await fetch_part
            now = time.time()
            if part_status != 200:
                # 404: the player fell more than the parts window behind (start-up storm)
                errors.append(part_status if now >= measure_from else f"warm-up {part_status}")
            elif now >= measure_from:
                received.append((int(hint_id), now))
    except (OSError, asyncio.IncompleteReadError) as exc:
        errors.append(type(exc).__name__)
    finally:
        playlists.close()
        parts.close()


async def static_player(host, port, parts, stop_at, measure_from, latencies, errors):
    connection = Connection(host, port)
    loop = asyncio.get_running_loop()
    tick = loop.time()
    index = 0
    try:
        while time.time() < stop_at:
            started = time.time()
            status, _ = await connection.get("/playlist.m3u8")
            status2, _ = await connection.get(f"/{parts[index % len(parts)]}")
            if status != 200 or status2 != 200:
                errors.append(status)
            elif started >= measure_from:
                latencies.append(time.time() - started)
            index += 1
            tick += 1 / PART_RATE
            await asyncio.sleep(max(0.0, tick - loop.time()))
    except (OSError, asyncio.IncompleteReadError) as exc:
        errors.append(type(exc).__name__)
    finally:
        connection.close()


async def loadgen(args) -> None:
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    start = time.time()
    measure_from = start + WARMUP
    stop_at = measure_from + args.seconds
    errors: list = []
    players = []
    if args.mode == "gateway":
        received: list = []
        for _ in range(args.n):
            player = hlsjs_player if args.style == "hlsjs" else llhls_player
            players.append(player(args.host, args.port, args.prefix, stop_at, measure_from, received, errors))
    else:
        latencies: list = []
        parts = args.parts.split(",")
        players.extend(
            static_player(args.host, args.port, parts, stop_at, measure_from, latencies, errors) for _ in range(args.n)
        )

    async def staggered(i, player):
        await asyncio.sleep(i * min(1.0, WARMUP / 2) / args.n)  # connect over ~1 s, not at once
        await player

    tasks = [asyncio.ensure_future(staggered(i, p)) for i, p in enumerate(players)]
    await asyncio.sleep(max(0.0, measure_from - time.time()))
    cpu0 = os.times()
    print("START", flush=True)
    await asyncio.gather(*tasks)
    cpu1 = os.times()
    cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / max(1e-9, time.time() - measure_from)
    if args.mode == "gateway":
        connection = Connection(args.host, args.port)
        _, body = await connection.get("/_bench/parts")
        connection.close()
        completed = {int(k): v for k, v in json.loads(body).items()}
        delays = [now - completed[part_id] for part_id, now in received if part_id in completed]
        fetched = len(received)
    else:
        delays, fetched = latencies, len(latencies)
    measured_errors = [e for e in errors if not str(e).startswith("warm-up")]
    print(
        json.dumps(
            {
                "cpu": cpu,
                "delays": [percentile(delays, 0.5), percentile(delays, 0.99)],
                "fetched": fetched,
                "errors": len(measured_errors),
                "warmup_errors": len(errors) - len(measured_errors),
                "error_kinds": sorted(set(map(str, errors)))[:5],
            }
        ),
        flush=True,
    )


# -- orchestrator -----------------------------------------------------------------------
async def spawn(*argv: str) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE, cwd=ROOT)
    line = await asyncio.wait_for(process.stdout.readline(), 300)
    if not line:
        raise RuntimeError(f"{argv[:3]} exited before it was ready")
    return process, line.decode().strip()


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def run_load(measured_pids: list[int], *argv: str, script: str = __file__) -> dict:
    """`script --loadgen argv...` (this one's load generator, or another bench's): the CPU
    the measured processes use between its START and its JSON result line."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, script, "--loadgen", *argv, stdout=asyncio.subprocess.PIPE, cwd=ROOT
    )
    try:
        assert (await asyncio.wait_for(process.stdout.readline(), 60)).strip() == b"START"
        cpu0, t0 = sum(cpu_seconds(pid) for pid in measured_pids), time.time()
        result_line = await asyncio.wait_for(process.stdout.readline(), 300)
        cpu1, t1 = sum(cpu_seconds(pid) for pid in measured_pids), time.time()
        result = json.loads(result_line)
        result["server_cpu"] = (cpu1 - cpu0) / (t1 - t0)
        result["server_rss"] = sum(rss_mib(pid) for pid in measured_pids)
        return result
    finally:
        await stop(process)


async def fetch(port: int, path: str) -> bytes:
    connection = Connection("127.0.0.1", port)
    try:
        status, body = await connection.get(path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}")
        return body
    finally:
        connection.close()


def nginx_config(root: Path, port: int) -> str:
    temp = root / "temp"
    return f"""
user root;
daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    types {{ application/vnd.apple.mpegurl m3u8; video/mp4 m4s mp4; }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {root}/www;
        add_header Cache-Control no-cache;
    }}
}}
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def nginx_workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


async def orchestrate(args) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    cache = Path(tempfile.gettempdir()) / "wep-gateway-bench-cache"
    cache.mkdir(exist_ok=True)
    emulator, line = await spawn(sys.executable, "-c", EMULATOR, str(cache))
    emulator_url, camera = line.split()
    if args.runner == "aiohttp":
        os.environ["BENCH_RUNNER"] = "aiohttp"  # the gateway child inherits it
    gateway, port_line = await spawn(
        sys.executable, "-c", GATEWAY, emulator_url, *([args.profile] if args.profile else [])
    )
    port = int(port_line)
    prefix = f"/hls/{camera}/{args.quality}"
    work = Path(tempfile.mkdtemp(prefix="bench-hls-"))
    nginx_process = None
    rows = []
    try:
        playlist = await fetch(port, f"{prefix}/playlist.m3u8")  # starts the muxer
        # The reference serves the very part bytes the gateway made, from disk.
        (work / "www").mkdir()
        (work / "temp").mkdir()
        names = [name.decode() for name, _ in _PART.findall(playlist)]
        for name in names:
            (work / "www" / name).write_bytes(await fetch(port, f"{prefix}/{name}"))
        (work / "www" / "playlist.m3u8").write_bytes(playlist)
        part_bytes = statistics.mean((work / "www" / n).stat().st_size for n in names)
        nginx_port = free_port()
        (work / "nginx.conf").write_text(nginx_config(work, nginx_port))
        nginx_process = await asyncio.to_thread(
            subprocess.Popen, [nginx, "-c", str(work / "nginx.conf"), "-p", str(work)], stderr=subprocess.DEVNULL
        )
        await asyncio.sleep(0.5)
        workers = nginx_workers(nginx_process.pid)
        for n in args.players:
            common = ["--n", str(n), "--seconds", str(args.seconds), "--host", "127.0.0.1", "--style", args.style]
            result = await run_load(
                [gateway.pid], *common, "--mode", "gateway", "--port", str(port), "--prefix", prefix
            )
            rows.append(("gateway", n, result))
            result = await run_load(
                [nginx_process.pid, *workers],
                *common,
                "--mode",
                "nginx",
                "--port",
                str(nginx_port),
                "--parts",
                ",".join(names),
            )
            rows.append(("nginx", n, result))
    finally:
        if nginx_process is not None:
            nginx_process.terminate()
            nginx_process.wait(10)
        await stop(gateway)
        await stop(emulator)
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\nLL-HLS fan-out, 1 camera ({args.quality}, mean part {part_bytes / 1024:.1f} KiB), "
        f"{args.seconds:.0f} s measured per row after {WARMUP:.0f} s warm-up, {os.cpu_count()} cores shared"
    )
    print(f"players: {args.style} style; delay: gateway = part completed in the muxer -> its bytes at the player;")
    print("       nginx   = request -> response for the same playlist + part bytes from disk (no blocking)")
    header = (
        f"{'server':8} {'players':>7} {'parts/s':>8} {'srv CPU%':>8} {'srv RSS MiB':>11} {'gen CPU%':>8} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"
    )
    print(header)
    print("-" * len(header))
    for server, n, r in rows:
        p50, p99 = r["delays"]
        print(
            f"{server:8} {n:7d} {r['fetched'] / args.seconds:8.0f} {100 * r['server_cpu']:8.1f} "
            f"{r['server_rss']:11.1f} {100 * r['cpu']:8.1f} {1000 * p50:7.1f} {1000 * p99:7.1f} {r['errors']:6d}"
        )
    for server, n, r in rows:
        if r["errors"] or r["warmup_errors"]:
            print(f"{server} {n}: {r['errors']} errors measured, {r['warmup_errors']} in warm-up: {r['error_kinds']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--players", default="100,300,1000")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--quality", default="low", choices=("high", "low"))
    parser.add_argument(
        "--style",
        default="hlsjs",
        choices=("hlsjs", "sequential"),
        help="hlsjs: blocking reload and preload-hint part together (default); "
        "sequential: blocking reload, then GET the newest part",
    )
    parser.add_argument("--profile", help="write a cProfile of the gateway process to this file")
    parser.add_argument(
        "--runner",
        default="gateway",
        choices=("gateway", "aiohttp"),
        help="gateway: GatewayRunner as `serve` runs it (default); aiohttp: a plain AppRunner, "
        "every request through aiohttp and the middlewares (the fast path off)",
    )
    parser.add_argument("--loadgen", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=("gateway", "nginx"))
    parser.add_argument("--n", type=int)
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--prefix")
    parser.add_argument("--parts")
    args = parser.parse_args()
    if args.loadgen:
        import uvloop

        uvloop.run(loadgen(args))
        return
    args.players = [int(n) for n in args.players.split(",")]
    asyncio.run(orchestrate(args))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
