"""The RTSP listener: one RtspConnection per client, all closed on stop."""

from __future__ import annotations

import asyncio

from gateway.emulator.amcrest.clock import MediaClock
from gateway.emulator.amcrest.digest import DigestAuthority
from gateway.emulator.amcrest.media import ChannelMedia
from gateway.emulator.amcrest.rtsp_connection import RtspConnection
from gateway.emulator.amcrest.stats import AmcrestStats


class RtspServer:
    def __init__(self, media: dict[int, ChannelMedia], auth: DigestAuthority, clock: MediaClock,
                 stats: AmcrestStats) -> None:  # fmt: skip
        self._media = media
        self._auth = auth
        self._clock = clock
        self._stats = stats
        self._server: asyncio.Server | None = None
        self._connections: dict[RtspConnection, asyncio.Task] = {}
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, host, port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = RtspConnection(reader, writer, self._media, self._auth, self._clock, self._stats)
        task = asyncio.current_task()
        assert task is not None  # the server runs each connection as a task
        self._connections[connection] = task
        try:
            await connection.run()
        finally:
            self._connections.pop(connection, None)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = list(self._connections.values())
        for connection in list(self._connections):
            connection.close(abort=True)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
