"""CPU per gateway-mode RTMP push of one ~2 Mbps camera.

Processes (so each one's CPU is its own):
- the WEP emulator (1 camera, 1280x720 high capped at 2 Mb/s, grain added so it uses it);
- the gateway (`python -m gateway.cli serve`), as deployed;
- Debian nginx-rtmp on 127.0.0.1 (temp prefix, `live on`, no recording) as the receiver.

Reference, measured in the same run: the camera's source with one plain hub reader (a
`GET /live/{camera}.mp4` client that discards bytes), kept open through every phase so the
upstream pull never stops. Then 1 and 3 gateway pushes are added; the CPU above the
reference divided by the pushes is the cost per destination (target: < 3% of a core).

    .venv/bin/python bench/bench_rtmp.py [--seconds 20] [--pushes 1,3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.rtmp.nginx import NginxRtmp, free_port  # noqa: E402  importable once ROOT is on the path

CLK_TCK = os.sysconf("SC_CLK_TCK")
ADMIN_KEY = "bench-admin-key-0123456789"
WARMUP = 4.0


# The emulator's test pattern compresses to a fraction of its 2 Mb/s cap; film-grain-like
# noise makes x264 spend the whole budget, as a real camera at 2 Mb/s does.
EMULATOR = """
import asyncio, sys
import numpy as np
from gateway.emulator import encode
from gateway.emulator.server import Emulator
from gateway.emulator.settings import EmulatorSettings
render = encode.render_frame
rng = np.random.default_rng(0)
def grainy(*args, **kwargs):
    rgb = render(*args, **kwargs).astype(np.int16)
    rgb += rng.integers(-12, 13, rgb.shape, dtype=np.int16)
    return rgb.clip(0, 255).astype(np.uint8)
encode.render_frame = grainy
async def main():
    emu = Emulator(EmulatorSettings(host="127.0.0.1", port=int(sys.argv[1]), tls=False, cameras=1,
                                    loop_seconds=4.0, cache_dir=sys.argv[2]))
    await emu.start()
    await asyncio.Event().wait()
asyncio.run(main())
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime, all threads


def wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def spawn(argv: list[str], log: Path) -> subprocess.Popen:
    """A child with its stderr in `log` (the child keeps its own copy of the descriptor)."""
    with log.open("wb") as stderr:
        return subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr)


async def live_reader(base: str, camera: str, stop: asyncio.Event, counted: list[int]) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{base}/live/{camera}.mp4", params={"quality": "high"}) as resp,
    ):
        resp.raise_for_status()
        while not stop.is_set():
            chunk = await resp.content.readany()
            if not chunk:
                break
            counted[0] += len(chunk)


async def measure(pids: dict[str, int], seconds: float) -> dict[str, float]:
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.monotonic()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - started
    return {name: 100 * (cpu_seconds(pid) - before[name]) / elapsed for name, pid in pids.items()}


async def run(args: argparse.Namespace, work: Path) -> None:
    emulator_port, gateway_port = free_port(), free_port()
    cache = work / "cache"
    cache.mkdir()
    children: list[subprocess.Popen] = []
    try:
        emulator = await asyncio.to_thread(
            spawn, [sys.executable, "-c", EMULATOR, str(emulator_port), str(cache)], work / "emulator.log"
        )
        children.append(emulator)
        wait_port(emulator_port, 180)  # the first run encodes the loop
        receiver = NginxRtmp(work / "nginx", record=False)  # the tests' receiver, keeping nothing
        receiver.start()
        nginx = receiver.process
        assert nginx is not None
        children.append(nginx)
        config = work / "gateway.toml"
        config.write_text(f"""
[server]
listen = "127.0.0.1:{gateway_port}"
[wep]
url = "http://127.0.0.1:{emulator_port}"
username = "admin"
password = "admin"
user_nonce = "wep-emulator-nonce"
user_key = "wep-emulator-key"
[auth]
admin_key = "{ADMIN_KEY}"
viewer_auth = false
[pushes]
db_path = "{work / "pushes.sqlite3"}"
""")
        gateway = await asyncio.to_thread(
            spawn, [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config)], work / "gateway.log"
        )
        children.append(gateway)
        wait_port(gateway_port, 30)
        base = f"http://127.0.0.1:{gateway_port}"
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            for _ in range(100):
                async with http.get(f"{base}/api/v1/cameras") as resp:
                    cameras = (await resp.json()).get("cameras", []) if resp.status == 200 else []
                if cameras:
                    break
                await asyncio.sleep(0.3)
            camera = cameras[0]["id"]
            stop, counted = asyncio.Event(), [0]
            reader = asyncio.create_task(live_reader(base, camera, stop, counted))
            pids = {"gateway": gateway.pid, "nginx": nginx.pid, "emulator": emulator.pid}
            rows = []
            await asyncio.sleep(WARMUP)
            start_bytes = counted[0]
            usage = await measure(pids, args.seconds)
            camera_bps = (counted[0] - start_bytes) * 8 / args.seconds
            rows.append((0, usage, 0.0, 0))
            pushes: list[str] = []
            for target in args.pushes:
                while len(pushes) < target:
                    body = {
                        "camera": camera,
                        "url": receiver.url("live", f"bench-{len(pushes)}"),
                        "mode": "gateway",
                        "quality": "high",
                    }
                    async with http.post(f"{base}/api/v1/pushes", json=body) as resp:
                        assert resp.status == 201, await resp.text()
                        pushes.append((await resp.json())["id"])
                await asyncio.sleep(WARMUP)
                usage = await measure(pids, args.seconds)
                async with http.get(f"{base}/api/v1/pushes") as resp:
                    views = (await resp.json())["pushes"]
                live = sum(view["state"] == "live" for view in views)
                bitrate = sum(view["bitrate"] for view in views) / max(len(views), 1)
                dropped = sum(view["frames_dropped"] for view in views)
                rows.append((target, usage, bitrate, dropped, live))
            stop.set()
            reader.cancel()
        print(
            f"\nRTMP push CPU, gateway mode, 1 camera high quality (~{camera_bps / 1e6:.2f} Mb/s measured at the"
            f" /live reader), {args.seconds:.0f} s per phase, % of one core"
        )
        print(
            f"{'pushes':>6} | {'gateway %':>9} | {'per push %':>10} | {'nginx %':>7} | {'emulator %':>10} |"
            f" {'push bitrate':>12} | {'live':>4} | {'dropped':>7}"
        )
        print("-" * 88)
        reference = rows[0][1]["gateway"]
        for row in rows:
            count, usage, bitrate = row[0], row[1], row[2]
            per_push = f"{(usage['gateway'] - reference) / count:10.2f}" if count else f"{'(ref)':>10}"
            live = row[4] if count else 0
            print(
                f"{count:>6} | {usage['gateway']:9.2f} | {per_push} | {usage['nginx']:7.2f} |"
                f" {usage['emulator']:10.2f} | {bitrate / 1e6:9.2f} Mb/s | {live:>4} | {row[3] if count else 0:>7}"
            )
        print("reference (0 pushes): the source plus one /live hub reader; per push = (gateway - reference) / pushes")
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(15)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--pushes", type=lambda text: [int(n) for n in text.split(",")], default=[1, 3])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-rtmp-") as work:
        asyncio.run(run(args, Path(work)))


if __name__ == "__main__":
    main()
