"""Soak: does the gateway's memory level off? RSS of a real `wep-gateway serve` process, next
to the snapshot cache's own size, through a long run of steady load.

    .venv/bin/python bench/bench_soak.py [--minutes 60] [--readers 25] [--snapshots-per-s 1] [--cache-mb 64]

The load is an outside run's (issue 19): 25 progressive `/live` readers and one snapshot a
second, each at another settled past instant and region of interest, so every one misses the
cache, is fetched from WEP and kept (an immutable picture) until `[snapshots] cache_bytes`
evicts it. The WEP emulator and the clients run in this process; the gateway runs alone in
its own (tests/gateway_process.py), so its RSS is its own.

The reference is in the same run: the cache's bytes (`wepgw_snapshot_cache_bytes` from
/metrics). RSS growing by what the cache took is the cache filling toward its bound; the
`RSS - cache` column is the rest, and growth there is what a leak would look like. Growth is a
least-squares slope over the samples of the first and of the last third of the run.

`--tracemalloc` looks for what grows: the gateway runs with a sitecustomize (written to the
run's temporary directory, nothing in the product) that starts tracemalloc on SIGUSR1 and
dumps a snapshot on each; tracing starts at a third of the run, and the allocation sites that
grew most from then to the end are printed. Tracing slows the gateway down.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.gateway_process import start_gateway, wep_toml  # noqa: E402  importable once ROOT is on the path
from tests.rtmp.nginx import free_port  # noqa: E402

MAX_MINUTES = 24 * 60
# Settled instants (older than gateway/snapshots/request.py SETTLED_AFTER): immutable, cached for good.
FIRST_INSTANT = datetime(2025, 1, 1, tzinfo=UTC)
ROIS = ("", "0,0,0.5,0.5", "0.5,0,1,0.5", "0,0.5,0.5,1", "0.25,0.25,0.75,0.75")
_CACHE_BYTES = re.compile(rb"^wepgw_snapshot_cache_bytes (\S+)$", re.MULTILINE)
_EVICTIONS = re.compile(rb"^wepgw_snapshot_cache_evictions_total (\S+)$", re.MULTILINE)


# Loaded by the gateway process at start (PYTHONPATH) under --tracemalloc. Tracing from the start
# would slow the start-up past start_gateway's patience: it starts at the first SIGUSR1.
SITECUSTOMIZE = """\
import os, signal, tracemalloc

def _dump(signum, frame):
    if not tracemalloc.is_tracing():
        tracemalloc.start(12)
    folder = os.environ["SOAK_TRACEMALLOC_DIR"]
    name = os.path.join(folder, str(len(os.listdir(folder))))
    tracemalloc.take_snapshot().dump(name + ".partial")
    os.rename(name + ".partial", name + ".snapshot")  # whole before the bench reads it

signal.signal(signal.SIGUSR1, _dump)
"""


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """os.environ with `values` while the block runs."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def minutes(text: str) -> float:
    value = float(text)
    if not 0.5 <= value <= MAX_MINUTES:
        raise argparse.ArgumentTypeError(f"expected 0.5 to {MAX_MINUTES} minutes, got {text}")
    return value


@dataclass
class Sample:
    at: float  # seconds since the load started
    rss: int  # bytes
    cache: int  # bytes the snapshot cache holds
    evictions: int
    fds: int
    threads: int


@dataclass
class Load:
    live_bytes: int = 0
    live_ends: int = 0  # /live responses that ended or failed (each reader reconnects)
    snapshots: int = 0
    snapshot_errors: int = 0
    snapshot_bytes: int = 0


