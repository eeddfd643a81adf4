"""Events fan-out: N SSE subscribers and R events/s from WEP webhooks, next to the same
fan-out of pre-built events without parsing (the floor), measured in the same run.

Processes (so each one's CPU is its own):
- the WEP emulator (2 cameras, small loops): told when, it raises R events a second with
  `inject_event` (DEVICE_MOTION_START and _STOP in turn on camera 1); each is posted as a
  signed NOTIFICATION to the webhook the gateway registered. Like WEP, the emulator posts
  one message at a time per webhook and puts what waited meanwhile into the next post:
  the table shows events per post;
- the gateway: create_app + GatewayRunner on uvloop, as `wep-gateway serve` runs it, with
  `[events] public_url` its own http://127.0.0.1:<port>, viewer auth off, the other
  [events] settings at their defaults (subscriber_queue, heartbeat_ms, ring_size);
- the floor: a bare aiohttp app serving gateway.events.routes.event_stream over an
  EventBus of its own (the same fan-out code), fed R pre-built Events a second by a timer:
  no HTTP webhook, no signature, no JSON parsing, no camera lookup;
- the load generator: N subscribers on raw asyncio sockets (HTTP/1.1, chunked as aiohttp
  sends it), each an asyncio Protocol fed every read (`--reader stream`: a task each
  awaiting StreamReader.read(65536), about a third more CPU), keeping whole frames
  (split on the blank line). Per read it takes the SSE ids (checked to be consecutive)
  and the arrival time; an event's JSON (its id and `time`) is parsed once per process,
  by the first subscriber that gets it. Counts and delays per event are worked out from
  those ranges after the window, so the generator stays light with 1000 sockets.

Delay = arrival wall time at the subscriber - the event's `time`. The emulator stamps
`time` (whole ms, rounded down) when it raises the event, so the gateway's delay also holds
the emulator's post: it is an upper bound on "webhook request arriving -> event bytes at
the subscriber". The floor stamps `time` with the moment the event is due, as a webhook
post would arrive then, so a loop too busy to publish on time counts against it as it
does against the gateway. Both include the load generator's own scheduling. Lost / dup:
over every event raised in the measured window, the (subscriber, event) pairs never
delivered / delivered more than once.

For each N: the gateway row, then the floor row, each with a fresh load generator; a
warm-up, then a measured window in which the server's CPU (/proc/<pid>/stat) and RSS are
read; events keep coming for a short tail, and deliveries are awaited for a drain period.

    .venv/bin/python bench/bench_events.py [--subscribers 100,1000] [--rate 200] [--seconds 15] [--warmup 3]
                                           [--reader protocol|stream]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import sys
import tempfile
import time
from array import array
from datetime import datetime
from pathlib import Path

from coordinator import Child, commands, percentile, raise_fd_limit, say  # bench/ is sys.path[0] as a script

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
TAIL = 0.5  # events keep coming this long after the window, so its last ones meet the same load
DRAIN = 2.0  # then deliveries are awaited this long before the load generator counts
START_DELAY = 0.5  # between the coordinator's word and the first event
CONNECT_SPREAD = 1.0  # subscribers connect over this long, not all at once
KINDS = ("DEVICE_MOTION_START", "DEVICE_MOTION_STOP")
TARGET_P99, TARGET_CPU_RATIO = 0.100, 2.0
SATURATED = 0.90  # of one core: the event loop has no time left
BUSY_ELSEWHERE = 0.15  # of one core used outside the bench's busy processes: a noisy window


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has used (all cores), from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLK_TCK  # all but idle and iowait


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def pace(command: dict, emit, stats) -> dict:
    """Call emit(n, due) `rate` times a second from `start` to `stop` (absolute wall times,
    `due` the wall time event n is due); the numbers emitted in [measure_from, measure_to),
    and `stats()` at both ends of the window. Each wake-up emits every event then due: a
    loop kept busy by the fan-out delays events, it does not lower the rate."""
    period = 1 / command["rate"]
    start, measure_from, measure_to, stop = (command[k] for k in ("start", "measure_from", "measure_to", "stop"))
    ids: list[int] = []
    late = 0.0
    before = after = None
    n = 0
    due = start
    while due < stop:
        await asyncio.sleep(max(0.0, due - time.time()))
        now = time.time()
        while due <= now and due < stop:
            if before is None and due >= measure_from:
                before = stats()
            if after is None and due >= measure_to:
                after = stats()
            number = emit(n, due)
            if measure_from <= due < measure_to:
                ids.append(number)
                late = max(late, now - due)
            n += 1
            due = start + n * period
    return {"ids": ids, "raised": n, "late_max": late, "before": before, "after": after or stats()}


# ---- emulator process ----------------------------------------------------------------
async def run_emulator(cache: str) -> None:
    from gateway.emulator.server import Emulator
    from gateway.emulator.settings import EmulatorSettings
    from tests.conftest import TEST_EMULATOR  # the suite's small loops: no video is asked for here

    emulator = Emulator(EmulatorSettings(host="127.0.0.1", port=0, cache_dir=cache, **TEST_EMULATOR))
    await emulator.start()
    say({"url": emulator.url, "camera": emulator.camera_ids[0]})

    def emit(n: int, due: float) -> int:
        return int(emulator.inject_event(1, KINDS[n % 2])["thisId"])  # stamped now: the post follows

    def webhook_totals() -> dict:
        return emulator.webhook_stats["total"]

    async def status(_: dict) -> dict:
        return {"webhooks": emulator.webhooks, "total": webhook_totals()}

    async def raise_events(command: dict) -> dict:
        return await pace(command, emit, webhook_totals)

    try:
        await commands({"status": status, "raise": raise_events})
    finally:
        await emulator.stop()


# ---- gateway process -----------------------------------------------------------------
def bus_stats(layer) -> dict:
    stats = layer.bus.stats
    answer = {
        "published": stats.published,
        "duplicates": stats.duplicates,
        "batches": stats.batches,
        "subscribers": layer.bus.subscriber_count,
        "dropped": stats.subscribers_dropped,
    }
    if getattr(layer, "receiver", None) is not None:
        receiver = layer.receiver.stats
        answer.update(
            posts=dict(receiver.posts),
            overflow=receiver.overflow,
            rejected=sum(receiver.rejected.values()),
            bad_requests=receiver.bad_requests,
            malformed=layer.intake.stats.malformed,
            unknown_camera=layer.intake.stats.unknown_camera,
        )
    return answer


async def run_gateway(emulator_url: str, port: int, work: str) -> None:
    import dataclasses

    from aiohttp import web

    from gateway.app import create_app
    from gateway.config import Config
    from gateway.emulator.settings import EmulatorSettings
    from gateway.events.service import EVENTS
    from gateway.snapshots.fast_path import GatewayRunner

    raise_fd_limit()
    emu, base = EmulatorSettings(), Config()
    own = f"127.0.0.1:{port}"
    config = dataclasses.replace(
        base,
        server=dataclasses.replace(base.server, listen=own),
        wep=dataclasses.replace(
            base.wep,
            url=emulator_url,
            username=emu.username,
            password=emu.password,
            user_nonce=emu.user_nonce,
            user_key=emu.user_key,
        ),
        auth=dataclasses.replace(base.auth, viewer_auth=False),
        events=dataclasses.replace(base.events, public_url=f"http://{own}"),
        pushes=dataclasses.replace(base.pushes, db_path=str(Path(work) / "pushes.sqlite3")),
    )
    app = create_app(config)
    runner = GatewayRunner(app, handle_signals=False, shutdown_timeout=config.server.shutdown_timeout, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        layer = app[EVENTS]
        deadline = time.monotonic() + 30
        while not (layer.registration.webhook_id and layer.receiver.stats.posts["HELLO"]):
            if time.monotonic() > deadline:
                raise TimeoutError("the webhook was not registered, or WEP's HELLO never came")
            await asyncio.sleep(0.05)
        say({"url": f"http://{own}", "pid": os.getpid()})

        async def stats(_: dict) -> dict:
            return bus_stats(layer)

        await commands({"stats": stats})
    finally:
        await runner.cleanup()


# ---- floor process -------------------------------------------------------------------
async def run_floor(camera: str) -> None:
    import dataclasses
    import itertools
    from types import SimpleNamespace

    from aiohttp import web

    from gateway.config import Config
    from gateway.emulator.cameras import SERVER_ID
    from gateway.emulator.event_log import SERVER_NAME, iso_ms
    from gateway.events.bus import EventBus
    from gateway.events.model import Event, links
    from gateway.events.routes import event_stream
    from gateway.events.service import EVENTS

    raise_fd_limit()
    settings = Config().events
    bus = EventBus(settings.ring_size, settings.subscriber_queue)
    layer = SimpleNamespace(bus=bus)
    app = web.Application()
    app[EVENTS] = layer
    app.router.add_get("/api/v1/events/stream", event_stream)

    async def close_streams(_: web.Application) -> None:
        bus.close()

    app.on_shutdown.append(close_streams)
    # The event the gateway makes of an emulator notification, field for field, so the SSE
    # bytes are the same size; only id, type, state and time change per event.
    template = Event(
        "floor:0",
        camera,
        KINDS[0],
        "start",
        iso_ms(0),
        "wep",
        {
            "linkedEventId": "-1",
            "originatingEventId": "0",
            "originatingServerId": SERVER_ID,
            "originatingServerName": SERVER_NAME,
        },
        links(camera, time.time(), settings.clip_pre_s, snapshot=True, recording=True),
    )
    prebuilt = [dataclasses.replace(template, type=kind, state=kind.rsplit("_", 1)[1].lower()) for kind in KINDS]

    numbers = itertools.count()  # ids stay unique across runs: the bus drops an id it has seen

    def emit(n: int, due: float) -> int:
        number = next(numbers)
        # Stamped when due, as a webhook post would arrive then: a loop busy with the fan-out
        # delays the publish, and that delay counts as it does in the gateway.
        ms = int(due * 1000)
        event = dataclasses.replace(prebuilt[n % 2], id=f"floor:{number}", time=iso_ms(ms), at=ms / 1000)
        bus.publish(event)
        return number

    async def raise_events(command: dict) -> dict:
        return await pace(command, emit, lambda: bus_stats(layer))

    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        say({"url": f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}", "pid": os.getpid()})
        await commands({"raise": raise_events})
    finally:
        await runner.cleanup()


# ---- load generator process ----------------------------------------------------------
SSE_ID = re.compile(rb"\nid: [0-9a-z]+-([0-9]+)\n")  # sse.EventId: <boot>-<seq>


class Tally:
    """What the subscribers of this process received. An event's JSON is parsed once, by
    the first subscriber that sees its SSE id; a subscriber keeps, per read, the range of
    SSE sequence numbers it got (checked to be consecutive, else one range per event) and
    the arrival time. Ranges become per-event counts and delays only when reporting."""

    def __init__(self):
        self.events: dict[int, tuple[str, float]] = {}  # SSE seq -> (event id, its time)
        self.parsed = -1  # the highest seq parsed

    def learn(self, frames: bytes) -> None:
        for frame in frames.split(b"\n\n"):
            found = SSE_ID.search(frame)
            if found is None or int(found.group(1)) <= self.parsed:
                continue
            seq = int(found.group(1))
            event = json.loads(frame[found.end() + 6 :])  # after "data: "
            self.events[seq] = (event["id"], datetime.fromisoformat(event["time"]).timestamp())
            self.parsed = seq


class SseSubscriber:
    """One client of GET /api/v1/events/stream: what it got, per read."""

    def __init__(self, tally: Tally):
        self.tally = tally
        self.ranges: list[tuple[int, int, float]] = []  # (first seq, last seq, arrival)
        self.ready = False  # the preamble came: the server has subscribed it
        self.ended: str | None = None  # why the stream ended early
        self._buffer = b""

    def feed(self, chunk: bytes, now: float) -> None:
        if self._buffer:
            chunk = self._buffer + chunk
        # Whole frames only; chunked encoding's "\r\n<size>\r\n" between writes is skipped
        # by the id pattern.
        end = chunk.rfind(b"\n\n") + 2
        if end < 2:
            self._buffer = chunk
            return
        self._buffer = chunk[end:]
        if not self.ready:
            self.ready = b"retry:" in chunk
        seqs = [int(seq) for seq in SSE_ID.findall(chunk, 0, end)]
        if not seqs:
            return
        first, last = seqs[0], seqs[-1]
        if last - first + 1 == len(seqs) and seqs == list(range(first, last + 1)):
            self.ranges.append((first, last, now))
        else:
            self.ranges.extend((seq, seq, now) for seq in seqs)
        if last > self.tally.parsed:
            self.tally.learn(chunk[:end])

    async def run(self, host: str, port: int, delay: float, reader_kind: str) -> None:
        await asyncio.sleep(delay)
        request = (
            f"GET /api/v1/events/stream HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
        try:
            if reader_kind == "protocol":
                await self._run_protocol(host, port, request)
            else:
                await self._run_stream(host, port, request)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            self.ended = f"{type(exc).__name__}: {exc}"

    async def _run_stream(self, host: str, port: int, request: bytes) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise ConnectionError(head.split(b"\r\n", 1)[0].decode())
            while True:  # until the server closes or the process is told to report
                chunk = await reader.read(65536)
                if not chunk:
                    self.ended = "closed by the server"
                    return
                self.feed(chunk, time.time())
        finally:
            writer.close()

    async def _run_protocol(self, host: str, port: int, request: bytes) -> None:
        transport, protocol = await asyncio.get_running_loop().create_connection(
            lambda: SseProtocol(self, request), host, port
        )
        try:
            await protocol.closed
        finally:
            transport.close()


class SseProtocol(asyncio.Protocol):
    """A subscriber's socket without a task of its own: the loop hands it each read."""

    def __init__(self, subscriber: SseSubscriber, request: bytes):
        self.subscriber = subscriber
        self.request = request
        self.head: bytes | None = b""  # None once the response head is in
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if self.head is not None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.head.startswith(b"HTTP/1.1 200"):
                self.subscriber.ended = self.head.split(b"\r\n", 1)[0].decode()
                self.transport.close()
                return
            data, self.head = self.head[end + 4 :], None
        self.subscriber.feed(data, now)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.subscriber.ended is None:
            self.subscriber.ended = "closed by the server" if exc is None else f"{type(exc).__name__}: {exc}"
        if not self.closed.done():
            self.closed.set_result(None)


