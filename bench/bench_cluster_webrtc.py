"""WebRTC across a cluster: one camera's WHEP viewers spread over the nodes of one box, with
one WEP pull for all (issue 18: three nodes serving 300 viewers, 100 each, one WEP pull,
p99 hub-to-RTP under 50 ms), next to the same node serving its share alone in the same run.

Processes (so each one's CPU is its own):
- this one: the WEP emulator (1 camera; its counters show every pull), redis-server, and
  the orchestration;
- `--nodes` gateway nodes in cluster mode, plain `wep-gateway serve` processes started by
  tests/cluster/conftest.py's Cluster (viewer auth on). The first viewer's node owns the
  camera's pull; the others read the owner's hub over /internal/v1/live;
- viewer processes of up to `--per-process` aiortc WHEP viewers each
  (tests/webrtc/whep_viewer.py: frames reassembled and counted, never decoded), one token
  per viewer, at nice `--viewer-nice`: they stand in for browsers on other machines, so
  they take what CPU the gateways leave rather than preempt a node mid-burst.

Phases, each measured over `--seconds` after `--warmup`: (a) the reference: the first
node's share of viewers (`--viewers` / `--nodes`) on it alone; (b) every node with its
share (the first node's viewers stay). Per node and phase: CPU (% of one core, from
/proc/<pid>/stat), WHEP sessions, frames sent per second, and the hub-to-RTP delay (a
frame's arrival in the node's hub to its RTP send) from the node's own /metrics
histogram (wepgw_webrtc_send_delay_seconds; quantiles interpolated in its buckets, as
Prometheus' histogram_quantile does, and the exact share within 50 ms). On a node that
does not own the camera, its hub is fed from the owner's, so the owner-to-peer hop is not
in its figure. The viewers' side: frames received per second (mean and slowest viewer),
their CPU, their connection states, and how late their processes' loops ran (a viewer
process starved for seconds misses the nodes' ICE consent checks, RFC 7675, and aioice
ends the session after six misses in a row: on a box busy with other work, that is the
viewers failing, not the node). WEP pulls of the camera: the emulator's count of video
connections. Camera: the emulator's own test pattern (about 0.1 Mbps at 1280x720 15 fps).

    .venv/bin/python bench/bench_cluster_webrtc.py [--viewers 300] [--nodes 3] [--seconds 20]
        [--warmup 8] [--per-process 100] [--viewer-nice 10] [--quality high]
    smoke: .venv/bin/python bench/bench_cluster_webrtc.py --viewers 15 --seconds 5 --warmup 4
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import time
from collections import Counter
from pathlib import Path

from cluster_site import ClusterSite, CpuMeter  # bench/ is sys.path[0] as a script
from coordinator import ROOT, Child, commands, raise_fd_limit

sys.path.insert(0, str(ROOT))

JOIN_EVERY = 0.05  # s between a viewer process's WHEP offers: a steady join rate
TARGET_P99 = 0.050
SEND_DELAY = "wepgw_webrtc_send_delay_seconds"


# ---- viewer processes --------------------------------------------------------------------
class ViewerWorker:
    """A viewer process: WHEP viewers that count frames; frame counts and stop on command."""

    def __init__(self, http):
        self.http = http
        self.viewers = []
        self.worst_lag = 0.0  # the loop's longest lateness since the last `frames`
        self.ticker = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        """Notes how late a 0.1 s sleep wakes: a starved viewer process answers ICE consent
        checks late (aioice gives each one try; six misses in a row end the session)."""
        loop = asyncio.get_running_loop()
        while True:
            at = loop.time()
            await asyncio.sleep(0.1)
            self.worst_lag = max(self.worst_lag, loop.time() - at - 0.1)

    async def join(self, command: dict) -> dict:
        from tests.webrtc.whep_viewer import WhepViewer

        failures = []
        for url in command["urls"]:
            viewer = WhepViewer(self.http, url)
            try:
                await viewer.start()
                self.viewers.append(viewer)
            except (RuntimeError, OSError) as exc:
                failures.append(str(exc)[:200])
                await viewer.pc.close()
            await asyncio.sleep(JOIN_EVERY)
        return {"pid": os.getpid(), "joined": len(self.viewers), "failures": failures}

    async def frames(self, _command: dict) -> dict:
        lag, self.worst_lag = self.worst_lag, 0.0
        return {
            "frames": [viewer.tally.frames for viewer in self.viewers],
            "at": time.monotonic(),
            "states": Counter(viewer.pc.connectionState for viewer in self.viewers),
            "lag": lag,
        }

    async def leave(self, _command: dict) -> dict:
        statuses = await asyncio.gather(*(viewer.stop() for viewer in self.viewers), return_exceptions=True)
        self.viewers = []
        return {"left": sum(status in (200, 204) for status in statuses)}


async def viewers_role(niceness: int) -> None:
    import aiohttp

    from tests.webrtc.whep_viewer import counting_decoders

    os.nice(niceness)
    raise_fd_limit()
    with counting_decoders():
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            worker = ViewerWorker(http)
            await commands({"join": worker.join, "frames": worker.frames, "leave": worker.leave})


# ---- orchestrator ------------------------------------------------------------------------
def exposition(text: str) -> dict[str, float]:
    """Prometheus text format: 'name{labels}' -> value."""
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            values[key] = float(value)
    return values


def histogram_window(before: dict, after: dict, name: str) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of a histogram between two scrapes, bounds ascending."""
    prefix = f'{name}_bucket{{le="'
    buckets = []
    for key, value in after.items():
        if key.startswith(prefix):
            bound = float(key[len(prefix) : key.index('"', len(prefix))])
            buckets.append((bound, value - before.get(key, 0.0)))
    return sorted(buckets)


