"""Talkdown: CPU per talker and the delay a microphone frame spends in the gateway.

Processes: the WEP emulator (N+1 cameras, tiny video; its POST /media sink keeps what
it hears), the gateway (uvloop, create_app, plus bench-only routes), and one process of
N aiortc talkers sending a 440 Hz opus track each to its own camera (WHIP). Like
Chromium (tests/talkdown/test_chromium.py), a talker sends the audio per packet the
answer asks for (a=ptime: chunk_ms), so `--chunk-ms 20` shows the cost of 20 ms packets.

For each N, two rows measured in the same run:
- `aiortc sink` (the reference): the same talkers to a bench-only WHIP endpoint in the
  gateway process that only receives (aiortc's RTP, jitter buffer and opus decode) and
  drops the frames: the cost any WebRTC receiver pays;
- `talkdown`: POST /whip/{camera}/talk: SRTP taken off the socket (datagram_tap.py), opus
  decoded by libopus straight to 8 kHz mono on the loop, mu-law, chunked POST /media to
  the emulator.
Over a window after warm-up, the gateway reports its process CPU (all threads: aiortc's
decoder threads included), and the delay from a microphone packet's arrival (before it
is decoded) to its PCMU leaving in the upstream POST body
(TalkCounters.uplink_delay: aiohttp took the chunk), p50/p99/max. Before any talker, the
gateway's own idle CPU is measured over the same window: it is part of every row, and
`marginal %/talker` is the row's CPU less it, per talker.

    .venv/bin/python bench/bench_talkdown.py [--talkers 1,5,10] [--window 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from coordinator import ROOT, finish, http_json, read_json, spawn

sys.path.insert(0, str(ROOT))
from gateway.config import TalkdownConfig

CACHE = Path.home() / ".cache" / "wep-gateway" / "bench-talkdown-emulator"
TARGET_CPU_PERCENT = 2.0
TARGET_P99 = 0.060


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---- emulator process ----------------------------------------------------------------
async def run_emulator(cameras: int) -> None:
    from gateway.emulator.server import Emulator
    from gateway.emulator.settings import EmulatorSettings

    CACHE.mkdir(parents=True, exist_ok=True)
    settings = EmulatorSettings(
        host="127.0.0.1",
        port=0,
        cameras=cameras,
        tls=False,
        cache_dir=str(CACHE),
        high_size=(160, 96),
        low_size=(96, 64),
        high_bitrate=100_000,
        low_bitrate=50_000,
        fps=5,
        loop_seconds=1.0,
    )
    emulator = Emulator(settings)
    await emulator.start()
    print(json.dumps({"url": emulator.url, "cameras": emulator.camera_ids}), flush=True)
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        if line.strip() == "stats":
            print(
                json.dumps(
                    {"talk_bytes": emulator.stats["talk_bytes"], "talk_rejected": emulator.stats["talk_rejected"]}
                ),
                flush=True,
            )
    await emulator.stop()


# ---- gateway process -----------------------------------------------------------------
async def run_gateway(emulator_url: str, chunk_ms: int) -> None:
    import dataclasses

    from aiohttp import web
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamError

    from gateway.app import create_app
    from gateway.config import Config
    from gateway.emulator.settings import EmulatorSettings
    from gateway.talkdown.offer import microphone_answer, offer_for_aiortc, parse_talk_offer
    from gateway.talkdown.routes import TALK_SESSIONS

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
            camera_cache_ttl=3600.0,
        ),
        auth=dataclasses.replace(base.auth, viewer_auth=False),
        talkdown=TalkdownConfig(chunk_ms=chunk_ms),
    )
    app = create_app(config)
    mark = {"cpu": 0.0, "at": 0.0, "bytes": 0, "frames": 0, "dropped": 0}
    sinks: dict[str, RTCPeerConnection] = {}
    sink_frames = [0]

    async def sink_offer(request: web.Request) -> web.Response:
        # The reference: an aiortc receiver that decodes the talker's opus and drops it.
        pc = RTCPeerConnection()
        sink_id = secrets.token_hex(8)
        sinks[sink_id] = pc

        @pc.on("track")
        def _track(track) -> None:
            async def drain() -> None:
                try:
                    while True:
                        await track.recv()
                        sink_frames[0] += 1
                except MediaStreamError:
                    pass

            asyncio.get_running_loop().create_task(drain())

        offer = parse_talk_offer(await request.text())
        await pc.setRemoteDescription(RTCSessionDescription(offer_for_aiortc(offer), "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        answer = microphone_answer(pc.localDescription.sdp, chunk_ms)  # the same packets as a talk gets
        return web.Response(
            status=201, text=answer, content_type="application/sdp", headers={"Location": f"/_bench/sink/{sink_id}"}
        )

    async def sink_delete(request: web.Request) -> web.Response:
        pc = sinks.pop(request.match_info["id"], None)
        if pc is not None:
            await pc.close()
        return web.Response(status=200)

    async def reset(request: web.Request) -> web.Response:
        counters = app[TALK_SESSIONS].counters
        counters.uplink_delay.reset()
        mark.update(
            cpu=cpu_seconds(),
            at=time.monotonic(),
            bytes=counters.bytes_sent,
            frames=counters.frames_received + sink_frames[0],
            dropped=counters.bytes_dropped,
        )
        return web.json_response({})

    async def stats(request: web.Request) -> web.Response:
        sessions = app[TALK_SESSIONS]
        counters = sessions.counters
        delay = counters.uplink_delay
        return web.json_response(
            {
                "seconds": time.monotonic() - mark["at"],
                "cpu": cpu_seconds() - mark["cpu"],
                "talk_sessions": len(sessions),
                "sinks": len(sinks),
                "bytes_sent": counters.bytes_sent - mark["bytes"],
                "bytes_dropped": counters.bytes_dropped - mark["dropped"],
                "frames": counters.frames_received + sink_frames[0] - mark["frames"],
                "p50": delay.percentile(0.50),
                "p99": delay.percentile(0.99),
                "max": delay.maximum,
                "delays": delay.total,
                "posts": counters.posts_opened,
                "post_failures": counters.post_failures,
            }
        )

    # Bench-only routes live in their own app on another port (same process, so the same
    # CPU clock): the gateway's access policy refuses routes it does not know.
    bench = web.Application()
    bench.router.add_post("/_bench/sink", sink_offer)
    bench.router.add_delete("/_bench/sink/{id}", sink_delete)
    bench.router.add_post("/_bench/reset", reset)
    bench.router.add_get("/_bench/stats", stats)
    urls = []
    runners = []
    for served in (app, bench):
        runner = web.AppRunner(served, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        urls.append(f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}")
    print(json.dumps({"url": urls[0], "bench": urls[1]}), flush=True)
    try:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        for pc in sinks.values():
            await pc.close()
        for runner in reversed(runners):
            await runner.cleanup()


# ---- talker process ------------------------------------------------------------------
async def run_talkers(url: str, cameras: list[str], mode: str) -> None:
    import aiohttp

    from tests.talkdown.whip_talker import WhipTalker

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        talkers = [WhipTalker(http, url, camera, path="/_bench/sink" if mode == "sink" else None) for camera in cameras]
        for talker in talkers:
            response = await talker.start()
            if response.status != 201:
                raise SystemExit(f"talker refused: {response.status} {response.answer_text}")
            await asyncio.sleep(0.05)
        await asyncio.wait_for(asyncio.gather(*(talker.connected.wait() for talker in talkers)), 30)
        print(json.dumps({"ready": len(talkers)}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        for talker in talkers:
            await talker.stop()
        print(json.dumps({"frames": sum(talker.track.frames for talker in talkers)}), flush=True)


# ---- coordinator ---------------------------------------------------------------------
def tell(process: subprocess.Popen, line: str) -> None:
    process.stdin.write(line + "\n")
    process.stdin.flush()


def measure(
    gateway: str, bench: str, emulator: subprocess.Popen, cameras: list[str], mode: str, warmup: float, window: float
) -> dict:
    target = gateway if mode == "talk" else bench
    talkers = spawn(__file__, "--role", "talkers", "--url", target, "--mode", mode, "--cameras", ",".join(cameras))
    try:
        read_json(talkers, 120)
        time.sleep(warmup)
        tell(emulator, "stats")
        heard_before = read_json(emulator, 10)["talk_bytes"]
        http_json("POST", f"{bench}/_bench/reset")
        time.sleep(window)
        stats = http_json("GET", f"{bench}/_bench/stats")
        tell(emulator, "stats")
        heard = read_json(emulator, 10)
        stats["heard_bytes"] = sum(heard["talk_bytes"].values()) - sum(heard_before.values())
        stats["rejected"] = sum(heard["talk_rejected"].values())
        tell(talkers, "end")
        read_json(talkers, 60)
        stats.update(mode=mode, talkers=len(cameras))
        return stats
    finally:
        finish(talkers)


def measure_idle(bench: str, warmup: float, window: float) -> float:
    """The gateway's CPU (share of a core) with no talker: timers, caches, the loop itself."""
    time.sleep(warmup)
    http_json("POST", f"{bench}/_bench/reset")
    time.sleep(window)
    stats = http_json("GET", f"{bench}/_bench/stats")
    return stats["cpu"] / stats["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--role", choices=["coordinator", "emulator", "gateway", "talkers"], default="coordinator")
    parser.add_argument("--url", default="")
    parser.add_argument("--mode", choices=["talk", "sink"], default="talk")
    parser.add_argument("--cameras", default="")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--talkers", default="1,5,10")
    parser.add_argument(
        "--chunk-ms",
        type=int,
        default=TalkdownConfig.chunk_ms,
        help="TalkdownConfig.chunk_ms (20 or 40): upstream chunk and microphone packet",
    )
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--window", type=float, default=10.0)
    args = parser.parse_args()
    if args.role != "coordinator":
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        target = {
            "emulator": lambda: run_emulator(args.count),
            "gateway": lambda: run_gateway(args.url, args.chunk_ms),
            "talkers": lambda: run_talkers(args.url, args.cameras.split(","), args.mode),
        }[args.role]
        asyncio.run(target())
        return

    counts = [int(n) for n in args.talkers.split(",")]
    emulator = spawn(__file__, "--role", "emulator", "--count", str(max(counts) + 1))
    gateway = None
    rows = []
    try:
        emu = read_json(emulator, 600)
        speakers = emu["cameras"][:-1]  # the emulator's last camera has no speaker
        gateway = spawn(__file__, "--role", "gateway", "--url", emu["url"], "--chunk-ms", str(args.chunk_ms))
        gw = read_json(gateway, 60)
        idle = measure_idle(gw["bench"], args.warmup, args.window)
        for n in counts:
            rows.extend(
                measure(gw["url"], gw["bench"], emulator, speakers[:n], mode, args.warmup, args.window)
                for mode in ("sink", "talk")
            )
    finally:
        for process in (gateway, emulator):
            if process is not None:
                finish(process)

    print(
        f"\nTalkdown: N aiortc talkers (440 Hz opus, {args.chunk_ms} ms packets) -> gateway -> POST /media PCMU, "
        f"{args.chunk_ms} ms chunks, {os.cpu_count()} CPUs, window {args.window:.0f} s"
    )
    print(f"gateway idle (no talker): {100 * idle:.2f} % of a core, part of every row's CPU")
    header = (
        f"{'talkers':>7} {'path':<12} {'gw CPU %':>8} {'CPU %/talker':>12} {'marginal %/talker':>17} "
        f"{'added %/talker':>14} "
        f"{'packets/s/talker':>16} {'heard s/s/talker':>16} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'dropped':>7}"
    )
    print(header)
    print("-" * len(header))
    reference: dict[int, float] = {}
    verdicts = []
    for row in rows:
        seconds, n = row["seconds"], row["talkers"]
        per = 100 * row["cpu"] / seconds / n
        talk = row["mode"] == "talk"
        if not talk:
            reference[n] = per
        added = f"{per - reference.get(n, 0.0):>14.2f}" if talk else f"{'(reference)':>14}"
        delays = (
            f"{1000 * row['p50']:>7.1f} {1000 * row['p99']:>7.1f} {1000 * row['max']:>7.1f}"
            if talk
            else f"{'-':>7} {'-':>7} {'-':>7}"
        )
        marginal = 100 * (row["cpu"] / seconds - idle) / n
        print(
            f"{n:>7} {'talkdown' if talk else 'aiortc sink':<12} {100 * row['cpu'] / seconds:>8.1f} {per:>12.2f} "
            f"{marginal:>17.2f} {added} {row['frames'] / seconds / n:>16.1f} {row['heard_bytes'] / 8000 / seconds / n:>16.2f} "
            f"{delays} {row['bytes_dropped']:>7}"
        )
        if talk:
            verdicts.append((n, per, row["p99"], row["rejected"]))
    print()
    for n, per, p99, rejected in verdicts:
        print(
            f"{n} talkers: {per:.2f} % of a core per talker ({'meets' if per < TARGET_CPU_PERCENT else 'misses'} "
            f"the {TARGET_CPU_PERCENT:.0f} % target), p99 frame-to-POST {1000 * p99:.1f} ms "
            f"({'meets' if p99 < TARGET_P99 else 'misses'} the {1000 * TARGET_P99:.0f} ms target)"
            f"{f', {rejected} POSTs refused by the emulator' if rejected else ''}"
        )


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main()
