"""LL-HLS through the edge tier: one camera's players straight at a gateway node, next to
many more through nginx (deploy/nginx/edge.conf as deployed) in front of the nodes, in one
run (issue 18: 5000 players through the edge with the origin under 30 % of a core and p99
delivery under 300 ms, next to 1000 straight at one node).

Processes (so each one's CPU is its own):
- this one: the WEP emulator (1 camera), redis-server, and the orchestration
  (bench/cluster_site.py);
- gateway nodes in cluster mode (tests/cluster/conftest.py's Cluster, one Redis), each
  `wep-gateway serve` with viewer auth on, instrumented only to note the wall time each
  part is completed and to count the request heads that reach it off the wire (two
  bench-only routes read them). [limits] are raised (cluster_site.LIMITS_ENV);
- nginx running deploy/nginx/edge.conf as deployed (tests/cluster/edge.py, the edge test's
  own runner), its prefix (the caches) on tmpfs as the file asks;
- player processes (`--gen-procs`): players on raw asyncio protocols (uvloop), one
  keep-alive connection and one viewer token each (`--tokens N`: N tokens shared), each a
  state machine following LL-HLS: a blocking playlist reload for the next part
  (_HLS_msn/_HLS_part), a GET of the newest part it lists, the next reload. URIs are taken
  from the playlists, with the `?token=` the gateway (direct) or the edge wrote into them.

Phases, each measured over `--seconds` after `--warmup` (players join over its first half):
the floor (one player straight at the origin: what the running stream costs), (a) the
reference, `--direct` players straight at the node the edge sends this camera to (the
origin), (b) `--edge` players through the edge (a phase per count: `--edge 1000,5000`). Per phase: CPU (% of one core, from
/proc/<pid>/stat) of the origin, the other nodes, nginx (master and workers) and the
players; p50/p99 delivery delay (a part's completion in the origin's muxer to its last byte
at a player; wall clocks of one machine); parts per second per player (5 is keeping up at
0.2 s parts); errors; requests that reached the origin, by kind; what the edge's access
log and error lines say. Ratios edge / direct follow.

    .venv/bin/python bench/bench_cluster_hls.py [--direct 1000] [--edge 5000] [--seconds 20]
        [--warmup 8] [--nodes 2] [--tokens 0] [--gen-procs 2] [--quality low]
    smoke: .venv/bin/python bench/bench_cluster_hls.py --direct 50 --edge 200 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from array import array
from collections import Counter
from pathlib import Path

from cluster_site import ClusterSite, CpuMeter, children, start_script_node  # bench/ is sys.path[0]
from coordinator import ROOT, Child, add_bench_route, commands, percentile, raise_fd_limit

sys.path.insert(0, str(ROOT))

DRAIN = 8.0  # after the window, requests in flight may finish for this long (a reload blocks ~1 s)
RETRY_AFTER_ERROR = 0.2


# ---- node process: `wep-gateway serve`, instrumented -------------------------------------
class RequestTally(asyncio.Protocol):
    """In front of the node's own protocol on every connection: counts the request heads that
    reach the node, by kind, as they come off the wire (whatever answers them: aiohttp or a
    path below it), then hands the bytes on unchanged."""

    def __init__(self, inner: asyncio.Protocol, tally: Counter[str]):
        self.inner, self.tally = inner, tally

    def connection_made(self, transport) -> None:
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if b" HTTP/1.1\r\n" in data:  # a request head starts here (nginx and the players never pipeline)
            line = data[: data.find(b"\r\n")]
            if b"X-Wepgw-Edge: check" in data:
                kind = "edge check"
            else:
                what = b"playlist" if b".m3u8" in line else b"part" if b"/part" in line else line.split(b"/")[1]
                kind = f"{'edge fill' if b'X-Wepgw-Edge: cache' in data else 'direct'} {what.decode(errors='replace')}"
            if not line.startswith(b"GET /_bench/"):
                self.tally[kind] += 1
        self.inner.data_received(data)

    def eof_received(self):
        return self.inner.eof_received()

    def connection_lost(self, exc) -> None:
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


def run_node(config: str, profile: str | None) -> int:
    """`wep-gateway serve --config config` with two bench-only routes: GET /_bench/parts (part
    id -> wall time it was completed) and GET /_bench/requests (request heads received, by kind)."""
    from aiohttp import web, web_runner

    import gateway.app
    from gateway.cli import main
    from gateway.hls import muxer as hls_muxer

    completed: dict[int, float] = {}
    tally: Counter[str] = Counter()
    feed = hls_muxer.HlsMuxer.feed

    def noting_feed(self, item):
        parts = feed(self, item)
        if parts:
            now = time.time()
            for part in parts:
                completed[part.id] = now
        return parts

    async def parts(_request: web.Request) -> web.Response:
        return web.json_response(completed)

    async def requests(_request: web.Request) -> web.Response:
        return web.json_response(tally)

    create_app = gateway.app.create_app

    def instrumented_app(config):
        app = create_app(config)
        add_bench_route(app, "GET", "/_bench/parts", parts)
        add_bench_route(app, "GET", "/_bench/requests", requests)
        return app

    server = web_runner.BaseRunner.server  # the protocol factory TCPSite.start listens with

    def tallied(runner):
        factory = server.fget(runner)
        return None if factory is None else lambda: RequestTally(factory(), tally)

    hls_muxer.HlsMuxer.feed = noting_feed
    gateway.app.create_app = instrumented_app  # gateway.cli imports it when `serve` starts
    web_runner.BaseRunner.server = property(tallied)
    if not profile:
        return main(["serve", "--config", config])
    import cProfile

    profiler = cProfile.Profile()
    try:
        return profiler.runcall(main, ["serve", "--config", config])  # SIGTERM ends it cleanly
    finally:
        profiler.dump_stats(profile)


# ---- player processes --------------------------------------------------------------------
def playlist_position(text: bytes) -> tuple[int, int, bytes, int]:
    """(msn, part) a blocking reload asks for next, and the newest part's URI and id (C-level
    bytes searches only: thousands of players parse ten playlists a second each)."""
    at = text.find(b"#EXT-X-MEDIA-SEQUENCE:") + 22
    sequence = int(text[at : text.find(b"\n", at)])
    last_segment = text.rfind(b"#EXTINF:")
    open_msn = sequence + text.count(b"#EXTINF:")
    open_parts = text.count(b"#EXT-X-PART:", max(last_segment, 0))
    newest = text.rfind(b"#EXT-X-PART:")
    if newest < 0:
        raise ValueError("no parts listed")
    start = text.find(b'URI="', newest) + 5
    uri = text[start : text.find(b'"', start)]
    return open_msn, open_parts, uri, int(uri[4 : uri.find(b".")])  # part<id>.m4s


def content_length(head: bytes) -> int:
    """The Content-Length of a response head; -1 without one (chunked)."""
    at = head.find(b"Content-Length: ")  # aiohttp and nginx both spell it so
    if at < 0:
        return -1
    end = head.find(b"\r\n", at)
    return int(head[at + 16 : end if end >= 0 else len(head)])


def dechunk(buffer: bytearray, start: int) -> tuple[bytes, int] | None:
    """A chunked body (RFC 9112 7.1) from `start`: (body, end), or None until it is whole."""
    body = bytearray()
    at = start
    while True:
        line_end = buffer.find(b"\r\n", at)
        if line_end < 0:
            return None
        size = int(buffer[at:line_end].split(b";")[0], 16)
        if size == 0:
            return (bytes(body), line_end + 4) if len(buffer) >= line_end + 4 else None
        chunk_end = line_end + 2 + size
        if len(buffer) < chunk_end + 2:
            return None
        body += buffer[line_end + 2 : chunk_end]
        at = chunk_end + 2


class Fleet:
    """What a process's players share: where to go, when, and what they got."""

    def __init__(self, host: str, port: int, prefix: str, measure_from: float, stop_at: float):
        self.loop = asyncio.get_running_loop()
        self.host, self.port = host, port
        self.prefix = prefix.encode()
        self.measure_from, self.stop_at = measure_from, stop_at
        self.part_ids = array("q")  # parts received in the window, and when
        self.part_times = array("d")
        self.requests = 0  # sent in the window
        self.skipped = 0  # parts a player never fetched (the playlist had moved past them)
        self.errors: Counter[str] = Counter()
        self.unreadable = ""  # the first playlist that could not be read, for the report
        self.warmup_errors: Counter[str] = Counter()
        self.players: list[Player] = []

    def error(self, kind: str) -> None:
        (self.errors if time.time() >= self.measure_from else self.warmup_errors)[kind] += 1