def bucket_quantile(buckets: list[tuple[float, float]], q: float) -> float:
    """Linear interpolation within the bucket holding the q-quantile (histogram_quantile);
    in the +Inf bucket, the highest finite bound (a floor); nan without observations."""
    total = buckets[-1][1] if buckets else 0.0
    if not total:
        return float("nan")
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * (rank - below) / max(1e-9, count - below)
        lower, below = bound, count
    return lower


def share_within(buckets: list[tuple[float, float]], bound: float) -> float:
    total = buckets[-1][1] if buckets else 0.0
    within = next((count for upper, count in buckets if upper == bound), float("nan"))
    return within / total if total else float("nan")


async def scrape(http, node) -> dict[str, float]:
    async with http.get(f"{node.base}/metrics") as response:
        return exposition(await response.text())


class Viewers:
    """The viewer processes of the run and which node their viewers watch."""

    def __init__(self, args, camera: str, tokens: list[str]):
        self.args, self.camera, self.tokens = args, camera, tokens
        self.workers: list[tuple[Child, str, int]] = []  # (process, node name, pid)
        self.failures: list[str] = []

    async def join(self, node, count: int) -> None:
        """`count` viewers of `node`, over as many processes as --per-process asks."""
        per = self.args.per_process
        groups = [min(per, count - start) for start in range(0, count, per)]
        started = []
        for size in groups:
            urls = [
                f"{node.base}/whep/{self.camera}?quality={self.args.quality}&token={self.tokens.pop()}"
                for _ in range(size)
            ]
            child = await Child.start(__file__, "viewers", "--viewer-nice", str(self.args.viewer_nice))
            child.send({"cmd": "join", "urls": urls})
            started.append(child)
        for child in started:
            answer = await child.answer(120 + len(groups) * per * 2)
            self.failures += answer["failures"]
            self.workers.append((child, node.name, answer["pid"]))

    async def frames(self) -> list[dict]:
        """Per viewer process, the frames each viewer has counted so far and when (the
        system-wide monotonic clock: busy viewer processes answer late)."""
        return list(await asyncio.gather(*(child.ask({"cmd": "frames"}, 60) for child, _, _ in self.workers)))

    def rates(self, before: list[dict], after: list[dict]) -> tuple[dict[str, list[float]], dict]:
        """Frames per second each viewer received between two `frames()`, by node; the
        viewers' connection states at the end and their processes' worst loop lag."""
        by_node: dict[str, list[float]] = {}
        states: Counter[str] = Counter()
        for (_, node, _), old, new in zip(self.workers, before, after):
            seconds = new["at"] - old["at"]
            by_node.setdefault(node, []).extend((b - a) / seconds for a, b in zip(old["frames"], new["frames"]))
            states.update(new["states"])
        lags = {node: max(old["lag"], new["lag"]) for (_, node, _), old, new in zip(self.workers, before, after)}
        return by_node, {"states": dict(states), "lag": lags}

    async def end(self) -> None:
        for child, _, _ in self.workers:
            try:
                await child.ask({"cmd": "leave"}, 60)
            except (TimeoutError, RuntimeError):
                pass
            await child.end()


