"""What a packet costs a mostly idle process: the floor under a lone talker's CPU.

A uvloop process receives UDP datagrams of 120 bytes (a 20 ms opus packet's size) from a
forked sender at a given rate and runs a fixed amount of Python per datagram; the table
gives its CPU (user + system) per packet. At 50 packets a second (one talker) the process
sleeps between packets and wakes with cold caches each time; at 500 (ten talkers) it
stays warm. The 500/s rows are the reference, measured in the same run; rounds are
interleaved and medians shown, since a VM's idle wake-ups swing by a factor of three.

    .venv/bin/python bench/bench_wakeups.py [--seconds 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import statistics
import time

DATAGRAM = b"x" * 120
CASES = [(50, 0), (500, 0), (50, 1000), (500, 1000)]  # (packets/s, Python loop steps per packet)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def send(port: int, rate: int, seconds: float) -> None:
    """The forked sender: `rate` datagrams a second, paced on the monotonic clock."""
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start, sent = time.monotonic(), 0
    while time.monotonic() - start < seconds:
        sender.sendto(DATAGRAM, ("127.0.0.1", port))
        sent += 1
        time.sleep(max(0.0, start + sent / rate - time.monotonic()))


async def measure(rate: int, steps: int, seconds: float) -> float:
    """CPU microseconds per datagram received."""
    received = [0]

    class Receiver(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple) -> None:
            received[0] += 1
            total = 0
            for step in range(steps):  # stands in for a packet's Python work
                total += step

    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(Receiver, local_addr=("127.0.0.1", 0))
    pid = os.fork()
    if pid == 0:
        try:
            send(transport.get_extra_info("sockname")[1], rate, seconds + 2)
        finally:
            os._exit(0)
    try:
        await asyncio.sleep(1)  # warm-up
        cpu, count = cpu_seconds(), received[0]
        await asyncio.sleep(seconds)
        return 1e6 * (cpu_seconds() - cpu) / max(1, received[0] - count)
    finally:
        await asyncio.get_running_loop().run_in_executor(None, os.waitpid, pid, 0)
        transport.close()


async def main(seconds: float, rounds: int) -> None:
    runs: dict[tuple[int, int], list[float]] = {case: [] for case in CASES}
    for _ in range(rounds):
        for case in CASES:
            runs[case].append(await measure(*case, seconds))
    results = {case: statistics.median(values) for case, values in runs.items()}
    print(f"\nCPU per datagram of a uvloop receiver, {os.cpu_count()} CPUs, median of {rounds} x {seconds:.0f} s")
    print(f"{'Python steps/packet':>19} {'50/s us':>9} {'500/s us':>9} {'50/s vs 500/s':>14}   runs at 50/s")
    for steps in sorted({steps for _, steps in CASES}):
        slow, warm = results[50, steps], results[500, steps]
        spread = " ".join(f"{value:.0f}" for value in runs[50, steps])
        print(f"{steps:>19} {slow:>9.1f} {warm:>9.1f} {slow / warm:>13.1f}x   {spread}")


if __name__ == "__main__":
    import uvloop

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    uvloop.run(main(args.seconds, args.rounds))
