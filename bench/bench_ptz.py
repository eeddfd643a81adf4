"""PTZ under drags: N operators, each steering its own camera at R commands a second, next to
a bare aiohttp handler taking the same requests (the floor), measured in the same run.

Processes (so each one's CPU is its own):
- the upstream: the Amcrest emulator with N channels (tiny loops, no audio: only the
  gateway's start-up RTSP probes look at the video). Its ptz.cgi is metered by a bench-only
  middleware under the digest check: per channel, the calls in flight (the peak), and every
  call's arrival time and command. Each call is answered after `--delays` ms (one PTZ row
  per delay: 0 is the emulator as is, 200 a camera that is slow to take a command);
- the gateway: create_app + GatewayRunner on uvloop, as `wep-gateway serve` runs it, with N
  `[[amcrest]]` cameras (channels 1..N of the emulator, ptz = true), no WEP, viewer auth off.
  Read over stdio (no route is added): its PtzDriver stats; bench-only, the time and command
  of each PtzDriver.move/stop call (the order the handlers hand commands over), and how late
  a 20 ms timer fires and how long each GC takes (Stalls: what a tail in the delays was;
  the timer costs the gateway 50 wake-ups a second in every gateway row);
- the floor: a bare aiohttp app that reads the same POSTs' JSON and answers JSON;
- the load generator: N operators on raw asyncio sockets, operator i steering camera
  ptz-<i+1> as `X-Operator-Id: op-<i>` (one operator per camera, the lock's rule). Each
  sends open-loop: R commands a second whatever the answers, each on a free keep-alive
  connection of its own (at most `--connections`, 6 as a browser's HTTP/1.1 limit per host;
  when all are busy the command waits for one, as a browser's fetch() does). The pattern is
  drags: `--drag` s of moves (`POST .../ptz`), the stop (`POST .../ptz/stop`) in the next
  slot, then `--pause` s of nothing. Within a drag the direction is one diagonal (so the
  gateway sends no direction-change stop) and every move maps to a different ptz.cgi
  command (the speeds arg1/arg2), so the upstream can tell which command each call carries;
  consecutive drags turn through the four diagonals. Operators are phased over the period.

Rows: the floor (the same requests), the gateway's GET /healthz at the same times (its HTTP
stack and background with no PTZ work), then the gateway's PTZ for each upstream delay.
Per row: a warm-up, then a window of `--seconds` in which /proc CPU is read; drags under way
at the end of the window finish with their stop, and the upstream is given a drain period.

Upstream measures, per command issued in the window (clocks: time.time() on one machine):
- command -> upstream: from the operator issuing it to the first ptz.cgi call carrying it or
  a newer command of the same operator (the newest wins: an older one is never sent after);
- in flight: the most ptz.cgi calls any one camera had open at once (the target: 1);
- finals (every drag of the row): each drag's stop must reach the camera itself (nothing
  newer follows for --pause s), and no move of its drag may reach the camera after it;
- stale: a call carrying an older command than one already sent (the last one must win);
  reordered: the same in the order commands reached the PtzDriver, and on the operator's
  side, commands written after a newer one: where an inversion came from.
The operators' side: each request's answer time (from its issue, a wait for a connection
included) and status, and how many requests were outstanding at once.

    .venv/bin/python bench/bench_ptz.py [--operators 50] [--rate 10] [--seconds 10] [--warmup 2]
                                        [--delays 0,200] [--connections 6] [--drag 3] [--pause 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from coordinator import Child, commands, percentile, raise_fd_limit, say  # bench/ is sys.path[0] as a script

ROOT = Path(__file__).resolve().parent.parent
LINE_LIMIT = 256 * 1024 * 1024  # the load generator answers with every command's record on one line
CLK_TCK = os.sysconf("SC_CLK_TCK")
START_DELAY = 0.5  # between the coordinator's word and the first command
DRAIN = 2.0  # after the load generator's last answer, before the upstream's log is read
ANSWER_TIMEOUT = 30.0  # a request still unanswered this long after the last command is counted as such
BUSY_ELSEWHERE = 0.15  # of one core used outside the bench's busy processes: a noisy window
# Tiny loops: the gateway only probes each channel's stream at start-up.
UPSTREAM = {
    "loop_seconds": 1,
    "fps": 5,
    "high_size": (320, 180),
    "low_size": (160, 90),
    "high_bitrate": 200_000,
    "low_bitrate": 100_000,
    "audio": "none",
}
QUADRANTS = ((1, 1), (-1, 1), (-1, -1), (1, -1))  # (pan, tilt) signs: RightUp, LeftUp, LeftDown, RightDown
SPEEDS = 8  # Dahua's 1..8 (gateway/backends/amcrest/ptz.py)


def camera_id(operator: int) -> str:
    return f"ptz-{operator + 1:02d}"


def drag_steps() -> list[tuple[int, int]]:
    """(tilt, pan) speeds a diagonal can take (the smaller at least half the larger), slow to
    fast: a drag's moves, each one a different ptz.cgi command."""
    pairs = [(t, p) for t in range(1, SPEEDS + 1) for p in range(1, SPEEDS + 1) if 2 * min(t, p) >= max(t, p)]
    return sorted(pairs, key=lambda pair: (max(pair), min(pair), pair))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has used (all cores), from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLK_TCK  # all but idle and iowait