class Player(asyncio.Protocol):
    """One LL-HLS player on one keep-alive connection: blocking reload, newest part, again."""

    def __init__(self, fleet: Fleet, token: str):
        self.fleet = fleet
        self.query = f"token={token}".encode()
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.request = b""  # the one outstanding (sent again after a reconnect)
        self.fetching = 0  # the id of the part requested; 0: a playlist is
        self.last_part = 0
        self.reload = b""  # the next blocking reload's path
        self.status = 0
        self.body_at = -1  # where the body starts; -1: the head is not in yet
        self.length = -1  # Content-Length; -1: chunked
        self.server_closes = False
        self.done = False

    # -- connection
    def start(self) -> None:
        self.request = self._get(b"playlist.m3u8?" + self.query)
        self.fleet.loop.create_task(self._connect())

    async def _connect(self, delay: float = 0.0) -> None:
        if delay:
            await asyncio.sleep(delay)
        if time.time() >= self.fleet.stop_at:
            self.done = True
        if self.done:
            return
        try:
            await self.fleet.loop.create_connection(lambda: self, self.fleet.host, self.fleet.port)
        except OSError as exc:
            self.fleet.error(f"connect {type(exc).__name__}")
            self.fleet.loop.create_task(self._connect(0.5))

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.buffer.clear()
        self.body_at = -1
        self.server_closes = False
        transport.write(self.request)

    def connection_lost(self, exc) -> None:
        self.transport = None
        if self.done:
            return
        if not self.server_closes:  # not at a keep-alive limit: the server dropped us
            self.fleet.error(f"dropped {type(exc).__name__ if exc else 'EOF'}")
        self.fleet.loop.create_task(self._connect(0.0 if self.server_closes else 0.5))

    def stop(self) -> None:
        self.done = True
        if self.transport is not None:
            self.transport.close()

    # -- requests
    def _get(self, path: bytes) -> bytes:
        return b"GET " + self.fleet.prefix + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

    def _send(self, request: bytes) -> None:
        self.request = request
        if time.time() >= self.fleet.measure_from:
            self.fleet.requests += 1
        if self.transport is not None and not self.server_closes:
            self.transport.write(request)
        # else: connection_made sends it on the next connection

    def _retry(self) -> None:
        self.fetching = 0
        self.request = self._get(b"playlist.m3u8?" + self.query)

        def again() -> None:
            if not self.done and self.transport is not None and not self.server_closes:
                self._send(self.request)

        self.fleet.loop.call_later(RETRY_AFTER_ERROR, again)

    # -- responses
    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if self.body_at < 0:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end])
            self.status = int(buffer[9:12])
            self.body_at = end + 4
            self.length = content_length(head)
            self.server_closes = b"Connection: close" in head
        if self.length >= 0:
            end = self.body_at + self.length
            if len(buffer) < end:
                return
            body = bytes(buffer[self.body_at : end])
        else:
            whole = dechunk(buffer, self.body_at)
            if whole is None:
                return
            body, end = whole
        del buffer[:end]
        self.body_at = -1
        self._answered(self.status, body)

    def _answered(self, status: int, body: bytes) -> None:
        fleet = self.fleet
        now = time.time()
        if now >= fleet.stop_at:
            self.stop()
            return
        if status != 200:
            fleet.error(f"{'part' if self.fetching else 'playlist'} {status}")
            self._retry()
            return
        if self.fetching:
            if now >= fleet.measure_from:
                fleet.part_ids.append(self.fetching)
                fleet.part_times.append(now)
            self.last_part = self.fetching
            self.fetching = 0
            self._send(self.reload)
            return
        try:
            msn, part, uri, part_id = playlist_position(body)
        except ValueError:
            fleet.error("playlist unreadable")
            fleet.unreadable = fleet.unreadable or repr(body[:300])
            self._retry()
            return
        self.reload = self._get(b"playlist.m3u8?_HLS_msn=%d&_HLS_part=%d&%s" % (msn, part, self.query))
        if part_id <= self.last_part:  # nothing new listed (a plain playlist): block for the next
            self._send(self.reload)
            return
        if self.last_part and now >= fleet.measure_from:
            fleet.skipped += part_id - self.last_part - 1
        self.fetching = part_id
        self._send(self._get(uri))