async def measure(phase: str, site: ClusterSite, viewers: Viewers, http, args, joins) -> dict:
    """The phase's window, after `joins()` (the viewers joining) and the warm-up."""
    at_start = await asyncio.gather(*(scrape(http, node) for node in site.nodes))
    await joins()
    await asyncio.sleep(args.warmup)
    meter = CpuMeter(
        {
            **{node.name: [node.process.pid] for node in site.nodes},
            "viewers": [pid for _, _, pid in viewers.workers],
            "redis": [site.redis.process.pid],
            "bench (emulator)": [os.getpid()],
        }
    )
    scraped_from = time.monotonic()
    before = await asyncio.gather(*(scrape(http, node) for node in site.nodes))
    scraped_from = (scraped_from + time.monotonic()) / 2
    frames_before = await viewers.frames()
    meter.begin()
    await asyncio.sleep(args.seconds)
    cpu = meter.end()
    received_by_node, viewer_side = viewers.rates(frames_before, await viewers.frames())
    scraped_to = time.monotonic()
    after = await asyncio.gather(*(scrape(http, node) for node in site.nodes))
    elapsed = (scraped_to + time.monotonic()) / 2 - scraped_from  # between the scrapes
    nodes = {
        node.name: node_figures(old, new, elapsed, cpu[node.name], received_by_node.get(node.name, []), start)
        for node, start, old, new in zip(site.nodes, at_start, before, after)
    }
    return {"phase": phase, "nodes": nodes, "cpu": cpu, "pulls": site.video_pulls(args.quality), **viewer_side}


def node_figures(old: dict, new: dict, elapsed: float, cpu: float, received: list[float], start: dict) -> dict:
    """One node's window: its /metrics scrapes before and after, its CPU share, and the
    frame rates its viewers received; `start`: its scrape before the phase's joins."""
    buckets = histogram_window(old, new, SEND_DELAY)

    def grown(name: str, since: dict = old) -> float:
        return new.get(f"{name}_total", 0.0) - since.get(f"{name}_total", 0.0)

    return {
        "sessions": int(new.get("wepgw_webrtc_sessions", 0)),
        "owner": new.get('wepgw_cluster_leases{kind="camera"}', 0.0) > 0,
        "cpu": cpu,
        "frames_sent": grown("wepgw_webrtc_frames_sent") / elapsed,
        "bytes_sent": grown("wepgw_webrtc_bytes_sent") / elapsed,
        "packets_dropped": grown("wepgw_webrtc_video_packets_dropped"),
        "frames_skipped": grown("wepgw_webrtc_frames_skipped"),
        "keyframe_requests": grown("wepgw_webrtc_keyframe_requests"),
        "ended": {
            name: grown(f"wepgw_webrtc_{name}", start)
            for name in ("sessions_started", "connect_timeouts", "connection_failures")
        },
        "p50": bucket_quantile(buckets, 0.50),
        "p99": bucket_quantile(buckets, 0.99),
        "within_50ms": share_within(buckets, TARGET_P99),
        "delays": buckets[-1][1] if buckets else 0,
        "received_mean": sum(received) / len(received) if received else float("nan"),
        "received_min": min(received) if received else float("nan"),
    }


async def orchestrate(args) -> None:
    import aiohttp

    share = args.viewers // args.nodes
    rows = []
    async with ClusterSite(args.nodes) as site:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
            tokens = await site.mint_tokens(http, share * args.nodes)
            viewers = Viewers(args, site.camera, tokens)
            try:
                first, *others = site.nodes
                rows.append(
                    await measure(f"{first.name} alone", site, viewers, http, args, lambda: viewers.join(first, share))
                )
                rows.append(
                    await measure(
                        "all nodes",
                        site,
                        viewers,
                        http,
                        args,
                        lambda: asyncio.gather(*(viewers.join(node, share) for node in others)),
                    )
                )
            finally:
                await viewers.end()
        report(args, site, rows, viewers.failures)