def listen_overflows() -> int:
    """SYNs dropped because a listening socket's accept queue was full, in this network
    namespace (every process of it, not only this bench's): TcpExt ListenOverflows."""
    names, values = [
        line.split() for line in Path("/proc/net/netstat").read_text().splitlines() if line.startswith("TcpExt:")
    ][:2]
    return int(values[names.index("ListenOverflows")])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# ---- upstream process: the Amcrest emulator, its ptz.cgi metered ---------------------------
class PtzMeter:
    """Every ptz.cgi call past the digest check: arrival, command, calls then open on its
    channel; answered `delay` seconds late."""

    def __init__(self):
        self.delay = 0.0
        self.open: dict[int, int] = {}
        self.peak: dict[int, int] = {}
        self.open_all = self.peak_all = 0
        self.calls: list[list] = []

    async def middleware(self, request, handler):
        if request.path != "/cgi-bin/ptz.cgi":
            return await handler(request)
        query = request.query
        channel = int(query.get("channel", "1"))
        now = time.time()
        self.open[channel] = self.open.get(channel, 0) + 1
        self.peak[channel] = max(self.peak.get(channel, 0), self.open[channel])
        self.open_all += 1
        self.peak_all = max(self.peak_all, self.open_all)
        self.calls.append(
            [
                channel,
                now,
                query.get("action"),
                query.get("code"),
                int(query.get("arg1", "0")),
                int(query.get("arg2", "0")),
            ]
        )
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            return await handler(request)
        finally:
            self.open[channel] -= 1
            self.open_all -= 1

    def take_log(self) -> dict:
        answer = {"calls": self.calls, "peak": self.peak, "peak_all": self.peak_all}
        self.calls, self.peak, self.peak_all = [], {}, 0
        return answer


async def run_upstream(cache: str, channels: int) -> None:
    from aiohttp import web

    from gateway.emulator.amcrest import AmcrestEmulator, AmcrestSettings

    meter = PtzMeter()

    @web.middleware
    async def metered(request: web.Request, handler) -> web.StreamResponse:
        return await meter.middleware(request, handler)

    class MeteredAmcrest(AmcrestEmulator):
        def build_app(self) -> web.Application:
            app = super().build_app()
            app.middlewares.append(metered)  # after the digest check: only calls it let through
            return app

    raise_fd_limit()
    emulator = MeteredAmcrest(AmcrestSettings(host="127.0.0.1", channels=channels, cache_dir=cache, **UPSTREAM))
    await emulator.start()
    say(
        {
            "host": emulator.host,
            "http_port": emulator.http_port,
            "rtsp_port": emulator.rtsp_port,
            "username": emulator.settings.username,
            "password": emulator.settings.password,
        }
    )

    async def set_delay(command: dict) -> dict:
        meter.delay = command["seconds"]
        return {"delay": meter.delay}

    async def take_log(_: dict) -> dict:
        return meter.take_log()

    try:
        await commands({"delay": set_delay, "log": take_log})
    finally:
        await emulator.stop()


# ---- gateway process ---------------------------------------------------------------------
class Stalls:
    """Bench-only, in the gateway: how late a 20 ms timer fires (the event loop held up by
    something) and how long each garbage collection takes, so a tail in the delays can be
    told apart from the machine's own noise."""

    TICK = 0.020

    def __init__(self):
        import gc

        self.lags: list[float] = []
        self.collections: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._gc_started = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.collections[info["generation"]].append(time.perf_counter() - self._gc_started)

    async def watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.TICK
            await asyncio.sleep(self.TICK)
            self.lags.append(loop.time() - due)

    def take(self) -> dict:
        lags = sorted(self.lags)
        answer = {
            "ticks": len(lags),
            "lag_p99": percentile(lags, 0.99),
            "lag_max": lags[-1] if lags else 0.0,
            "lags_over_50ms": sum(lag > 0.050 for lag in lags),
            "gc": {generation: [len(times), max(times, default=0.0)] for generation, times in self.collections.items()},
        }
        self.lags = []
        self.collections = {0: [], 1: [], 2: []}
        return answer