class PlayersWorker:
    """A player process: runs its share of the players when told, then turns what they got
    into delays once the origin's completion times are known."""

    def __init__(self) -> None:
        self.fleet: Fleet | None = None

    async def ready(self, _command: dict) -> dict:
        return {"pid": os.getpid()}

    async def run(self, command: dict) -> dict:
        fleet = Fleet(command["host"], command["port"], command["prefix"], command["measure_from"], command["stop_at"])
        self.fleet = fleet
        fleet.players = [Player(fleet, token) for token in command["tokens"]]
        start_at, ramp = command["start_at"], command["ramp"]
        for index, player in enumerate(fleet.players):  # joining over `ramp` s, not all at once
            await asyncio.sleep(max(0.0, start_at + ramp * index / len(fleet.players) - time.time()))
            player.start()
        hard_stop = fleet.stop_at + DRAIN
        while time.time() < hard_stop and not all(player.done for player in fleet.players):
            await asyncio.sleep(0.2)
        unfinished = sum(not player.done for player in fleet.players)
        for player in fleet.players:
            player.stop()
        return {
            "parts": len(fleet.part_ids),
            "requests": fleet.requests,
            "skipped": fleet.skipped,
            "errors": fleet.errors,
            "warmup_errors": fleet.warmup_errors,
            "unfinished": unfinished,
            "unreadable": fleet.unreadable,
        }

    async def delays(self, command: dict) -> dict:
        """Delivery delays in 0.1 ms steps ({step: count}), from the origin's completion times."""
        assert self.fleet is not None, "delays before run"
        completed = {int(part_id): at for part_id, at in command["completed"].items()}
        steps: Counter[int] = Counter()
        unmatched = 0
        for part_id, received in zip(self.fleet.part_ids, self.fleet.part_times):
            at = completed.get(part_id)
            if at is None:
                unmatched += 1
            else:
                steps[round((received - at) * 10_000)] += 1
        return {"steps": steps, "unmatched": unmatched}