def process_status(pid: int) -> tuple[int, int, int]:
    """(RSS bytes, open fds, threads) of a live process, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.split()
    return int(fields["VmRSS"][0]) * 1024, len(os.listdir(f"/proc/{pid}/fd")), int(fields["Threads"][0])


async def read_live(http: aiohttp.ClientSession, url: str, load: Load, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            async with http.get(url, timeout=aiohttp.ClientTimeout(total=None, sock_read=30)) as resp:
                async for chunk in resp.content.iter_any():
                    load.live_bytes += len(chunk)
                    if time.monotonic() >= deadline:
                        return
        except (aiohttp.ClientError, TimeoutError):
            pass
        load.live_ends += 1
        await asyncio.sleep(1.0)


async def take_snapshots(
    http: aiohttp.ClientSession, base: str, cameras: list[str], rate: float, load: Load, deadline: float
) -> None:
    index = 0
    started = time.monotonic()
    while (due := started + index / rate) < deadline:
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        instant = (FIRST_INSTANT + timedelta(seconds=index)).strftime("%Y-%m-%dT%H:%M:%SZ")
        roi = ROIS[index % len(ROIS)]
        query = f"t={instant}" + (f"&roi={roi}" if roi else "")
        url = f"{base}/api/v1/cameras/{cameras[index % len(cameras)]}/snapshot.jpg?{query}"
        index += 1
        try:
            async with http.get(url, timeout=aiohttp.ClientTimeout(total=20)) as resp:
                body = await resp.read()
                if resp.status != 200:
                    load.snapshot_errors += 1
                    continue
                load.snapshots += 1
                load.snapshot_bytes += len(body)
        except (aiohttp.ClientError, TimeoutError):
            load.snapshot_errors += 1


async def sample(http: aiohttp.ClientSession, base: str, pid: int, started: float) -> Sample:
    async with http.get(f"{base}/metrics", timeout=aiohttp.ClientTimeout(total=10)) as resp:
        text = await resp.read()
    cache, evictions = _CACHE_BYTES.search(text), _EVICTIONS.search(text)
    rss, fds, threads = process_status(pid)
    return Sample(
        time.monotonic() - started,
        rss,
        int(float(cache.group(1))) if cache else -1,
        int(float(evictions.group(1))) if evictions else -1,
        fds,
        threads,
    )


def write_config(path: Path, emulator, port: int, cache_bytes: int) -> None:
    path.write_text(f"""
[server]
listen = "127.0.0.1:{port}"
{wep_toml(emulator)}[auth]
viewer_auth = false
[snapshots]
cache_bytes = {cache_bytes}
[pushes]
db_path = "{path.parent / "pushes.sqlite3"}"
[rules]
clips_dir = "{path.parent / "clips"}"
snapshots_dir = "{path.parent / "rule-snapshots"}"
""")


def slope_per_minute(samples: list[Sample], value) -> float:
    """Least-squares slope of `value(sample)` in bytes per minute."""
    if len(samples) < 2:
        return float("nan")
    return statistics.linear_regression([s.at / 60 for s in samples], [value(s) for s in samples]).slope


def report(samples: list[Sample], load: Load, seconds: float, cache_bytes: int) -> None:
    mb = 1024 * 1024
    picks = {"start": samples[0], "middle": samples[len(samples) // 2], "end": samples[-1]}
    print(f"\n{'':8}{'minute':>8}{'RSS MB':>10}{'cache MB':>10}{'RSS-cache':>11}{'fds':>6}{'threads':>9}{'evicted':>9}")
    for name, s in picks.items():
        print(
            f"{name:8}{s.at / 60:8.1f}{s.rss / mb:10.1f}{s.cache / mb:10.1f}{(s.rss - s.cache) / mb:11.1f}"
            f"{s.fds:6}{s.threads:9}{s.evictions:9}"
        )
    third = max(2, len(samples) // 3)
    print(f"\n{'growth, kB/min':16}{'RSS':>10}{'cache':>10}{'RSS-cache':>11}")
    for name, part in (("first third", samples[:third]), ("last third", samples[-third:])):
        rss = slope_per_minute(part, lambda s: s.rss) / 1024
        cache = slope_per_minute(part, lambda s: s.cache) / 1024
        rest = slope_per_minute(part, lambda s: s.rss - s.cache) / 1024
        print(f"{name:16}{rss:10.1f}{cache:10.1f}{rest:11.1f}")
    print(
        f"\ncache bound {cache_bytes / mb:.0f} MB; {load.snapshots} snapshots "
        f"({load.snapshot_bytes / max(load.snapshots, 1) / 1024:.1f} kB average), {load.snapshot_errors} failed; "
        f"/live {load.live_bytes * 8 / seconds / 1000:.0f} kb/s over all readers, {load.live_ends} ended and reconnected"
    )


async def main(args: argparse.Namespace) -> int:
    from gateway.emulator.server import Emulator
    from gateway.emulator.settings import EmulatorSettings

    cache_dir = Path.home() / ".cache" / "wep-gateway" / "emulator"  # as `wep-gateway emulator` keeps it
    emulator = Emulator(
        EmulatorSettings(host="127.0.0.1", port=0, tls=False, cameras=args.cameras, cache_dir=str(cache_dir))
    )
    await emulator.start()
    cache_bytes = int(args.cache_mb * 1024 * 1024)
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        write_config(tmp / "gateway.toml", emulator, port, cache_bytes)
        traces = tmp / "tracemalloc" if args.tracemalloc else None
        hook = {}
        if traces is not None:
            traces.mkdir()
            (tmp / "sitecustomize.py").write_text(SITECUSTOMIZE)
            hook = {"PYTHONPATH": str(tmp), "SOAK_TRACEMALLOC_DIR": str(traces)}
        with environment(hook):  # start_gateway hands the environment to the gateway
            process = await start_gateway(tmp / "gateway.toml", tmp / "gateway.log", base)
        try:
            return await run(args, emulator.camera_ids, base, process.pid, cache_bytes, tmp / "gateway.log", traces)
        finally:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()
            await emulator.stop()


async def snapshot_of(pid: int, traces: Path, number: int):
    """The gateway's tracemalloc snapshot number `number` (0-based), asked for with SIGUSR1."""
    import tracemalloc

    os.kill(pid, signal.SIGUSR1)
    path = traces / f"{number}.snapshot"
    for _ in range(600):  # a snapshot of a process this size takes seconds
        if path.exists():
            return await asyncio.to_thread(tracemalloc.Snapshot.load, str(path))
        await asyncio.sleep(0.5)
    raise RuntimeError("the gateway wrote no tracemalloc snapshot in 300 s")