def note_driver_arrivals() -> list[list]:
    """Bench-only, before create_app: every command the gateway's handlers give a PtzDriver,
    as the upstream meter notes a call, and when its handler began (after aiohttp and the
    middlewares): [channel, time, action, code, arg1, arg2, handler began]. The order
    commands reached the driver can then be told from the order the camera got them, and a
    delay before the driver put on one side or the other of the handler's start."""
    import contextvars

    from gateway.backends.amcrest.ptz import ptz_command
    from gateway.control import routes
    from gateway.control.ptz import PtzDriver

    arrivals: list[list] = []
    began = contextvars.ContextVar("began", default=0.0)
    move, stop, move_route, stop_route = PtzDriver.move, PtzDriver.stop, routes.move, routes.stop

    def stamped(handler):
        async def stamped_handler(request):
            began.set(time.time())  # the request's own task: the driver call below sees this value
            return await handler(request)

        return stamped_handler

    def channel(driver: PtzDriver) -> int:
        return int(driver.camera_id.rsplit("-", 1)[1])

    async def noted_move(driver: PtzDriver, vector) -> None:
        command = ["stop", "", 0, 0] if vector.still else ["start", *ptz_command(vector)]
        arrivals.append([channel(driver), time.time(), *command, began.get()])
        await move(driver, vector)

    async def noted_stop(driver: PtzDriver) -> None:
        arrivals.append([channel(driver), time.time(), "stop", "", 0, 0, began.get()])
        await stop(driver)

    routes.move, routes.stop = stamped(move_route), stamped(stop_route)  # add_routes() takes these
    PtzDriver.move, PtzDriver.stop = noted_move, noted_stop
    return arrivals


