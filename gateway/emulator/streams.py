"""Live media connections: the paced send loop, and the registry faults act on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from gateway.emulator.faults import Faults
from gateway.emulator.timeline import LoopCursor


@dataclass(eq=False)
class LiveStream:
    """One open media connection (a GET stream or a POST talk upload)."""

    request: web.Request
    task: asyncio.Task | None = field(default_factory=asyncio.current_task)
    dropped: bool = False

    def drop(self) -> None:
        # Abort: the client sees the connection die mid-stream, as when WEP goes away.
        self.dropped = True
        if self.request.transport is not None:
            self.request.transport.abort()
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()


class StreamRegistry:
    def __init__(self) -> None:
        self._streams: set[LiveStream] = set()

    def add(self, request: web.Request) -> LiveStream:
        stream = LiveStream(request)
        self._streams.add(stream)
        return stream

    def remove(self, stream: LiveStream) -> None:
        self._streams.discard(stream)

    def drop_all(self) -> int:
        streams = list(self._streams)
        for stream in streams:
            stream.drop()
        return len(streams)

    def __len__(self) -> int:
        return len(self._streams)


async def send_paced(
    response: web.StreamResponse,
    cursor: LoopCursor,
    payload: Callable[[int, int, int], bytes],
    reference: float,
    faults: Faults,
) -> None:
    """Write pieces forever, each once it is due (`reference` + its due time, monotonic).

    `payload(piece_index, decode_time, sequence_number)` gives the bytes. A stall fault
    holds everything (socket open, nothing sent); afterwards the backlog goes out at
    once, as a network that froze and recovered would deliver it. `response.write`
    awaits the transport's drain: a slow reader slows only its own loop.
    """
    sequence = 1
    for scheduled in cursor:
        while True:
            stall = faults.stall_left()
            if stall > 0:
                await asyncio.sleep(stall)
                continue
            wait = reference + scheduled.due - time.monotonic()
            if wait <= 0:
                break
            await asyncio.sleep(wait)
        await response.write(payload(scheduled.piece_index, scheduled.decode_time, sequence))
        sequence += 1