async def run_loadgen(url: str, count: int, reader_kind: str) -> None:
    from urllib.parse import urlsplit

    raise_fd_limit()
    target = urlsplit(url)
    tally = Tally()
    subscribers = [SseSubscriber(tally) for _ in range(count)]
    tasks = [
        asyncio.ensure_future(s.run(target.hostname, target.port, i * CONNECT_SPREAD / count, reader_kind))
        for i, s in enumerate(subscribers)
    ]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(s.ready or s.ended for s in subscribers):
        await asyncio.sleep(0.1)
    say({"ready": sum(s.ready for s in subscribers), "failed": [s.ended for s in subscribers if s.ended][:3]})

    async def report(command: dict) -> dict:
        # Counted before the streams are closed, so that `ended` holds only early ends.
        answer = count_deliveries(tally, subscribers, [f"{command['prefix']}{n}" for n in command["ids"]])
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return answer

    await commands({"report": report})


def count_deliveries(tally: Tally, subscribers: list[SseSubscriber], expected: list[str]) -> dict:
    # An event id under two seqs (published twice) is one event delivered twice.
    seqs_of: dict[str, list[int]] = {}
    for seq, (event_id, _) in tally.events.items():
        seqs_of.setdefault(event_id, []).append(seq)
    wanted = [seqs_of.get(event_id, []) for event_id in expected]
    window = {seq: tally.events[seq][1] for seqs in wanted for seq in seqs}  # seq -> event time
    lost = dup = 0
    delays = array("d")
    for subscriber in subscribers:
        counts = dict.fromkeys(window, 0)
        for first, last, arrival in subscriber.ranges:
            for seq in range(first, last + 1):
                at = window.get(seq)
                if at is not None:
                    counts[seq] += 1
                    delays.append(arrival - at)
        for seqs in wanted:
            got = sum(counts[seq] for seq in seqs)
            lost += got == 0
            dup += max(0, got - 1)
    ordered = sorted(delays)
    ended = [s.ended for s in subscribers if s.ended]
    return {
        "expected": len(expected),
        "lost": lost,
        "dup": dup,
        "delivered": len(ordered),
        "p50": percentile(ordered, 0.50),
        "p99": percentile(ordered, 0.99),
        "max": ordered[-1] if ordered else float("nan"),
        "ended": len(ended),
        "why": sorted(set(ended))[:3],
    }