async def players_role() -> None:
    raise_fd_limit()
    worker = PlayersWorker()
    await commands({"ready": worker.ready, "run": worker.run, "delays": worker.delays})


# ---- orchestrator ------------------------------------------------------------------------
def node_cluster_class(profile: str | None):
    from tests.cluster.conftest import Cluster, Node

    class InstrumentedCluster(Cluster):
        """tests/cluster/conftest.py's Cluster, its nodes started as this script's `node`
        role: `wep-gateway serve`, instrumented."""

        async def launch(self, node: Node) -> None:
            profiling = ["--profile", f"{profile}.{node.name}"] if profile else []
            await start_script_node(node, __file__, *profiling)

    return InstrumentedCluster


async def bench_json(http, node, path: str) -> dict:
    async with http.get(f"{node.base}{path}") as response:
        return await response.json()


async def find_origin(http, nodes, edge, prefix: str, token: str):
    """The node the edge sends this camera to (its muxer starts with this request), and the
    mean part size."""
    before = [sum((await bench_json(http, node, "/_bench/requests")).values()) for node in nodes]
    async with http.get(f"{edge.url}{prefix}/playlist.m3u8", params={"token": token}) as response:
        if response.status != 200:
            raise RuntimeError(f"first playlist through the edge: {response.status} {await response.text()}")
    after = [sum((await bench_json(http, node, "/_bench/requests")).values()) for node in nodes]
    origin = nodes[max(range(len(nodes)), key=lambda i: after[i] - before[i])]
    for _ in range(50):  # until parts are listed
        async with http.get(f"{origin.base}{prefix}/playlist.m3u8", params={"token": token}) as response:
            text = (await response.read()).rstrip()
        if b"#EXT-X-PART:" in text:
            break
        await asyncio.sleep(0.2)
    uris = [line.split(b'URI="')[1].split(b'"')[0] for line in text.split(b"\n") if line.startswith(b"#EXT-X-PART:")]
    sizes = []
    for uri in uris[-5:]:
        async with http.get(f"{origin.base}{prefix}/{uri.decode()}") as response:
            sizes.append(len(await response.read()))
    return origin, sum(sizes) / max(1, len(sizes))