async def run_gateway(spec: dict) -> None:
    import dataclasses

    from aiohttp import web

    from gateway.app import create_app
    from gateway.config import AmcrestCameraConfig, Config, validate
    from gateway.control.routes import CONTROL
    from gateway.services import CAMERAS
    from gateway.snapshots.fast_path import GatewayRunner

    raise_fd_limit()
    base = Config()
    cameras = tuple(
        AmcrestCameraConfig(
            id=camera_id(i),
            host=spec["host"],
            http_port=spec["http_port"],
            rtsp_port=spec["rtsp_port"],
            username=spec["username"],
            password=spec["password"],
            channel=i + 1,
            ptz=True,
        )
        for i in range(spec["operators"])
    )
    config = dataclasses.replace(
        base,
        wep=dataclasses.replace(base.wep, url=""),
        auth=dataclasses.replace(base.auth, viewer_auth=False),
        pushes=dataclasses.replace(base.pushes, db_path=spec["db_path"]),
        amcrest=cameras,
    )
    validate(config)
    arrivals = note_driver_arrivals()
    app = create_app(config)
    runner = GatewayRunner(app, handle_signals=False, shutdown_timeout=config.server.shutdown_timeout, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        deadline = time.monotonic() + 120
        while not all([(await app[CAMERAS].get(camera.id)).available for camera in cameras]):
            if time.monotonic() > deadline:
                raise TimeoutError("the cameras' RTSP probes did not all succeed in 120 s")
            await asyncio.sleep(0.2)
        say({"url": f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"})

        async def stats(_: dict) -> dict:
            totals: dict[str, int] = {}
            for driver in app[CONTROL].drivers.values():
                for name, value in dataclasses.asdict(driver.stats).items():
                    totals[name] = totals.get(name, 0) + value
            return totals

        async def take_arrivals(_: dict) -> dict:
            import gc

            answer = {"arrivals": list(arrivals), "gc_objects": len(gc.get_objects())}
            arrivals.clear()
            return answer

        async def take_stalls(_: dict) -> dict:
            return stalls.take()

        stalls = Stalls()
        watcher = asyncio.get_running_loop().create_task(stalls.watch())
        try:
            await commands({"stats": stats, "stalls": take_stalls, "arrivals": take_arrivals})
        finally:
            watcher.cancel()
    finally:
        await runner.cleanup()


# ---- floor process -----------------------------------------------------------------------
async def run_floor() -> None:
    from aiohttp import web

    async def move(request: web.Request) -> web.Response:
        await request.json()
        return web.json_response({"moving": True, "stops_after_s": 1.0})

    async def stop(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"moving": False})

    raise_fd_limit()
    app = web.Application()
    app.router.add_post("/api/v1/cameras/{camera}/ptz", move)
    app.router.add_post("/api/v1/cameras/{camera}/ptz/stop", stop)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        say({"url": f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"})
        await commands({})
    finally:
        await runner.cleanup()


# ---- load generator process ------------------------------------------------------------------
class Connection:
    """One keep-alive HTTP/1.1 connection, one request at a time; Content-Length answers."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> Connection:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def exchange(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return int(head[9:12])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class Operator:
    """One operator's browser tab: commands issued on time, each on a free connection (at
    most `limit`; the next waits for one, first come first served)."""

    def __init__(self, index: int, host: str, port: int, limit: int):
        self.index, self.host, self.port, self.limit = index, host, port, limit
        self.idle: asyncio.Queue[Connection] = asyncio.Queue()
        self.opened = 0
        self.sending: set[asyncio.Task] = set()
        self.records: list[list] = []  # [op, seq, is stop, code, arg1, arg2, issued, written, answered, status]
        self.outstanding = self.peak = self.waited = 0
        self.late = 0.0

    def request(self, method: str, path: str, body: bytes) -> bytes:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nX-Operator-Id: op-{self.index}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    async def connection(self) -> Connection:
        if not self.idle.empty():
            return self.idle.get_nowait()
        if self.opened < self.limit:
            self.opened += 1
            try:
                return await Connection(self.host, self.port).open()
            except OSError:
                self.opened -= 1
                raise
        self.waited += 1
        return await self.idle.get()

    def issue(self, record: list, request: bytes) -> None:
        record[6] = time.time()
        task = asyncio.get_running_loop().create_task(self._send(record, request))
        self.sending.add(task)
        task.add_done_callback(self.sending.discard)

    async def _send(self, record: list, request: bytes) -> None:
        self.outstanding += 1
        self.peak = max(self.peak, self.outstanding)
        connection = None
        try:
            connection = await self.connection()
            record[7] = time.time()
            record[9] = await connection.exchange(request)
            record[8] = time.time()
            self.idle.put_nowait(connection)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            record[9] = type(exc).__name__
            if connection is not None:
                connection.close()
                self.opened -= 1
        finally:
            self.outstanding -= 1

    async def steer(self, mode: str, window: dict, moves: int, pause_slots: int) -> None:
        """Drags of `moves` moves then the stop, `pause_slots` empty slots between, from
        `start` until no drag may begin at or after `stop`."""
        from gateway.backends.amcrest.ptz import ptz_command
        from gateway.backends.base import PtzVector

        period = 1 / window["rate"]
        start = window["start"] + self.index * period / window["operators"]
        base = f"/api/v1/cameras/{camera_id(self.index)}/ptz"
        healthz = self.request("GET", "/healthz", b"")
        steps = drag_steps()[:moves]
        slot = seq = drag = 0
        while start + slot * period < window["stop"]:
            sign_pan, sign_tilt = QUADRANTS[(self.index + drag) % len(QUADRANTS)]
            for step in range(moves + 1):
                due = start + slot * period
                await asyncio.sleep(max(0.0, due - time.time()))
                self.late = max(self.late, time.time() - due)
                if step < moves:
                    tilt, pan = steps[step]
                    vector = PtzVector(sign_pan * pan / SPEEDS, sign_tilt * tilt / SPEEDS)
                    code, arg1, arg2 = ptz_command(vector)
                    record = [self.index, seq, 0, code, arg1, arg2, 0.0, None, None, None]
                    # seq: the gateway drops a command older than one already taken (parallel connections)
                    body = json.dumps({"pan": vector.pan, "tilt": vector.tilt, "seq": seq}).encode()
                    request = self.request("POST", base, body)
                else:
                    record = [self.index, seq, 1, code, 0, 0, 0.0, None, None, None]
                    request = self.request("POST", base + "/stop", json.dumps({"seq": seq}).encode())
                self.records.append(record)
                self.issue(record, healthz if mode == "healthz" else request)
                slot += 1
                seq += 1
            slot += pause_slots
            drag += 1

    async def finish(self) -> None:
        if self.sending:
            _, late = await asyncio.wait(set(self.sending), timeout=ANSWER_TIMEOUT)
            for task in late:
                task.cancel()
        while not self.idle.empty():
            self.idle.get_nowait().close()


async def run_loadgen(url: str, count: int, connections: int) -> None:
    from urllib.parse import urlsplit

    raise_fd_limit()
    target = urlsplit(url)
    operators = [Operator(i, target.hostname, target.port, connections) for i in range(count)]
    for operator in operators:  # the page is open: one connection each, as a tab's first request left it
        operator.opened = 1
        operator.idle.put_nowait(await Connection(target.hostname, target.port).open())
    say({"ready": count})

    async def run(command: dict) -> dict:
        window = command["window"]
        await asyncio.gather(
            *(
                operator.steer(command["mode"], window, command["moves"], command["pause_slots"])
                for operator in operators
            )
        )
        await asyncio.gather(*(operator.finish() for operator in operators))
        return {
            "records": [record for operator in operators for record in operator.records],
            "late_max": max(operator.late for operator in operators),
            "peak_outstanding": max(operator.peak for operator in operators),
            "waited": sum(operator.waited for operator in operators),
            "connections": max(operator.opened for operator in operators),
        }

    await commands({"run": run})


# ---- what the upstream saw, per operator -------------------------------------------------------
def call_key(action: str, code: str, arg1: int, arg2: int) -> tuple:
    # A stop is told apart by time alone: an operator's stops are a drag apart.
    return ("stop",) if action == "stop" else (code, arg1, arg2)


class Commands:
    """One operator's commands, to tell which one a call carries: the newest with that
    ptz.cgi command issued before the call arrived."""

    def __init__(self, records: list[list]):
        self.records = sorted(records, key=lambda record: record[1])
        self._index: dict[tuple, tuple[list[float], list[int]]] = {}
        for _, seq, is_stop, code, arg1, arg2, issued, *_ in self.records:
            times, seqs = self._index.setdefault(call_key("stop" if is_stop else "start", code, arg1, arg2), ([], []))
            times.append(issued)
            seqs.append(seq)

    def carried(self, calls: list[list]) -> tuple[list[tuple[int, float]], int]:
        """(seq carried, arrival) of each call in arrival order; how many carry no command."""
        matched, unmatched = [], 0
        for _, arrival, action, code, arg1, arg2, *_ in sorted(calls, key=lambda call: call[1]):
            times, seqs = self._index.get(call_key(action, code, arg1, arg2), ((), ()))
            at = bisect.bisect_right(times, arrival) - 1
            if at < 0:
                unmatched += 1
            else:
                matched.append((seqs[at], arrival))
        return matched, unmatched


def inversions(matched: list[tuple[int, float]]) -> int:
    """Calls carrying a command older than (or the same as) one carried before them."""
    newest, count = -1, 0
    for seq, _ in matched:
        count += seq <= newest
        newest = max(newest, seq)
    return count


def first_at_or_after(matched: list[tuple[int, float]]) -> tuple[list[int], list[float]]:
    """For bisecting: the seqs carried, sorted, and for each the earliest arrival of a call
    carrying that seq or a newer one (a suffix minimum)."""
    by_seq = sorted(matched)
    earliest, first = float("inf"), [0.0] * len(by_seq)
    for k in range(len(by_seq) - 1, -1, -1):
        earliest = min(earliest, by_seq[k][1])
        first[k] = earliest
    return [seq for seq, _ in by_seq], first


def trace(records: list[list], calls: list[list], arrivals: list[list], window: dict) -> dict:
    """Per command issued in the window: the delay (from its issue, and from its bytes going
    out) to the first upstream call carrying it or a newer one; each drag's stop reached, or
    overtaken by an older move; calls that carry an older command than one sent before them
    (stale), and the same at the driver's door (`arrivals`: the order the gateway's handlers
    gave commands to the PtzDriver)."""
    by_operator: dict[int, list[list]] = {}
    for record in records:
        by_operator.setdefault(record[0], []).append(record)
    by_channel: dict[int, list[list]] = {}
    for call in calls:
        by_channel.setdefault(call[0], []).append(call)
    at_driver: dict[int, list[list]] = {}
    for arrival in arrivals:
        at_driver.setdefault(arrival[0], []).append(arrival)
    counts = dict.fromkeys(
        (
            "finals",
            "reached",
            "overtaken",
            "stale",
            "reordered",
            "unmatched",
            "lost",
            "in_window",
            "carried",
            "ended_on_last",
        ),
        0,
    )
    delays, wire_delays, to_app, to_driver, from_driver = [], [], [], [], []
    entered = {arrival[1]: arrival[6] for arrival in arrivals}  # driver arrival time -> its handler began
    for operator, records_of in by_operator.items():
        commands_of = Commands(records_of)
        matched, unmatched = commands_of.carried(by_channel.get(operator + 1, []))
        received, unheard = commands_of.carried(at_driver.get(operator + 1, []))
        counts["unmatched"] += unmatched + unheard
        counts["stale"] += inversions(matched)
        counts["reordered"] += inversions(received)
        carried = {seq for seq, _ in matched}
        at_driver_time = dict(received)  # each command reaches the driver once
        counts["ended_on_last"] += bool(matched) and matched[-1][0] == commands_of.records[-1][1]
        older_after = [0] * len(matched)  # the oldest seq carried after position k
        oldest = float("inf")
        for k in range(len(matched) - 1, -1, -1):
            older_after[k] = oldest
            oldest = min(oldest, matched[k][0])
        overtaken = {seq for (seq, _), later in zip(matched, older_after, strict=True) if later < seq}
        seqs, first = first_at_or_after(matched)
        for _, seq, is_stop, _, _, _, issued, written, *_ in commands_of.records:
            if is_stop:  # every drag of the row, the last ones (after the window) included
                counts["finals"] += 1
                counts["reached"] += seq in carried
                counts["overtaken"] += seq in overtaken
            if not window["measure_from"] <= issued < window["measure_to"]:
                continue
            counts["in_window"] += 1
            counts["carried"] += seq in carried
            k = bisect.bisect_left(seqs, seq)
            if k == len(seqs):
                counts["lost"] += 1
                continue
            delays.append(first[k] - issued)
            if written is not None:
                wire_delays.append(first[k] - written)
                if seq in at_driver_time:
                    to_app.append(entered[at_driver_time[seq]] - written)
                    to_driver.append(at_driver_time[seq] - entered[at_driver_time[seq]])
                    from_driver.append(first[k] - at_driver_time[seq])
    return {
        "delays": sorted(delays),
        "wire_delays": sorted(wire_delays),
        "to_app": sorted(to_app),
        "to_driver": sorted(to_driver),
        "from_driver": sorted(from_driver),
        "operators": len(by_operator),
        **counts,
    }


def answers(records: list[list], window: dict) -> dict:
    """The operators' side: answer times and statuses of the commands issued in the window."""
    times, waits, statuses = [], [], {}
    for *_, issued, written, answered, status in records:
        if not window["measure_from"] <= issued < window["measure_to"]:
            continue
        statuses[status] = statuses.get(status, 0) + 1
        if answered is not None:
            times.append(answered - issued)
        if written is not None:
            waits.append(written - issued)
    times.sort()
    waits.sort()
    # Commands written after a newer one of the same operator: it had to open a connection
    # (or wait for one) while the newer one found one idle, as a browser's fetch() may.
    written_after = 0
    for operator in {record[0] for record in records}:
        sent = sorted(
            (record[7], record[1])
            for record in records
            if record[0] == operator
            and record[7] is not None
            and window["measure_from"] <= record[6] < window["measure_to"]
        )
        written_after += inversions([(seq, written) for written, seq in sent])
    return {
        "count": sum(statuses.values()),
        "statuses": statuses,
        "times": times,
        "waits": waits,
        "written_after_newer": written_after,
    }


# ---- coordinator -----------------------------------------------------------------------------
async def sleep_until(wall: float) -> None:
    await asyncio.sleep(max(0.0, wall - time.time()))


async def measure(kind: str, mode: str, server: Child, url: str, args, upstream: Child, gateway: Child | None) -> dict:
    load = await Child.start(
        __file__,
        "loadgen",
        "--url",
        url,
        "--count",
        str(args.operators),
        "--connections",
        str(args.connections),
        limit=LINE_LIMIT,
    )
    try:
        await load.answer(60)
        start = time.time() + START_DELAY
        window = {
            "rate": args.rate,
            "operators": args.operators,
            "start": start,
            "measure_from": start + args.warmup,
            "measure_to": start + args.warmup + args.seconds,
        }
        window["stop"] = window["measure_to"]
        stats0 = await gateway.ask({"cmd": "stats"}, 10) if gateway and mode == "ptz" else None
        load.send(
            {
                "cmd": "run",
                "mode": mode,
                "window": window,
                "moves": round(args.drag * args.rate),
                "pause_slots": round(args.pause * args.rate),
            }
        )
        pids = {"server": server.pid, "upstream": upstream.pid, "load": load.pid}
        await sleep_until(window["measure_from"])
        cpu0, t0, busy0 = {name: cpu_seconds(pid) for name, pid in pids.items()}, time.time(), machine_busy_seconds()
        overflows0 = listen_overflows()
        if gateway is not None:
            await gateway.ask({"cmd": "stalls"}, 10)  # from here on
        await sleep_until(window["measure_to"])
        cpu1, t1, busy1 = {name: cpu_seconds(pid) for name, pid in pids.items()}, time.time(), machine_busy_seconds()
        stalls = await gateway.ask({"cmd": "stalls"}, 10) if gateway is not None else None
        overflows = listen_overflows() - overflows0
        rss = rss_mib(server.pid)
        sent = await load.answer(args.drag + args.pause + ANSWER_TIMEOUT + 30)
    finally:
        await load.end()
    await asyncio.sleep(DRAIN)
    log = await upstream.ask({"cmd": "log"}, 30)
    stats1 = await gateway.ask({"cmd": "stats"}, 10) if stats0 is not None else None
    handed = await gateway.ask({"cmd": "arrivals"}, 30) if gateway is not None else {"arrivals": [], "gc_objects": 0}
    arrivals = handed["arrivals"]
    cpu = {name: (cpu1[name] - cpu0[name]) / (t1 - t0) for name in pids}
    cpu["other"] = max(0.0, (busy1 - busy0) / (t1 - t0) - sum(cpu.values()))
    row = {
        "kind": kind,
        "mode": mode,
        "cpu": cpu,
        "rss": rss,
        "sent": sent,
        "answers": answers(sent["records"], window),
        "log": log,
        "window": window,
        "stalls": stalls,
        "listen_overflows": overflows,
        "gc_objects": handed["gc_objects"],
    }
    if stats0 is not None:
        row["driver"] = {name: stats1.get(name, 0) - stats0.get(name, 0) for name in stats1}
        row["trace"] = trace(sent["records"], log["calls"], arrivals, window)
        row["arrivals"] = arrivals
    return row


async def orchestrate(args) -> list[dict]:
    cache = Path(tempfile.gettempdir()) / "wep-gateway-bench-cache"
    cache.mkdir(exist_ok=True)
    work = tempfile.mkdtemp(prefix="bench-ptz-")
    children: list[Child] = []
    rows = []
    try:
        upstream = await Child.start(
            __file__, "upstream", "--cache", str(cache), "--count", str(args.operators), limit=LINE_LIMIT
        )
        children.append(upstream)
        spec = await upstream.answer(600)  # the first run encodes the tiny loops (cached after)
        spec.update(operators=args.operators, db_path=str(Path(work) / "pushes.sqlite3"))
        gateway = await Child.start(__file__, "gateway", "--spec", json.dumps(spec), limit=LINE_LIMIT)
        children.append(gateway)
        gw = await gateway.answer(180)
        floor = await Child.start(__file__, "floor", limit=LINE_LIMIT)
        children.append(floor)
        fl = await floor.answer(60)
        print(f"pids: upstream {upstream.pid}, gateway {gateway.pid}, floor {floor.pid}", file=sys.stderr, flush=True)
        rows.append(await measure("floor (bare aiohttp)", "floor", floor, fl["url"], args, upstream, None))
        rows.append(await measure("gateway GET /healthz", "healthz", gateway, gw["url"], args, upstream, gateway))
        for delay in args.delays:
            await upstream.ask({"cmd": "delay", "seconds": delay / 1000}, 10)
            row = await measure(
                f"gateway PTZ, upstream {delay:g} ms", "ptz", gateway, gw["url"], args, upstream, gateway
            )
            row["delay"] = delay
            rows.append(row)
    finally:
        for child in reversed(children):
            await child.end()
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return rows


# ---- report --------------------------------------------------------------------------------
def ms(seconds: float) -> float:
    return 1000 * seconds


def print_rows(rows: list[dict], args) -> None:
    floor = rows[0]
    moves = round(args.drag * args.rate)
    print(
        f"\nPTZ drags: {args.operators} operators, one camera each, {args.rate:g} commands/s in a drag "
        f"({moves} moves then the stop, {args.pause:g} s pause), at most {args.connections} connections per "
        f"operator; {args.seconds:g} s measured after {args.warmup:g} s warm-up, {os.cpu_count()} cores shared "
        "by every process"
    )
    print(
        "answer = operator issues the request -> its answer arrives (a wait for a free connection included); "
        "CPU % of one core"
    )
    header = (
        f"{'row':30} {'req/s':>6} {'not 2xx':>7} {'ans p50':>7} {'ans p99':>8} {'ans max':>8} {'CPU %':>6} "
        f"{'RSS MiB':>7} {'CPU/floor':>9}"
    )
    print(f"\n{header}\n{'-' * len(header)}")
    for row in rows:
        got = row["answers"]
        bad = sum(n for status, n in got["statuses"].items() if not (isinstance(status, int) and status < 300))
        ratio = row["cpu"]["server"] / floor["cpu"]["server"] if floor["cpu"]["server"] else float("inf")
        times = got["times"]
        print(
            f"{row['kind']:30} {got['count'] / args.seconds:6.0f} {bad:7d} {ms(percentile(times, 0.5)):7.1f} "
            f"{ms(percentile(times, 0.99)):8.1f} {ms(times[-1] if times else float('nan')):8.1f} "
            f"{100 * row['cpu']['server']:6.1f} {row['rss']:7.1f} {ratio:9.2f}"
        )
    ptz_rows = [row for row in rows if row["mode"] == "ptz"]
    print("\nupstream (ptz.cgi as the camera saw it), over the commands issued in the window:")
    print(
        "  cmd->up = the operator issues a command -> the first call carrying it or a newer one; wire->up = the same "
        "from its bytes going out;"
    )
    print(
        "  finals = drags whose stop reached the camera / drags (all of the row); overtaken = a move of the drag "
        "reached it after its stop;"
    )
    print(
        "  stale = calls carrying an older command than one sent before them; reordered = the same at the PtzDriver "
        "(the order the handlers gave it commands)"
    )
    header = (
        f"{'row':30} {'calls/s':>7} {'sent as is':>10} {'cmd->up p50':>11} {'p99':>7} {'max':>7} "
        f"{'wire->up p99':>12} {'in flight':>9} {'finals':>9} {'overtaken':>9} {'stale':>5} {'reordered':>9}"
    )
    print(f"\n{header}\n{'-' * len(header)}")
    for row in ptz_rows:
        seen, delays = row["trace"], row["trace"]["delays"]
        in_window_calls = sum(
            1 for call in row["log"]["calls"] if row["window"]["measure_from"] <= call[1] < row["window"]["measure_to"]
        )
        share = seen["carried"] / seen["in_window"] if seen["in_window"] else float("nan")
        print(
            f"{row['kind']:30} {in_window_calls / args.seconds:7.0f} {100 * share:9.0f}% "
            f"{ms(percentile(delays, 0.5)):11.1f} {ms(percentile(delays, 0.99)):7.1f} "
            f"{ms(delays[-1] if delays else float('nan')):7.1f} {ms(percentile(seen['wire_delays'], 0.99)):12.1f} "
            f"{peak_in_flight(row):9d} {seen['reached']:>4}/{seen['finals']:<4} {seen['overtaken']:9d} "
            f"{seen['stale']:5d} {seen['reordered']:9d}"
        )
    print()
    for row in rows:
        print_details(row)
    for row in ptz_rows:
        print_targets(row)


def peak_in_flight(row: dict) -> int:
    return max(row["log"]["peak"].values(), default=0)


def print_targets(row: dict) -> None:
    seen, peak = row["trace"], peak_in_flight(row)
    finals = seen["reached"] == seen["finals"] and not seen["overtaken"] and seen["ended_on_last"] == seen["operators"]
    newest = not (seen["stale"] or seen["unmatched"] or seen["lost"])
    print(
        f"targets, {row['kind']}: at most 1 ptz.cgi call in flight per camera (peak {peak}): "
        f"{'met' if peak <= 1 else 'MISSED'}; every drag's final stop reached its camera last ({seen['reached']}/"
        f"{seen['finals']} reached, {seen['overtaken']} overtaken, {seen['ended_on_last']}/{seen['operators']} "
        f"cameras' last call was their operator's last command): {'met' if finals else 'MISSED'}; the newest wins "
        f"(stale {seen['stale']}, unmatched {seen['unmatched']}, lost {seen['lost']}): "
        f"{'met' if newest else 'MISSED'}; p99 command -> upstream {ms(percentile(seen['delays'], 0.99)):.1f} ms; "
        f"gateway CPU {100 * row['cpu']['server']:.1f} % of a core"
    )
    if seen["stale"] and seen["reordered"] >= seen["stale"]:
        print(
            f"  the stale calls follow the order the commands reached the PtzDriver ({seen['reordered']} reached it "
            f"after a newer one of the same operator; {row['answers']['written_after_newer']} of them were written "
            "after it by the operator): the driver keeps arrival order"
        )


def spread(ordered: list[float]) -> str:
    return (
        f"{ms(percentile(ordered, 0.5)):.1f} / {ms(percentile(ordered, 0.99)):.1f} / "
        f"{ms(ordered[-1] if ordered else float('nan')):.1f}"
    )


def print_details(row: dict) -> None:
    got, sent, cpu = row["answers"], row["sent"], row["cpu"]
    waits = got["waits"]
    statuses = ", ".join(f"{status}: {n}" for status, n in sorted(got["statuses"].items(), key=str))
    line = (
        f"  {row['kind']}: statuses {{{statuses}}}; wait for a free connection p99 "
        f"{ms(percentile(waits, 0.99)):.1f} ms, max {ms(waits[-1] if waits else float('nan')):.1f} ms; over the "
        f"whole row {sent['waited']} requests waited, at most {sent['peak_outstanding']} were outstanding and "
        f"{sent['connections']} connections open per operator; "
        f"pacer late by at most {ms(sent['late_max']):.1f} ms; CPU %: load generator {100 * cpu['load']:.0f}, "
        f"upstream {100 * cpu['upstream']:.0f}, outside the bench {100 * cpu['other']:.0f}; SYNs dropped by full "
        f"accept queues (the whole network namespace) {row['listen_overflows']}"
    )
    if row["stalls"] is not None:
        stalls = row["stalls"]
        collections = ", ".join(
            f"gen{generation} {count} (max {ms(longest):.0f} ms)"
            for generation, (count, longest) in stalls["gc"].items()
        )
        line += (
            f"; gateway loop: a {ms(Stalls.TICK):.0f} ms timer late by p99 {ms(stalls['lag_p99']):.1f} ms, max "
            f"{ms(stalls['lag_max']):.0f} ms, {stalls['lags_over_50ms']} times > 50 ms; collections {collections} "
            f"of {row['gc_objects']} objects"
        )
    if row["mode"] == "ptz":
        seen = row["trace"]
        line += (
            f"; wire->up in parts (p50 / p99 / max ms): bytes out -> the route handler begins "
            f"{spread(seen['to_app'])}, -> PtzDriver.move/stop called {spread(seen['to_driver'])}, "
            f"-> upstream {spread(seen['from_driver'])}; "
            f"{got['written_after_newer']} commands went out after a newer one of their operator, "
            f"{seen['reordered']} reached the PtzDriver after one"
        )
    if "driver" in row:
        driver = row["driver"]
        line += (
            f"; gateway PtzDriver over the whole row: {driver['commands']} commands, {driver['upstream_calls']} upstream calls, "
            f"{driver['coalesced']} coalesced, {driver['dead_man_stops']} dead-man stops, "
            f"{driver['failures']} failures; upstream peak {row['log']['peak_all']} calls open over all cameras"
        )
    print(line)
    if cpu["other"] > BUSY_ELSEWHERE:
        print("  WARNING: something outside this bench used the CPU during the window: run again on a quiet machine")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--operators", type=int, default=50, help="operators, one camera (emulator channel) each")
    parser.add_argument("--rate", type=float, default=10.0, help="commands per second per operator in a drag")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window per row")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--delays", default="0,200", help="comma-separated ptz.cgi answer delays (ms), a PTZ row each")
    parser.add_argument("--connections", type=int, default=6, help="most connections per operator (a browser: 6)")
    parser.add_argument("--drag", type=float, default=3.0, help="seconds of moves per drag")
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between a drag's stop and the next drag")
    parser.add_argument("--dump", help="write every row's raw measures (commands, calls, arrivals) to this JSON file")
    parser.add_argument("--role", default="coordinator", help=argparse.SUPPRESS)
    for name in ("--url", "--cache", "--spec"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role != "coordinator":
        import uvloop

        role = {
            "upstream": lambda: run_upstream(args.cache, args.count),
            "gateway": lambda: run_gateway(json.loads(args.spec)),
            "floor": run_floor,
            "loadgen": lambda: run_loadgen(args.url, args.count, args.connections),
        }[args.role]
        uvloop.run(role())
        return
    args.delays = [float(delay) for delay in args.delays.split(",")]
    moves = round(args.drag * args.rate)
    if not 1 <= args.operators <= 64:
        parser.error("--operators must be 1..64 (the emulator's channels)")
    if args.rate <= 0 or args.seconds <= 0 or args.warmup < 0 or args.connections < 1 or args.pause < 0:
        parser.error("--rate, --seconds and --connections must be > 0, --warmup and --pause >= 0")
    if not 1 <= moves <= len(drag_steps()):
        parser.error(f"--drag x --rate must give 1..{len(drag_steps())} moves (each a different ptz.cgi command)")
    rows = asyncio.run(orchestrate(args))
    if args.dump:
        Path(args.dump).write_text(json.dumps(rows))
    print_rows(rows, args)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