# ---- coordinator ---------------------------------------------------------------------
async def sleep_until(wall: float) -> None:
    await asyncio.sleep(max(0.0, wall - time.time()))


async def measure(kind: str, server: Child, url: str, source: Child, n: int, args, gateway: Child | None) -> dict:
    load = await Child.start(__file__, "loadgen", "--url", url, "--count", str(n), "--reader", args.reader)
    try:
        connected = await load.answer(120)
        if connected["ready"] < n:
            raise RuntimeError(f"{kind}: only {connected['ready']} of {n} subscribers connected: {connected['failed']}")
        start = time.time() + START_DELAY
        window = {
            "rate": args.rate,
            "start": start,
            "measure_from": start + args.warmup,
            "measure_to": start + args.warmup + args.seconds,
            "stop": start + args.warmup + args.seconds + TAIL,
        }
        source.send({"cmd": "raise", **window})
        pids = {"server": server.pid, "load": load.pid}
        if source is not server:
            pids["source"] = source.pid
        await sleep_until(window["measure_from"])
        cpu0, t0 = {name: cpu_seconds(pid) for name, pid in pids.items()}, time.time()
        busy0 = machine_busy_seconds()
        server0 = await gateway.ask({"cmd": "stats"}, 10) if gateway else None
        await sleep_until(window["measure_to"])
        server1 = await gateway.ask({"cmd": "stats"}, 10) if gateway else None
        cpu1, t1 = {name: cpu_seconds(pid) for name, pid in pids.items()}, time.time()
        busy1 = machine_busy_seconds()
        rss = rss_mib(server.pid)
        raised = await source.answer(args.seconds + TAIL + 30)
        await sleep_until(window["stop"] + DRAIN)
        prefix = "wep:" if gateway else "floor:"
        counted = await load.ask({"cmd": "report", "prefix": prefix, "ids": raised["ids"]}, 300)
    finally:
        await load.end()
    cpu = {name: (cpu1[name] - cpu0[name]) / (t1 - t0) for name in pids}
    # What else ran meanwhile (the idle children of this bench, and anything outside it).
    cpu["other"] = max(0.0, (busy1 - busy0) / (t1 - t0) - sum(cpu.values()))
    if gateway is None:
        server0, server1 = raised["before"], raised["after"]
        source0 = source1 = None
    else:
        source0, source1 = raised["before"], raised["after"]
    return {
        "kind": kind,
        "n": n,
        "cpu": cpu,
        "rss": rss,
        "raised": raised,
        "counted": counted,
        "server": (server0, server1),
        "webhooks": (source0, source1),
    }


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def orchestrate(args) -> list[dict]:
    cache = Path(tempfile.gettempdir()) / "wep-gateway-bench-cache"
    cache.mkdir(exist_ok=True)
    work = tempfile.mkdtemp(prefix="bench-events-")
    children: list[Child] = []
    rows = []
    try:
        emulator = await Child.start(__file__, "emulator", "--cache", str(cache))
        children.append(emulator)
        emu = await emulator.answer(600)  # the first run encodes the small loops (cached after)
        gateway = await Child.start(
            __file__, "gateway", "--url", emu["url"], "--port", str(free_port()), "--work", work
        )
        children.append(gateway)
        gw = await gateway.answer(60)
        hooks = (await emulator.ask({"cmd": "status"}, 10))["webhooks"]
        if [hook["url"] for hook in hooks] != [gw["url"] + "/wep/webhook"]:
            raise RuntimeError(f"expected the gateway's one webhook on the emulator, found {hooks}")
        floor = await Child.start(__file__, "floor", "--camera", emu["camera"])
        children.append(floor)
        fl = await floor.answer(60)
        print(f"pids: emulator {emulator.pid}, gateway {gateway.pid}, floor {floor.pid}", file=sys.stderr, flush=True)
        for n in args.subscribers:
            rows.append(await measure("gateway (webhooks)", gateway, gw["url"], emulator, n, args, gateway))
            rows.append(await measure("floor (pre-built bytes)", floor, fl["url"], floor, n, args, None))
    finally:
        for child in reversed(children):
            await child.end()
        shutil.rmtree(work, ignore_errors=True)
    return rows