async def run_phase(name: str, target: tuple[str, int], players: int, tokens: list[str], ctx: dict) -> dict:
    """One phase: `players` players of the camera at `target` (host, port), measured."""
    args, http, site, origin, edge = ctx["args"], ctx["http"], ctx["site"], ctx["origin"], ctx["edge"]
    procs = max(1, min(args.gen_procs, players))
    workers = [await Child.start(__file__, "players") for _ in range(procs)]
    try:
        pids = [(await worker.ask({"cmd": "ready"}, 60))["pid"] for worker in workers]
        meter = CpuMeter(
            {
                **{node.name: [node.process.pid] for node in site.nodes},
                "nginx": [edge.process.pid, *children(edge.process.pid)],
                "players": pids,
                "redis": [site.redis.process.pid],
                "bench (emulator)": [os.getpid()],
            }
        )
        log_from = await asyncio.to_thread(lambda: edge.log.stat().st_size)
        start_at = time.time() + 0.5
        measure_from = start_at + args.warmup
        stop_at = measure_from + args.seconds
        for index, worker in enumerate(workers):
            worker.send(
                {
                    "cmd": "run",
                    "host": target[0],
                    "port": target[1],
                    "prefix": ctx["prefix"] + "/",
                    "tokens": [tokens[i % len(tokens)] for i in range(index, players, procs)],
                    "start_at": start_at,
                    "ramp": args.warmup / 2,
                    "measure_from": measure_from,
                    "stop_at": stop_at,
                }
            )
        await asyncio.sleep(measure_from - time.time())
        meter.begin()
        requests = Counter(await bench_json(http, origin, "/_bench/requests"))
        await asyncio.sleep(stop_at - time.time())
        cpu = meter.end()
        requests = Counter(await bench_json(http, origin, "/_bench/requests")) - requests
        answers = [await worker.answer(args.seconds + args.warmup + DRAIN + 60) for worker in workers]
        completed = await bench_json(http, origin, "/_bench/parts")
        delays = [await worker.ask({"cmd": "delays", "completed": completed}, 60) for worker in workers]
    finally:
        for worker in workers:
            await worker.end()
    edge_log = await asyncio.to_thread(read_edge_log, edge.log, log_from)
    return {
        "phase": name,
        "players": players,
        "seconds": args.seconds,
        "cpu": cpu,
        "origin_requests": requests,
        "edge_log": edge_log,
        **players_side(answers, delays),
    }


def players_side(answers: list[dict], delays: list[dict]) -> dict:
    """The player processes' answers and delays, summed."""
    steps: Counter[int] = Counter()
    for answer in delays:
        steps.update({int(step): count for step, count in answer["steps"].items()})
    ordered = sorted(steps.elements())  # 0.1 ms steps
    errors, warmup_errors = Counter(), Counter()
    for answer in answers:
        errors.update(answer["errors"])
        warmup_errors.update(answer["warmup_errors"])
    return {
        "parts": sum(answer["parts"] for answer in answers),
        "requests": sum(answer["requests"] for answer in answers),
        "skipped": sum(answer["skipped"] for answer in answers),
        "unfinished": sum(answer["unfinished"] for answer in answers),
        "unreadable": next((answer["unreadable"] for answer in answers if answer["unreadable"]), ""),
        "p50": percentile(ordered, 0.50) / 10,
        "p99": percentile(ordered, 0.99) / 10,
        "max": ordered[-1] / 10 if ordered else float("nan"),
        "unmatched": sum(answer["unmatched"] for answer in delays),
        "errors": errors,
        "warmup_errors": warmup_errors,
    }


def read_edge_log(log: Path, offset: int) -> dict:
    """What the edge's access log (edge.conf's `edge` format) and error lines say since
    `offset`: answers by status and cache status, and nginx's own complaints."""
    statuses: Counter[str] = Counter()
    cache: Counter[str] = Counter()
    complaints: Counter[str] = Counter()
    with log.open("rb") as lines:
        lines.seek(offset)
        for line in lines:
            at = line.find(b'" ')
            if at >= 0 and b" cache=" in line:
                statuses[line[at + 2 : line.find(b" ", at + 2)].decode()] += 1
                start = line.find(b" cache=") + 7
                cache[line[start : line.find(b" ", start)].decode()] += 1
            elif b"[alert]" in line or b"[crit]" in line or b"[emerg]" in line:
                complaints[line.split(b"] ", 1)[-1][:120].decode(errors="replace")] += 1
    return {"status": statuses, "cache": cache, "complaints": complaints}