def report(args, site, rows, failures) -> None:
    print(
        f"\nWebRTC across a cluster: 1 camera ({args.quality}), {args.nodes} nodes on one box, "
        f"{args.viewers // args.nodes} WHEP viewers a node (aiortc, not decoding, nice {args.viewer_nice}, "
        f"{args.per_process} a process), {args.seconds:g} s measured after {args.warmup:g} s warm-up, "
        f"{os.cpu_count()} cores shared; load average before: {args.loadavg}"
    )
    print(
        "hub-to-RTP: each node's /metrics histogram over the window (p50/p99 interpolated in its buckets, "
        "'<=50 ms' exact); CPU: % of one core; sent fps and kbps: per viewer"
    )
    header = (
        f"{'phase':13} {'node':7} {'owner':>5} {'viewers':>7} {'CPU%':>6} {'CPU ms/viewer-s':>15} "
        f"{'sent fps':>8} {'kbps':>8} {'p50 ms':>7} {'p99 ms':>7} {'<=50 ms':>8} {'recv fps':>8} {'min fps':>7} {'dropped':>7}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        for name, node in row["nodes"].items():
            sessions = node["sessions"]
            line = f"{row['phase']:13} {name:7} {'yes' if node['owner'] else '':>5} {sessions:7d} {node['cpu']:6.1f} "
            if sessions:
                line += (
                    f"{10 * node['cpu'] / sessions:15.2f} {node['frames_sent'] / sessions:8.1f} "
                    f"{8 * node['bytes_sent'] / sessions / 1000:8.0f} {1000 * node['p50']:7.1f} "
                    f"{1000 * node['p99']:7.1f} {100 * node['within_50ms']:7.2f}% {node['received_mean']:8.1f} "
                    f"{node['received_min']:7.1f} {node['packets_dropped']:7.0f}"
                )
            print(line)
    if len(rows) == 2:
        alone, together = rows
        first = next(iter(alone["nodes"]))
        worst = max(together["nodes"].values(), key=lambda node: node["p99"])
        print(
            f"all nodes / {first} alone: {first}'s CPU x{together['nodes'][first]['cpu'] / max(1e-9, alone['nodes'][first]['cpu']):.2f}, "
            f"its p99 x{together['nodes'][first]['p99'] / max(1e-9, alone['nodes'][first]['p99']):.2f}; "
            f"worst node's p99 {1000 * worst['p99']:.1f} ms "
            f"({'under' if worst['p99'] < TARGET_P99 else 'over'} {1000 * TARGET_P99:.0f} ms)"
        )
    for row in rows:
        cpu = row["cpu"]
        print(
            f"\n{row['phase']}: viewers' CPU {cpu['viewers']:.0f} %, redis {cpu['redis']:.1f} %, this process "
            f"(emulator) {cpu['bench (emulator)']:.1f} %; machine busy {cpu['machine']:.0f} % of one core "
            f"(of {100 * cpu['cores']:.0f}); WEP video pulls so far: {row['pulls']}"
        )
        lags = ", ".join(f"{node} {1000 * lag:.0f} ms" for node, lag in row["lag"].items())
        print(f"  viewers: connection states at the end {row['states']}; worst loop lag of their processes: {lags}")
        for name, node in row["nodes"].items():
            print(
                f"  {name}: {node['delays']:.0f} frames timed, frames skipped {node['frames_skipped']:.0f}, "
                f"keyframe requests {node['keyframe_requests']:.0f}; in the phase (joins included): "
                + ", ".join(f"{name} {count:.0f}" for name, count in node["ended"].items())
            )
    if failures:
        print(f"\n{len(failures)} viewers failed to join, e.g. {failures[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=int, default=300, help="in all, shared evenly by the nodes")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per phase")
    parser.add_argument("--warmup", type=float, default=8.0, help="after the joins, before the window")
    parser.add_argument("--per-process", type=int, default=100, help="viewers per viewer process")
    parser.add_argument("--viewer-nice", type=int, default=10, help="niceness of the viewer processes")
    parser.add_argument("--quality", default="high", choices=("high", "low"))
    parser.add_argument("--role", default="coordinator", help=argparse.SUPPRESS)
    args = parser.parse_args()
    import uvloop

    if args.role == "viewers":
        uvloop.run(viewers_role(args.viewer_nice))
        return
    args.loadavg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    uvloop.run(orchestrate(args))


if __name__ == "__main__":
    main()
