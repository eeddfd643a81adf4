"""/live viewers that read slowly or not at all, as real sockets (issue 19): the delay behind
live of what a slow viewer receives stays bounded, and a viewer that stops reading is cut
off: its socket is gone from the gateway's side and its viewer slot is free."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
import time

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.limits.middleware import LEDGER
from gateway.media.fmp4 import Fmp4Reader, InitSegment
from tests.conftest import config_for, serving

RATE = 1024  # bytes a second the slow viewer reads
TICK = 0.1
READ_SECONDS = 20.0  # the old gateway was ~19 s behind by then, and falling further
MAX_DELAY = 2.0  # [live] max_delay_s
# What a loaded 2-core machine may add: the reader's own lateness, the emulator's jitter.
SLACK = 4.0
TCP_ESTABLISHED = "01"  # include/net/tcp_states.h, as /proc/net/tcp shows it


@pytest.fixture
def emulator_settings(emulator_settings):
    """The emulator's low quality at ~120 kbit/s (with audio), the stream of the report."""
    return dataclasses.replace(emulator_settings, low_bitrate=120_000)


@pytest.fixture
def small_stream(emulator):
    return emulator


async def open_viewer(server, path: str) -> socket.socket:
    """A viewer whose kernel takes ~2 kB for it: a small receive buffer, set before connect so
    the window it offers is small. HTTP/1.0, so the body is the bare fMP4, no chunks."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (server.host, server.port))
    await loop.sock_sendall(sock, f"GET {path} HTTP/1.0\r\nHost: {server.host}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        byte = await asyncio.wait_for(loop.sock_recv(sock, 1), 30)
        assert byte, f"the gateway closed before its answer: {head!r}"
        head += byte
    assert head.split(b"\r\n", 1)[0].endswith(b" 200 OK"), head
    return sock


async def read_slowly(sock: socket.socket, seconds: float) -> tuple[list[tuple[float, float]], int, int]:
    """Read RATE bytes a second for `seconds`: (arrival time, media time) of every sample
    received, the bytes read, and the largest sample."""
    loop = asyncio.get_running_loop()
    reader = Fmp4Reader()
    timescales: dict[int, int] = {}
    arrivals: list[tuple[float, float]] = []
    received = largest = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        chunk = await asyncio.wait_for(loop.sock_recv(sock, int(RATE * TICK)), 30)
        assert chunk, "the gateway dropped a viewer that was still reading"
        received += len(chunk)
        now = time.monotonic()
        for item in reader.feed(chunk):
            if isinstance(item, InitSegment):
                timescales = {track.track_id: track.timescale for track in item.tracks}
                continue
            for sample in item.samples:
                arrivals.append((now, sample.decode_time / timescales[sample.track_id]))
                largest = max(largest, len(sample.data))
        await asyncio.sleep(TICK)
    return arrivals, received, largest


def delays_behind_live(arrivals: list[tuple[float, float]]) -> list[float]:
    """How much later than the freshest one each sample arrived, on the camera's timeline:
    the hub's decode times advance in real time, so arrival minus media time is constant
    for a viewer that keeps pace, and grows by exactly what it falls behind."""
    offsets = [arrival - media for arrival, media in arrivals]
    freshest = min(offsets)
    return [offset - freshest for offset in offsets]


async def gops_dropped(server, camera: str, quality: str) -> float:
    async with aiohttp.ClientSession() as http, http.get(server.make_url("/metrics")) as response:
        text = await response.text()
    labels = {"camera": camera, "quality": quality}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "wepgw_hub_gops_dropped_total" and sample.labels == labels:
                return sample.value
    return 0.0


def server_side(port: int, peer_port: int) -> tuple[str, int] | None:
    """(state, bytes queued to send) of the gateway's socket to `peer_port`, or None."""
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local, remote, state, queues = fields[1], fields[2], fields[3], fields[4]
            if int(local.split(":")[1], 16) == port and int(remote.split(":")[1], 16) == peer_port:
                return state, int(queues.split(":")[0], 16)
    return None


async def test_a_slow_viewers_delay_behind_live_stays_bounded_and_it_loses_whole_gops(small_stream):
    emu = small_stream
    camera = emu.camera_ids[0]
    async with serving(config_for(emu, live={"max_delay_s": MAX_DELAY})) as server:
        sock = await open_viewer(server, f"/live/{camera}.mp4?quality=low")
        receive_buffer = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        started = time.monotonic()
        try:
            arrivals, received, largest = await read_slowly(sock, READ_SECONDS)
        finally:
            sock.close()
        rate = received / (time.monotonic() - started)
        dropped = await gops_dropped(server, camera, "low")
    delays = delays_behind_live(arrivals)
    # The stream is ~15 kB/s: without skipping, this viewer falls ~0.9 s behind every second.
    # The bound: max_delay, plus what no sender can shorten (the viewer's own receive buffer
    # and the largest frame, at the rate it reads), plus slack for a loaded machine.
    bound = MAX_DELAY + (receive_buffer + largest) / rate + SLACK
    assert max(delays) <= bound, f"{max(delays):.1f} s behind live (bound {bound:.1f} s): {delays[-20:]}"
    assert dropped > 0, "the viewer never skipped a GOP: wepgw_hub_gops_dropped_total stayed 0"


async def test_a_viewer_that_stops_reading_is_cut_off_and_no_longer_counted(small_stream, caplog):
    emu = small_stream
    camera = emu.camera_ids[0]
    caplog.set_level(logging.INFO, logger="gateway.live")
    # The gateway's socket keeps its default send buffer, which loopback grows to megabytes:
    # the gateway itself must notice that nothing moves.
    async with serving(config_for(emu, live={"send_timeout": 1.0})) as server:
        sock = await open_viewer(server, f"/live/{camera}.mp4?quality=low")
        peer_port = sock.getsockname()[1]
        try:
            ledger = server.app[LEDGER]
            assert ledger.count == 1
            state = server_side(server.port, peer_port)
            assert state is not None and state[0] == TCP_ESTABLISHED
            deadline = time.monotonic() + 30  # a bound on the wait, not a timing claim
            while server_side(server.port, peer_port) is not None and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            assert server_side(server.port, peer_port) is None, (
                f"the gateway still holds the socket: {server_side(server.port, peer_port)}"
            )
            assert ledger.count == 0
            assert "dropped a live viewer that stopped reading" in caplog.text
        finally:
            sock.close()