async def orchestrate(args) -> None:
    import aiohttp

    from tests.cluster.edge import Edge

    edge_home = Path(tempfile.mkdtemp(prefix="bench-edge-", dir=args.shm))  # the edge's cache: tmpfs
    edge = None
    rows = []
    try:
        async with ClusterSite(args.nodes, node_cluster_class(args.profile)) as site:
            edge = Edge(edge_home / "edge", [node.port for node in site.nodes])
            await edge.start()
            prefix = f"/hls/{site.camera}/{args.quality}"
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
                tokens = await site.mint_tokens(http, args.tokens or max([1, args.direct, *args.edge]))
                origin, part_bytes = await find_origin(http, site.nodes, edge, prefix, tokens[0])
                ctx = {"args": args, "http": http, "site": site, "origin": origin, "edge": edge, "prefix": prefix}
                # The floor: the stream kept running by one player (muxer, pull, cluster heartbeats).
                rows.append(await run_phase("floor", ("127.0.0.1", origin.port), 1, tokens, ctx))
                if args.direct:
                    rows.append(await run_phase("direct", ("127.0.0.1", origin.port), args.direct, tokens, ctx))
                    await asyncio.sleep(2)
                for players in args.edge:
                    rows.append(await run_phase("edge", ("127.0.0.1", edge.port), players, tokens, ctx))
                    await asyncio.sleep(2)
            pulls = site.video_pulls(args.quality)
    finally:
        if edge is not None:
            await edge.stop()
        await asyncio.to_thread(shutil.rmtree, edge_home, True)
    report(args, rows, site.nodes, origin, part_bytes, pulls)


def report(args, rows, nodes, origin, part_bytes, pulls) -> None:
    tokens = "one per player" if not args.tokens else f"{args.tokens} shared"
    print(
        f"\nLL-HLS through the edge tier: 1 camera ({args.quality}, mean part {part_bytes / 1024:.1f} KiB), "
        f"{len(nodes)} nodes in cluster mode (origin {origin.name}), viewer auth on ({tokens} tokens), "
        f"{args.seconds:g} s measured after {args.warmup:g} s warm-up, {os.cpu_count()} cores shared; "
        f"load average before: {args.loadavg}"
    )
    print("delay: a part's completion in the origin's muxer -> its last byte at the player; CPU: % of one core")
    header = (
        f"{'phase':7} {'players':>7} {'origin CPU%':>11} {'other nodes%':>12} {'nginx CPU%':>10} {'players CPU%':>12} "
        f"{'parts/s/pl':>10} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'errors':>6} {'origin req/s':>12}"
    )
    print(header)
    print("-" * len(header))
    others = [node.name for node in nodes if node is not origin]
    for row in rows:
        cpu = row["cpu"]
        print(
            f"{row['phase']:7} {row['players']:7d} {cpu[origin.name]:11.1f} {sum(cpu[n] for n in others):12.1f} "
            f"{cpu['nginx']:10.1f} {cpu['players']:12.1f} {row['parts'] / row['players'] / args.seconds:10.2f} "
            f"{row['p50']:7.1f} {row['p99']:7.1f} {row['max']:7.1f} {sum(row['errors'].values()):6d} "
            f"{sum(row['origin_requests'].values()) / args.seconds:12.0f}"
        )
    report_ratios(rows, origin.name)
    for row in rows:
        report_details(args, row, origin.name)
    print(f"\nWEP video pulls of the camera ({args.quality}) over the run: {pulls}")


