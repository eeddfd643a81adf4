"""The rules engine under an event stream: 1000 events/s against N rules, most of which
cannot match, next to a bus listener that only reads the events (the floor), in one run.

Each row runs in this process on uvloop with the real EventBus and RuleEngine (the store a
temporary SQLite file), fed by a publisher that puts `--rate` events a second on the bus
for `--seconds` (in 10 ms batches, as a webhook worker does under load). The events are
WEP motion and analytics starts and stops on `--cameras` cameras; the rules name cameras
and types of their own, so only `--matching` of them can fire (on one camera, with no
cooldown and no schedule, so every matching event fires). Their one action records when
it started and returns: what is measured is the engine (matching, schedule, cooldown,
firing, history write), not a camera.

Per row: CPU of the process (user+sys from /proc, over the publishing window) per event,
its ratio to the floor row, firings, and the delay from an event's publish to its
firing's first action starting (p50, p99, max). Rows for several rule counts show whether
the matching cost grows with rules that cannot match. Target (issue 15): p99 < 20 ms, and
the per-event CPU flat in the number of rules.

    .venv/bin/python bench/bench_rules.py [--rate 1000] [--seconds 5] [--rules 0,50,500,5000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.coordinator import percentile
from gateway.events.bus import EventBus
from gateway.events.model import Event, iso
from gateway.rules.engine import RuleEngine
from gateway.rules.model import parse_rule
from gateway.rules.store import RuleStore

TYPES = ("DEVICE_MOTION_START", "DEVICE_MOTION_STOP", "DEVICE_ANALYTICS_START", "DEVICE_ANALYTICS_STOP")


def cpu_seconds() -> float:
    with open(f"/proc/{os.getpid()}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class TimedReactions:
    """The engine's actions, replaced by a clock: when each firing's first action started."""

    def __init__(self) -> None:
        self.started: list[tuple[str, float]] = []  # (event id, when the action started)

    def timeout_of(self, action, base: float) -> float:
        return base

    async def run(self, action, firing) -> str:
        self.started.append((firing.event.id, time.monotonic()))
        return "noted"


def rule_bodies(count: int, matching: int, cameras: int) -> list[dict]:
    """`matching` rules on cam-0 motion starts; the others on cameras and types no event has."""
    bodies = []
    for number in range(count):
        if number < matching:
            when = {"cameras": ["cam-0"], "types": ["DEVICE_MOTION_START"]}
        else:
            when = {"cameras": [f"other-{number}"], "types": [TYPES[number % len(TYPES)]]}
        bodies.append({"name": f"rule {number}", "when": when, "actions": [{"snapshot": {}}]})
    return bodies


async def run_row(rules: int | None, args) -> dict:
    """One row: rules=None is the floor (a listener that reads each event and nothing else)."""
    bus = EventBus(ring_size=10_000, subscriber_limit=1000)
    published: dict[str, float] = {}
    reactions = TimedReactions()
    engine = None
    with tempfile.TemporaryDirectory() as folder:
        store = RuleStore(str(Path(folder) / "rules.sqlite3"), 86400, 1000)
        if rules is None:
            seen = []
            bus.add_listener(lambda event: seen.append(event.type))
        else:
            engine = RuleEngine(store, reactions, bus, action_timeout=5.0, default_timezone="UTC")  # type: ignore[arg-type]
            await engine.load()  # listens to the bus from here
            for body in rule_bodies(rules, min(args.matching, rules), args.cameras):
                await engine.add(parse_rule(body))
        if args.freeze:
            gc.collect()
            gc.freeze()  # what start-up made (the rules) out of the collector's way
        loop = asyncio.get_running_loop()
        batch = max(1, args.rate // 100)
        total = args.rate * args.seconds
        expected = 0
        cpu0, wall0 = cpu_seconds(), loop.time()
        for index in range(0, total, batch):
            target = wall0 + index / args.rate
            delay = target - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.time()
            for number in range(index, min(index + batch, total)):
                camera = f"cam-{number % args.cameras}"
                event_type = TYPES[number % len(TYPES)]
                event = Event(
                    f"bench:{number}",
                    camera,
                    event_type,
                    "start",
                    iso(datetime.fromtimestamp(now, UTC)),
                    "wep",
                    {},
                    at=now,
                )
                if camera == "cam-0" and event_type == "DEVICE_MOTION_START":
                    expected += min(args.matching, rules or 0)
                published[event.id] = time.monotonic()
                bus.publish(event)
        await asyncio.sleep(0.5)  # the last firings finish
        cpu = cpu_seconds() - cpu0
        if args.freeze:
            gc.unfreeze()
        if engine is not None:
            await engine.close()
        store.close()
        bus.close()
    delays = sorted((started - published[event_id]) * 1000 for event_id, started in reactions.started)
    return {
        "rules": "floor" if rules is None else rules,
        "events": total,
        "cpu_us": cpu / total * 1e6,
        "firings": len(reactions.started),
        "expected": expected,
        "delays": delays,
    }


async def main(args) -> None:
    rows = [await run_row(None, args)]
    rows.extend([await run_row(count, args) for count in args.rules])
    floor = rows[0]["cpu_us"]
    print(
        f"{args.rate} events/s for {args.seconds} s on {args.cameras} cameras; {args.matching} rule(s) can fire "
        f"(every cam-0 motion start), the rest never match"
    )
    print(
        f"{'rules':>7} {'events':>7} {'CPU us/event':>13} {'x floor':>8} {'firings':>8} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}"
    )
    for row in rows:
        delays = row["delays"]
        timing = (
            f"{percentile(delays, 0.5):>7.2f} {percentile(delays, 0.99):>7.2f} {delays[-1]:>7.2f}"
            if delays
            else f"{'-':>7} {'-':>7} {'-':>7}"
        )
        firings = f"{row['firings']}/{row['expected']}" if row["rules"] != "floor" else "-"
        print(
            f"{row['rules']!s:>7} {row['events']:>7} {row['cpu_us']:>13.1f} {row['cpu_us'] / floor:>8.2f} "
            f"{firings:>8} {timing}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--cameras", type=int, default=50)
    parser.add_argument("--matching", type=int, default=5)
    parser.add_argument("--freeze", action="store_true", help="gc.freeze() after each row's set-up")
    parser.add_argument("--rules", type=lambda text: [int(part) for part in text.split(",")], default=[50, 500, 5000])
    arguments = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(arguments))
