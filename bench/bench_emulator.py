"""CPU cost of the WEP emulator serving live fMP4, next to a static-file reference.

Runs the emulator in a child process (4 cameras, high quality, defaults otherwise),
attaches one reader per camera for DURATION seconds and reports the child's CPU% from
/proc. The reference, in the same run: the same four readers reading, at the same byte
rate, one static file served by aiohttp's FileResponse from a second child process.

    .venv/bin/python bench/bench_emulator.py [--seconds 10] [--fragment frame|gop]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

CAMERAS = 4
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


async def spawn(code: str, *args: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code, *args, stdout=asyncio.subprocess.PIPE)
    line = await asyncio.wait_for(proc.stdout.readline(), 120)
    return proc, line.decode().strip()


EMULATOR = """
import asyncio, sys, time
from gateway.emulator.server import Emulator
from gateway.emulator.settings import EmulatorSettings
from gateway.emulator.auth_token import make_token
async def main():
    s = EmulatorSettings(port=0, tls=False, cameras=4, fragment=sys.argv[1], cache_dir=sys.argv[2])
    emu = Emulator(s)
    await emu.start()
    token = make_token(s.user_nonce, s.user_key, int(time.time()))
    print(emu.url, token, ",".join(emu.camera_ids), flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""

FILE_SERVER = """
import asyncio, sys
from aiohttp import web
async def main():
    app = web.Application()
    app.router.add_get("/file", lambda r: web.FileResponse(sys.argv[1]))
    runner = web.AppRunner(app, access_log=None); await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0); await site.start()
    print(f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/file", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


async def read_stream(http: aiohttp.ClientSession, url: str, params: dict, seconds: float, rate: float = 0) -> int:
    """Bytes read in `seconds`; with `rate` (bytes/s) the reader paces itself like a player."""
    total, start = 0, time.monotonic()
    async with http.get(url, params=params) as resp:
        while (left := start + seconds - time.monotonic()) > 0:
            try:
                chunk = await asyncio.wait_for(resp.content.readany(), left)
            except TimeoutError:
                break
            if not chunk:
                break
            total += len(chunk)
            if rate:
                await asyncio.sleep(max(0.0, start + total / rate - time.monotonic()))
    return total


async def measure(proc, readers) -> tuple[float, float]:
    before, t0 = cpu_seconds(proc.pid), time.monotonic()
    await asyncio.gather(*readers)
    return cpu_seconds(proc.pid) - before, time.monotonic() - t0


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fragment", choices=("frame", "gop"), default="frame")
    args = parser.parse_args()
    cache = str(Path(tempfile.gettempdir()) / "wep-gateway-bench-cache")

    started = time.monotonic()
    emu, line = await spawn(EMULATOR, args.fragment, cache)
    startup = time.monotonic() - started
    url, token, ids = line.split()
    async with aiohttp.ClientSession() as http:
        login = {"username": "admin", "password": "admin", "authorizationToken": token}
        async with http.post(f"{url}/mt/api/rest/v1/login", json=login) as resp:
            session = (await resp.json())["result"]["session"]
        media = f"{url}/mt/api/rest/v1/media"
        readers = [read_stream(http, media, {"session": session, "cameraId": cid, "quality": "high"}, args.seconds)
                   for cid in ids.split(",")]  # fmt: skip
        before, t0 = cpu_seconds(emu.pid), time.monotonic()
        sizes = await asyncio.gather(*readers)
        emu_cpu, emu_wall = cpu_seconds(emu.pid) - before, time.monotonic() - t0
    emu.terminate()
    await emu.wait()

    # Reference: the same bytes from a static file, each reader paced at the emulator's rate.
    with tempfile.NamedTemporaryFile(suffix=".bin") as blob:
        per_reader = max(sizes)
        blob.write(os.urandom(per_reader))
        blob.flush()
        ref, file_url = await spawn(FILE_SERVER, blob.name)
        async with aiohttp.ClientSession() as http:
            rate = per_reader / args.seconds
            readers = [read_stream(http, file_url, {}, args.seconds + 5, rate) for _ in range(CAMERAS)]
            before, t0 = cpu_seconds(ref.pid), time.monotonic()
            ref_sizes = await asyncio.gather(*readers)
            ref_cpu, ref_wall = cpu_seconds(ref.pid) - before, time.monotonic() - t0
        ref.terminate()
        await ref.wait()

    print(f"emulator start-up (encode or cache load, 4 cameras x 2 qualities): {startup:.1f} s")
    print(f"{'server':<44}{'readers':>8}{'MB read':>10}{'wall s':>8}{'CPU s':>8}{'CPU %':>8}")
    rows = [
        (f"emulator live fMP4 high ({args.fragment} fragments)", sizes, emu_wall, emu_cpu),
        ("aiohttp FileResponse, same bytes, paced", ref_sizes, ref_wall, ref_cpu),
    ]
    for name, got, wall, cpu in rows:
        print(f"{name:<44}{len(got):>8}{sum(got) / 1e6:>10.2f}{wall:>8.1f}{cpu:>8.2f}{100 * cpu / wall:>8.1f}")


if __name__ == "__main__":
    asyncio.run(main())