def report_ratios(rows: list[dict], origin: str) -> None:
    """Each edge row against the direct one (the reference), and against the issue's targets."""
    direct = next((row for row in rows if row["phase"] == "direct"), None)
    floor = rows[0]["cpu"][origin]

    def origin_cpu(row: dict, net: bool = False) -> float:
        return max(1e-9, (row["cpu"][origin] - (floor if net else 0.0)) / row["players"])

    def origin_requests(row: dict) -> float:
        return max(1e-9, sum(row["origin_requests"].values()) / row["players"])

    for edge in (row for row in rows if row["phase"] == "edge"):
        if direct is not None:
            ratio = {
                "origin CPU per player": origin_cpu(edge) / origin_cpu(direct),
                "the same above the floor": origin_cpu(edge, net=True) / origin_cpu(direct, net=True),
                "origin requests per player": origin_requests(edge) / origin_requests(direct),
                "origin CPU": edge["cpu"][origin] / max(1e-9, direct["cpu"][origin]),
                "p50": edge["p50"] / max(1e-9, direct["p50"]),
                "p99": edge["p99"] / max(1e-9, direct["p99"]),
            }
            print(
                f"edge {edge['players']} / direct {direct['players']}: "
                + ", ".join(f"{name} x{value:.2f}" for name, value in ratio.items())
            )
        cpu, p99 = edge["cpu"][origin], edge["p99"]
        print(
            f"edge, {edge['players']} players: origin {cpu:.1f} % of a core ({'under' if cpu < 30 else 'over'} 30 %); "
            f"p99 {p99:.0f} ms ({'under' if p99 < 300 else 'over'} 300 ms); "
            f"{edge['parts'] / edge['players'] / edge['seconds']:.2f} of 5 parts/s per player"
        )


def report_details(args, row: dict, origin: str) -> None:
    cpu = row["cpu"]
    print(
        f"\n{row['phase']} {row['players']}: machine busy {cpu['machine']:.0f} % of one core (of {100 * cpu['cores']:.0f}), "
        f"of it redis {cpu['redis']:.1f}, this process (emulator) {cpu['bench (emulator)']:.1f}; "
        f"player requests {row['requests'] / args.seconds:.0f}/s, parts skipped {row['skipped']}, "
        f"unmatched {row['unmatched']}, players unfinished at the drain {row['unfinished']}"
    )
    player_rate = max(1e-9, row["requests"] / args.seconds)  # requests/s the players sent
    origin_rate = max(1e-9, sum(row["origin_requests"].values()) / args.seconds)
    print(
        f"  CPU per player request: nginx {1e4 * cpu['nginx'] / player_rate:.1f} us, players "
        f"{1e4 * cpu['players'] / player_rate:.1f} us; origin {1e4 * cpu[origin] / origin_rate:.1f} us "
        "per request that reached it"
    )
    print("  reached the origin: " + ", ".join(f"{k} {v}" for k, v in sorted(row["origin_requests"].items())))
    edge_log = row["edge_log"]
    if edge_log["status"]:
        print(
            "  the edge answered (warm-up and drain included): "
            + ", ".join(f"{k} {v}" for k, v in sorted(edge_log["status"].items()))
            + "; cache "
            + ", ".join(f"{k} {v}" for k, v in edge_log["cache"].most_common())
        )
    for complaint, count in edge_log["complaints"].most_common(3):
        print(f"  nginx said {count} times: {complaint}")
    if row["errors"] or row["warmup_errors"]:
        print(f"  errors: {dict(row['errors'])}; in warm-up: {dict(row['warmup_errors'])}")
    if row["unreadable"]:
        print(f"  the first playlist a player could not read began: {row['unreadable']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--direct", type=int, default=1000, help="players straight at the origin node (0: skip)")
    parser.add_argument(
        "--edge", default="5000", help="players through the edge, a phase per comma-separated count (0: none)"
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per phase")
    parser.add_argument("--warmup", type=float, default=8.0, help="players join over half of it, then it settles")
    parser.add_argument("--nodes", type=int, default=2, help="gateway nodes behind the edge")
    parser.add_argument("--tokens", type=int, default=0, help="distinct viewer tokens (0: one per player)")
    parser.add_argument("--gen-procs", type=int, default=2, help="player processes")
    parser.add_argument("--quality", default="low", choices=("high", "low"))
    parser.add_argument("--role", default="coordinator", help=argparse.SUPPRESS)
    parser.add_argument("--profile", help="cProfile each gateway node into PROFILE.<node name> (pstats)")
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "node":
        sys.exit(run_node(args.config, args.profile))
    import uvloop

    if args.role == "players":
        uvloop.run(players_role())
        return
    args.edge = [int(count) for count in args.edge.split(",") if int(count)]
    args.profile = str(Path(args.profile).resolve()) if args.profile else None
    args.loadavg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    args.shm = "/dev/shm" if Path("/dev/shm").is_dir() else None
    uvloop.run(orchestrate(args))


if __name__ == "__main__":
    main()