# ---- report --------------------------------------------------------------------------
def delta(pair, key: str) -> int:
    before, after = pair
    return after[key] - before[key]


def print_rows(rows: list[dict], args) -> None:
    print(
        f"\nEvents fan-out: {args.rate:g} events/s, {args.seconds:g} s measured after {args.warmup:g} s warm-up, "
        f"{os.cpu_count()} cores shared by every process"
    )
    print("delay: gateway = the emulator stamps `time` (ms, rounded down) when it raises the event, then posts it:")
    print("       an upper bound on webhook request arriving -> event bytes at the subscriber;")
    print("       floor   = `time` is when the timer's event is due; it is published pre-built to the same EventBus.")
    print("events/s = deliveries of window events per subscriber per second; CPU % of one core")
    header = (
        f"{'server':24} {'subs':>5} {'events/s':>8} {'lost':>6} {'dup':>5} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'max ms':>7} {'CPU %':>6} {'RSS MiB':>7} {'CPU/floor':>9}"
    )
    for n in args.subscribers:
        pair = [row for row in rows if row["n"] == n]
        gateway, floor = pair
        ratio = gateway["cpu"]["server"] / floor["cpu"]["server"] if floor["cpu"]["server"] else float("inf")
        print(f"\n{header}\n{'-' * len(header)}")
        for row in pair:
            counted = row["counted"]
            print(
                f"{row['kind']:24} {n:5d} {counted['delivered'] / n / args.seconds:8.1f} {counted['lost']:6d} "
                f"{counted['dup']:5d} {1000 * counted['p50']:7.1f} {1000 * counted['p99']:7.1f} "
                f"{1000 * counted['max']:7.1f} {100 * row['cpu']['server']:6.1f} {row['rss']:7.1f} "
                f"{ratio if row is gateway else 1.0:9.2f}"
            )
        print_details(gateway, floor, args)
        if min(gateway["cpu"]["server"], floor["cpu"]["server"]) >= SATURATED:
            print(
                f"  both servers used >= {100 * SATURATED:.0f} % of a core: each loop was saturated, so the "
                "CPU ratio says little; compare the flush rates and the delays"
            )
        lost = gateway["counted"]["lost"] + gateway["counted"]["dup"]
        p99 = gateway["counted"]["p99"]
        print(
            f"targets, {n} subscribers: p99 {1000 * p99:.1f} ms < {1000 * TARGET_P99:.0f} ms: "
            f"{'met' if p99 < TARGET_P99 else 'MISSED'}; "
            f"lost {gateway['counted']['lost']}, dup {gateway['counted']['dup']} of "
            f"{gateway['counted']['expected'] * n}: {'met' if lost == 0 else 'MISSED'}; "
            f"CPU {ratio:.2f}x the floor <= {TARGET_CPU_RATIO:.1f}: "
            f"{'met' if ratio <= TARGET_CPU_RATIO else 'MISSED'}"
        )


