"""A small Server-Sent Events reader for tests, independent of the gateway's framing code
(WHATWG HTML 9.2.6: lines, `field: value`, a blank line dispatches)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import aiohttp


@dataclass
class SseEvent:
    name: str
    id: str
    data: dict


class SseReader:
    def __init__(self, response: aiohttp.ClientResponse):
        self.response = response
        self.comments: list[str] = []
        self.retry: int | None = None

    async def next(self, timeout: float = 5.0) -> SseEvent:
        async with asyncio.timeout(timeout):
            fields: dict[str, list[str]] = {}
            while True:
                line = (await self.response.content.readline()).decode()
                if not line:
                    raise ConnectionError("event stream ended")
                line = line.rstrip("\n").rstrip("\r")
                if not line:
                    if "data" in fields:
                        return SseEvent(
                            fields.get("event", ["message"])[-1],
                            fields.get("id", [""])[-1],
                            json.loads("\n".join(fields["data"])),
                        )
                    fields = {}
                    continue
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "retry":
                    self.retry = int(value)
                else:
                    fields.setdefault(name, []).append(value)

    async def until(self, predicate, timeout: float = 10.0) -> SseEvent:
        """The first event matching `predicate`, skipping others."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.next(timeout)
                if predicate(event):
                    return event

    async def collect(self, seconds: float) -> list[SseEvent]:
        """Every event arriving within `seconds`."""
        events = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            try:
                events.append(await self.next(left))
            except TimeoutError:
                break
        return events
