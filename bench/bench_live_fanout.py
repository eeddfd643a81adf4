"""/live progressive viewers next to LL-HLS players: one camera, one gateway, one run.

Issue 19: /live with N viewers should cost the gateway no more CPU than N LL-HLS players.
The processes are bench_hls_fanout.py's (its WEP emulator with 1 camera, its gateway as
`wep-gateway serve` runs it, its LL-HLS load generator), plus a /live load generator here:
N viewers on raw asyncio sockets, each `GET /live/{camera}.mp4?quality=` over HTTP/1.1
(chunked), reading the stream as fast as it comes.

Rows, each measured for --seconds after a warm-up:
- idle: the camera's source running, nobody watching (what every row pays anyway);
- /live: N progressive viewers (the hub's fan-out, gateway/live/fanout.py);
- LL-HLS: N hls.js-style players (blocking reload + preload-hinted part; the HLS muxer
  runs for them).
Per row: gateway CPU% of one core and RSS, load generator CPU%, what the viewers received
(kB/s each: the slowest and the mean) and errors (a viewer whose stream ended early).

    .venv/bin/python bench/bench_live_fanout.py [--viewers 300] [--seconds 15] [--quality low]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import bench_hls_fanout as hls

WARMUP = hls.WARMUP
IDLE_SECONDS = 5.0  # the source stays up `[sources] idle_close_after` (10 s) after its last viewer


# -- child: /live load generator ---------------------------------------------------------
class LiveViewer(asyncio.Protocol):
    """One progressive viewer: counts the body bytes that arrive after `measure_from`."""

    def __init__(self, measure_from: float):
        self.measure_from = measure_from
        self.head = b""
        self.status = 0
        self.received = 0
        self.ended = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self.status:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            self.status = int(self.head[9:12])
            data = self.head[end + 4 :]
        if time.time() >= self.measure_from:
            self.received += len(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ended.done():
            self.ended.set_result(None)


async def live_load(args) -> None:
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    loop = asyncio.get_running_loop()
    measure_from = time.time() + WARMUP
    stop_at = measure_from + args.seconds
    viewers = []
    request = f"GET {args.path} HTTP/1.1\r\nHost: {args.host}\r\n\r\n".encode()
    for _ in range(args.n):
        await asyncio.sleep(min(1.0, WARMUP / 2) / args.n)  # connect over ~1 s, not at once
        viewer = LiveViewer(measure_from)
        await loop.create_connection(lambda viewer=viewer: viewer, args.host, args.port)
        viewer.transport.write(request)
        viewers.append(viewer)
    await asyncio.sleep(max(0.0, measure_from - time.time()))
    cpu0 = os.times()
    print("START", flush=True)
    await asyncio.sleep(max(0.0, stop_at - time.time()))
    cpu1 = os.times()
    ended = sum(1 for viewer in viewers if viewer.ended.done() or viewer.status != 200)
    rates = [viewer.received / args.seconds / 1024 for viewer in viewers]
    for viewer in viewers:
        viewer.transport.close()
    print(
        json.dumps(
            {
                "cpu": (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / args.seconds,
                "kbs": [min(rates), sum(rates) / len(rates)],
                "errors": ended,
            }
        ),
        flush=True,
    )


# -- orchestrator -------------------------------------------------------------------------
async def idle(pid: int, seconds: float) -> dict:
    cpu0, t0 = hls.cpu_seconds(pid), time.time()
    await asyncio.sleep(seconds)
    cpu1, t1 = hls.cpu_seconds(pid), time.time()
    return {"server_cpu": (cpu1 - cpu0) / (t1 - t0), "server_rss": hls.rss_mib(pid), "cpu": 0.0}


async def touch_live(port: int, path: str) -> None:
    """Start the camera's source: one /live viewer reads its first bytes and leaves."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"GET {path}: {head[:40]!r}")
    await asyncio.wait_for(reader.read(4096), 30)
    writer.close()


async def orchestrate(args) -> None:
    cache = Path(tempfile.gettempdir()) / "wep-gateway-bench-cache"
    cache.mkdir(exist_ok=True)
    emulator, line = await hls.spawn(sys.executable, "-c", hls.EMULATOR, str(cache))
    emulator_url, camera = line.split()
    gateway, port_line = await hls.spawn(sys.executable, "-c", hls.GATEWAY, emulator_url)
    port = int(port_line)
    live_path = f"/live/{camera}.mp4?quality={args.quality}"
    rows = []
    try:
        await touch_live(port, live_path)
        await asyncio.sleep(2.0)  # the first viewer's connection is gone
        rows.append(("idle", 0, await idle(gateway.pid, IDLE_SECONDS)))
        common = ["--n", str(args.viewers), "--seconds", str(args.seconds), "--host", "127.0.0.1", "--port", str(port)]
        result = await hls.run_load([gateway.pid], *common, "--path", live_path, script=__file__)
        rows.append(("/live", args.viewers, result))
        result = await hls.run_load(
            [gateway.pid], *common, "--mode", "gateway", "--style", "hlsjs", "--prefix", f"/hls/{camera}/{args.quality}"
        )
        rows.append(("LL-HLS", args.viewers, result))
    finally:
        await hls.stop(gateway)
        await hls.stop(emulator)
    print(
        f"\n/live and LL-HLS, 1 camera ({args.quality}), {args.seconds:.0f} s measured per row after "
        f"{WARMUP:.0f} s warm-up (idle: {IDLE_SECONDS:.0f} s), {os.cpu_count()} cores shared"
    )
    header = (
        f"{'output':8} {'viewers':>7} {'srv CPU%':>8} {'srv RSS MiB':>11} {'gen CPU%':>8} "
        f"{'min kB/s':>8} {'mean kB/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"
    )
    print(header)
    print("-" * len(header))
    for output, n, r in rows:
        low, mean = r.get("kbs", [float("nan")] * 2)
        p50, p99 = r.get("delays", [float("nan")] * 2)
        print(
            f"{output:8} {n:7d} {100 * r['server_cpu']:8.1f} {r['server_rss']:11.1f} {100 * r['cpu']:8.1f} "
            f"{low:8.1f} {mean:9.1f} {1000 * p50:7.1f} {1000 * p99:7.1f} {r.get('errors', 0):6d}"
        )
    print("p50/p99 (LL-HLS): part completed in the muxer -> its bytes at the player")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--quality", default="low", choices=("high", "low"))
    parser.add_argument("--loadgen", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int)
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--path")
    args = parser.parse_args()
    if args.loadgen:
        import uvloop

        uvloop.run(live_load(args))
        return
    asyncio.run(orchestrate(args))


if __name__ == "__main__":
    sys.path.insert(0, str(hls.ROOT))
    main()