def per_wake(row: dict, args) -> float:
    """The server's CPU per (subscriber x flush) in microseconds: the fan-out's unit of work."""
    flushes = delta(row["server"], "batches")
    return 1e6 * row["cpu"]["server"] * args.seconds / (flushes * row["n"]) if flushes else float("nan")


def print_details(gateway: dict, floor: dict, args) -> None:
    hooks = gateway["webhooks"]
    posts = hooks[1]["posts"]["NOTIFICATION"] - hooks[0]["posts"]["NOTIFICATION"]
    events = delta(hooks, "events")
    for row in (gateway, floor):
        counted, server = row["counted"], row["server"]
        print(
            f"  {row['kind']}: raised {len(row['raised']['ids'])} in the window (pacer late by at most "
            f"{1000 * row['raised']['late_max']:.1f} ms), bus published {delta(server, 'published')}, "
            f"duplicates {delta(server, 'duplicates')}, {delta(server, 'batches') / args.seconds:.1f} flushes/s "
            f"({per_wake(row, args):.0f} us CPU per subscriber per flush), "
            f"{server[1]['dropped']} subscribers dropped, {counted['ended']} streams ended early {counted['why']}; "
            f"load generator CPU {100 * row['cpu']['load']:.0f} %"
        )
    print(
        f"  CPU % outside the server, load generator and event source: gateway row "
        f"{100 * gateway['cpu']['other']:.0f}, floor row {100 * floor['cpu']['other']:.0f} "
        f"(of {100 * os.cpu_count()})"
    )
    if max(gateway["cpu"]["other"], floor["cpu"]["other"]) > BUSY_ELSEWHERE:
        print(
            "  WARNING: something outside this bench used the CPU during the window: these rows are not "
            "trustworthy, run again on a quiet machine"
        )
    per_post = events / posts if posts else float("nan")
    print(
        f"  emulator: CPU {100 * gateway['cpu']['source']:.0f} % (gateway row), {posts} NOTIFICATION posts carried "
        f"{events} events ({per_post:.2f} per post), {delta(hooks, 'failures')} failed, {delta(hooks, 'dropped')} "
        f"dropped; gateway webhook queue overflow {gateway['server'][1]['overflow']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", default="100,1000", help="comma-separated subscriber counts")
    parser.add_argument("--rate", type=float, default=200.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured window per row")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument(
        "--reader",
        choices=("protocol", "stream"),
        default="protocol",
        help="subscriber sockets: asyncio Protocols (default, lighter) or a task each awaiting "
        "StreamReader.read(65536)",
    )
    parser.add_argument("--role", default="coordinator", help=argparse.SUPPRESS)
    for name in ("--url", "--cache", "--work", "--camera"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role != "coordinator":
        import uvloop

        role = {
            "emulator": lambda: run_emulator(args.cache),
            "gateway": lambda: run_gateway(args.url, args.port, args.work),
            "floor": lambda: run_floor(args.camera),
            "loadgen": lambda: run_loadgen(args.url, args.count, args.reader),
        }[args.role]
        uvloop.run(role())
        return
    args.subscribers = [int(n) for n in args.subscribers.split(",")]
    if args.rate <= 0 or args.seconds <= 0 or args.warmup < 0:
        parser.error("--rate and --seconds must be > 0, --warmup >= 0")
    print_rows(asyncio.run(orchestrate(args)), args)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
