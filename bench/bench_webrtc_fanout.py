"""WebRTC fan-out: one camera at about 2 Mbps to N WHEP viewers (aiortc, not decoding).

Processes: the WEP emulator (1 camera, 1280x720 15 fps, 2 Mbps), the gateway (uvloop,
create_app, plus a bench-only stats route), and viewer processes of up to 25 aiortc
peer connections each that count reassembled H.264 frames without decoding them. The
viewers run at nice 10: they play browsers on other machines, and 100 of them need
about a core of this 2-core machine, so at equal priority they would preempt the
gateway mid-burst and the delay would measure the scheduler, not the gateway.

For each N: the viewers connect, a warm-up passes, then over a measuring window the
gateway reports its CPU seconds, RSS, frames sent, and the delay from a sample's arrival
at the hub (Frame.published_at) to the end of its RTP send (the track's recv()
instrumentation), p50/p99. The N=1 row is the reference measured in the same run.

    .venv/bin/python bench/bench_webrtc_fanout.py [--viewers 1,10,50,100] [--window 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import sys
import time
from pathlib import Path

from coordinator import ROOT, add_bench_route, finish, http_json, read_json, spawn

sys.path.insert(0, str(ROOT))

PER_PROCESS = 25
VIEWER_NICENESS = 10  # --viewer-nice 0 shows what sharing the cores at equal priority costs
CACHE = Path.home() / ".cache" / "wep-gateway" / "bench-emulator-noisy"


# ---- emulator process ----------------------------------------------------------------
async def run_emulator() -> None:
    import numpy as np

    from gateway.emulator import encode
    from gateway.emulator.server import Emulator
    from gateway.emulator.settings import EmulatorSettings

    # The emulator's test pattern is flat and compresses to ~0.1 Mbps; real cameras fill
    # their bitrate. Sensor-like noise (bench only) makes x264 reach the 2 Mbps VBV cap.
    pattern = encode.render_frame
    noise = np.random.default_rng(7)

    def noisy_frame(*args, **kwargs):
        frame = pattern(*args, **kwargs)
        grain = noise.integers(-12, 13, size=frame.shape, dtype=np.int16)
        return np.clip(frame.astype(np.int16) + grain, 0, 255).astype(np.uint8)

    encode.render_frame = noisy_frame
    CACHE.mkdir(parents=True, exist_ok=True)
    settings = EmulatorSettings(
        host="127.0.0.1",
        port=0,
        cameras=1,
        tls=False,
        cache_dir=str(CACHE),
        high_size=(1280, 720),
        high_bitrate=2_000_000,
        fps=15,
        loop_seconds=8.0,
    )
    emulator = Emulator(settings)
    await emulator.start()
    print(json.dumps({"url": emulator.url, "camera": emulator.camera_ids[0]}), flush=True)
    try:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        await emulator.stop()


# ---- gateway process -----------------------------------------------------------------
def _rss_kib() -> tuple[int, int]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


async def run_gateway(emulator_url: str) -> None:
    import dataclasses

    from aiohttp import web

    from gateway.app import create_app
    from gateway.config import Config
    from gateway.emulator.settings import EmulatorSettings
    from gateway.webrtc.routes import WHEP_SESSIONS

    emu = EmulatorSettings()
    base = Config()
    config = dataclasses.replace(
        base,
        wep=dataclasses.replace(
            base.wep,
            url=emulator_url,
            username=emu.username,
            password=emu.password,
            user_nonce=emu.user_nonce,
            user_key=emu.user_key,
        ),
        auth=dataclasses.replace(base.auth, viewer_auth=False),
    )
    app = create_app(config)
    mark = {"cpu": 0.0, "at": 0.0, "frames": 0, "bytes": 0}

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    async def reset(request: web.Request) -> web.Response:
        counters = request.app[WHEP_SESSIONS].counters
        counters.send_delay.reset()
        mark.update(cpu=cpu(), at=time.monotonic(), frames=counters.frames_sent, bytes=counters.bytes_sent)
        return web.json_response({})

    async def stats(request: web.Request) -> web.Response:
        sessions = request.app[WHEP_SESSIONS]
        counters = sessions.counters
        rss, peak = _rss_kib()
        return web.json_response(
            {
                "sessions": len(sessions),
                "seconds": time.monotonic() - mark["at"],
                "cpu": cpu() - mark["cpu"],
                "frames_sent": counters.frames_sent - mark["frames"],
                "bytes_sent": counters.bytes_sent - mark["bytes"],
                "p50": counters.send_delay.percentile(0.50),
                "p99": counters.send_delay.percentile(0.99),
                "max": counters.send_delay.maximum,
                "delays": counters.send_delay.total,
                "rss_kib": rss,
                "peak_rss_kib": peak,
                "keyframe_requests": counters.keyframe_requests,
            }
        )

    add_bench_route(app, "POST", "/_bench/reset", reset)
    add_bench_route(app, "GET", "/_bench/stats", stats)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print(json.dumps({"url": f"http://127.0.0.1:{port}"}), flush=True)
    try:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        await runner.cleanup()


# ---- viewer process ------------------------------------------------------------------
async def run_viewers(url: str, count: int, niceness: int) -> None:
    import aiohttp

    # The viewers stand in for browsers on other machines: at a lower priority, they take
    # the CPU the gateway leaves instead of preempting it in the middle of a frame's burst.
    os.nice(niceness)

    from tests.webrtc.whep_viewer import WhepViewer, counting_decoders

    with counting_decoders():
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            viewers = [WhepViewer(http, url) for _ in range(count)]
            for viewer in viewers:
                await viewer.start()
                await asyncio.sleep(0.05)  # a steady join rate, like real viewers
            print(json.dumps({"ready": count}), flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            usage0 = resource.getrusage(resource.RUSAGE_SELF)
            frames = [viewer.tally.frames for viewer in viewers]
            print(json.dumps({"frames": frames}), flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            frames_end = [viewer.tally.frames for viewer in viewers]
            usage1 = resource.getrusage(resource.RUSAGE_SELF)
            cpu = usage1.ru_utime + usage1.ru_stime - usage0.ru_utime - usage0.ru_stime
            print(json.dumps({"frames": frames_end, "cpu": cpu}), flush=True)
            for viewer in viewers:
                await viewer.stop()


# ---- coordinator ---------------------------------------------------------------------
def measure(gateway: str, camera: str, viewers: int, warmup: float, window: float, niceness: int) -> dict:
    whep = f"{gateway}/whep/{camera}?quality=high"
    groups = [min(PER_PROCESS, viewers - start) for start in range(0, viewers, PER_PROCESS)]
    processes = [
        spawn(__file__, "--role", "viewers", "--url", whep, "--count", str(count), "--viewer-nice", str(niceness))
        for count in groups
    ]
    try:
        for process in processes:
            read_json(process, 180)
        time.sleep(warmup)
        http_json("POST", f"{gateway}/_bench/reset")
        for process in processes:
            process.stdin.write("mark\n")
            process.stdin.flush()
        before = [frame for process in processes for frame in read_json(process, 30)["frames"]]
        started = time.monotonic()
        time.sleep(window)
        stats = http_json("GET", f"{gateway}/_bench/stats")
        elapsed = time.monotonic() - started
        viewer_cpu = 0.0
        after = []
        for process in processes:
            process.stdin.write("end\n")
            process.stdin.flush()
            answer = read_json(process, 30)
            after += answer["frames"]
            viewer_cpu += answer["cpu"]
        received = [b - a for a, b in zip(before, after)]
        stats.update(
            viewers=viewers,
            received_fps=sum(received) / len(received) / elapsed,
            min_fps=min(received) / elapsed,
            viewer_cpu=viewer_cpu,
        )
        return stats
    finally:
        for process in processes:
            finish(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--role", choices=["coordinator", "emulator", "gateway", "viewers"], default="coordinator")
    parser.add_argument("--url", default="")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--viewer-nice", type=int, default=VIEWER_NICENESS)
    parser.add_argument("--viewers", default="1,10,50,100")
    parser.add_argument("--warmup", type=float, default=6.0)
    parser.add_argument("--window", type=float, default=15.0)
    args = parser.parse_args()
    if args.role != "coordinator":
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        target = {
            "emulator": run_emulator,
            "gateway": lambda: run_gateway(args.url),
            "viewers": lambda: run_viewers(args.url, args.count, args.viewer_nice),
        }[args.role]
        asyncio.run(target())
        return

    emulator = spawn(__file__, "--role", "emulator")
    gateway = None
    try:
        emu = read_json(emulator, 600)  # the first run encodes the 720p loop (cached after)
        gateway = spawn(__file__, "--role", "gateway", "--url", emu["url"])
        gw = read_json(gateway, 60)
        rows = [
            measure(gw["url"], emu["camera"], int(n), args.warmup, args.window, args.viewer_nice)
            for n in args.viewers.split(",")
        ]
    finally:
        for process in (gateway, emulator):
            if process is not None:
                finish(process)

    print(
        f"\nWebRTC fan-out, one camera 1280x720 15 fps ~2 Mbps, {os.cpu_count()} CPUs, window {args.window:.0f} s, "
        f"viewers at nice {args.viewer_nice}"
    )
    header = (
        f"{'viewers':>7} {'gw CPU %':>9} {'CPU ms/viewer-s':>15} {'RSS MiB':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'max ms':>7} {'Mbps/viewer':>11} {'sent fps':>8} {'recv fps':>8} {'min fps':>7} {'viewers CPU %':>13}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        seconds = row["seconds"]
        print(
            f"{row['viewers']:>7} {100 * row['cpu'] / seconds:>9.1f} "
            f"{1000 * row['cpu'] / (row['viewers'] * seconds):>15.2f} {row['rss_kib'] / 1024:>8.0f} "
            f"{1000 * row['p50']:>7.1f} {1000 * row['p99']:>7.1f} {1000 * row['max']:>7.1f} "
            f"{8 * row['bytes_sent'] / row['viewers'] / seconds / 1e6:>11.2f} "
            f"{row['frames_sent'] / row['viewers'] / seconds:>8.1f} {row['received_fps']:>8.1f} "
            f"{row['min_fps']:>7.1f} {100 * row['viewer_cpu'] / seconds:>13.0f}"
        )
    worst = rows[-1]
    verdict = "meets" if worst["p99"] < 0.050 else "misses"
    print(f"\n{worst['viewers']} viewers: p99 hub-to-RTP {1000 * worst['p99']:.1f} ms ({verdict} the 50 ms target)")


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main()