def report_growth(first, last) -> None:
    import tracemalloc

    ignore = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
    ]
    first, last = first.filter_traces(ignore), last.filter_traces(ignore)
    print("\ngrowth between the snapshots, by line (tracemalloc):")
    for stat in last.compare_to(first, "lineno")[:15]:
        print(f"  {stat.size_diff / 1024:+9.1f} kB {stat.count_diff:+7d} blocks  {stat.traceback[0]}")
    print("\nthe five largest, by call chain (innermost last):")
    for stat in last.compare_to(first, "traceback")[:5]:
        print(f"  {stat.size_diff / 1024:+9.1f} kB {stat.count_diff:+7d} blocks")
        for frame in list(stat.traceback)[-6:]:
            print(f"      {frame}")


async def run(args, cameras: list[str], base: str, pid: int, cache_bytes: int, log: Path, traces: Path | None) -> int:
    load = Load()
    seconds = args.minutes * 60
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.monotonic()
        deadline = started + seconds
        load_deadline = deadline + 60  # the load outlasts the last sample; it is cancelled after it
        tasks = [
            asyncio.create_task(
                read_live(
                    http, f"{base}/live/{cameras[i % len(cameras)]}.mp4?quality={args.quality}", load, load_deadline
                )
            )
            for i in range(args.readers)
        ]
        tasks.append(
            asyncio.create_task(take_snapshots(http, base, cameras, args.snapshots_per_s, load, load_deadline))
        )
        samples = [await sample(http, base, pid, started)]
        print(f"{'minute':>7}{'RSS MB':>9}{'cache MB':>10}{'fds':>6}  snapshots  /live MB", flush=True)
        printed = 0.0
        first = None
        while time.monotonic() < deadline:
            if traces is not None and first is None and time.monotonic() >= started + seconds / 3:
                first = await snapshot_of(pid, traces, 0)
            await asyncio.sleep(min(args.every, max(0.0, deadline - time.monotonic())))
            samples.append(await sample(http, base, pid, started))
            s = samples[-1]
            if s.at - printed >= 60 or time.monotonic() >= deadline:
                printed = s.at
                print(
                    f"{s.at / 60:7.1f}{s.rss / 2**20:9.1f}{s.cache / 2**20:10.1f}{s.fds:6}"
                    f"  {load.snapshots:9}  {load.live_bytes / 2**20:8.1f}",
                    flush=True,
                )
        last = await snapshot_of(pid, traces, 1) if traces is not None else None
        for task in tasks:  # the last sample is in: the load ends now, not at its next chunk
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    report(samples, load, seconds, cache_bytes)
    if first is not None and last is not None:
        report_growth(first, last)
    errors = [
        line
        for line in (await asyncio.to_thread(log.read_text)).splitlines()
        if " ERROR " in line or "Traceback" in line
    ]
    print(f"gateway log: {len(errors)} ERROR lines" + (f", first: {errors[0][:200]}" if errors else ""))
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=minutes, default=60.0, help=f"length of the run (0.5 to {MAX_MINUTES})")
    parser.add_argument("--readers", type=int, default=25, help="progressive /live readers (default 25)")
    parser.add_argument("--snapshots-per-s", type=float, default=1.0, help="distinct snapshots a second (default 1)")
    parser.add_argument("--quality", choices=("high", "low"), default="low", help="the /live readers' (default low)")
    parser.add_argument("--cameras", type=int, default=2, help="emulated cameras the load is spread over")
    parser.add_argument(
        "--cache-mb", type=float, default=64.0, help="[snapshots] cache_bytes in MiB (default 64, the config's)"
    )
    parser.add_argument("--tracemalloc", action="store_true", help="show what grew in the gateway (slow)")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples (default 10)")
    args = parser.parse_args()
    if args.readers < 0 or args.snapshots_per_s <= 0 or args.cameras < 1 or args.every <= 0 or args.cache_mb <= 0:
        parser.error("--readers >= 0; --snapshots-per-s, --cameras, --every and --cache-mb > 0")
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
