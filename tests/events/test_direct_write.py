"""The guard of gateway/events/direct_write.py, which writes SSE batches below aiohttp's
public API: if aiohttp stops chunking, starts compressing, or buffers inside `write`, these
fail (or `writer_for` declines and the ordinary path serves, which they also check)."""

from __future__ import annotations

import asyncio
import dataclasses

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.events import direct_write
from gateway.events.service import EVENTS
from tests.events.conftest import mint, running


async def _serve(handler) -> TestServer:
    app = web.Application()
    app.router.add_get("/", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


async def test_direct_batches_interleave_with_aiohttps_own_writes_as_one_valid_chunked_body():
    writers = []

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b"a" * 10)
        write = direct_write.writer_for(request, response)
        writers.append(write)
        assert write is not None and write(b"b" * 70000)  # nothing buffered yet: it goes out
        declined = not write(b"c")  # 70000 bytes may still sit in the socket buffer
        if declined:
            await response.write(b"c")  # the ordinary path, after the direct bytes
        await response.write(b"d" * 5)
        await response.write_eof()
        return response

    server = await _serve(handler)
    try:
        async with aiohttp.ClientSession() as http, http.get(server.make_url("/")) as response:
            assert response.headers["Transfer-Encoding"] == "chunked"
            assert "Content-Encoding" not in response.headers
            body = await response.read()
    finally:
        await server.close()
    assert body == b"a" * 10 + b"b" * 70000 + b"c" + b"d" * 5
    assert writers[0] is not None


async def test_compressed_or_unprepared_responses_get_no_direct_writer():
    answers = []

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        answers.append(direct_write.writer_for(request, response))  # not prepared yet
        response.enable_compression()
        await response.prepare(request)
        answers.append(direct_write.writer_for(request, response))
        await response.write(b"x")
        return response

    server = await _serve(handler)
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(server.make_url("/"), headers={"Accept-Encoding": "gzip"}) as response,
        ):
            await response.read()
    finally:
        await server.close()
    assert answers == [None, None]


async def _raw_stream(server, token: str, version: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        f"GET /api/v1/events/stream HTTP/{version}\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    return reader, writer, head


async def test_the_event_stream_goes_direct_over_http_1_1_and_queued_over_http_1_0(emulator, events_gateway, http):
    token = await mint(http, events_gateway, ["*"], ["view"])
    camera = emulator.camera_ids[0]
    bus = events_gateway.app[EVENTS].bus
    for version in ("1.1", "1.0"):
        reader, writer, head = await _raw_stream(events_gateway, token, version)
        try:
            chunked = b"transfer-encoding: chunked" in head.lower()
            assert chunked == (version == "1.1"), head
            before = bus.stats.direct_writes
            await asyncio.sleep(0.2)  # the writer is idle, waiting
            injected = emulator.inject_event(camera, "DEVICE_MOTION_START")
            wanted = f'"id":"wep:{injected["thisId"]}"'.encode()
            seen = b""
            async with asyncio.timeout(5):
                while wanted not in seen:
                    seen += await reader.read(65536)
            if chunked:
                assert bus.stats.direct_writes > before  # the batch went straight to the socket
                size_line = seen[seen.index(b"event: motion") - 8 : seen.index(b"event: motion")]
                assert size_line.endswith(b"\r\n")  # framed as a chunk
            else:
                assert bus.stats.direct_writes == before  # HTTP/1.0: no chunks, the writer task wrote it
        finally:
            writer.close()


async def test_a_client_that_reads_nothing_is_dropped_not_buffered(emulator, events_config, http):
    """Batches go to the socket while it takes them, then queue for the writer task; past
    `[events] subscriber_queue` events waiting, the client is dropped and its queue freed."""
    from gateway.events.model import Event

    config = dataclasses.replace(events_config, events=dataclasses.replace(events_config.events, subscriber_queue=20))
    camera = emulator.camera_ids[0]
    async with running(config) as server:
        token = await mint(http, server, ["*"], ["view"])
        bus = server.app[EVENTS].bus
        _unread, writer, _ = await _raw_stream(server, token, "1.1")  # and never read again
        try:
            await asyncio.sleep(0.2)
            (subscriber,) = list(bus._subscribers)
            pad = "x" * 65536
            for n in range(1000):  # 64 MiB offered: more than the socket buffers hold
                bus.publish(
                    Event(
                        f"test:slow-{n}",
                        camera,
                        "DEVICE_MOTION_START",
                        "start",
                        "2026-01-01T00:00:00.000Z",
                        "test",
                        {"pad": pad},
                        at=1.0,
                    )
                )
                await asyncio.sleep(0.001 if n % 10 else 0.02)  # let batches go out
                if subscriber.dropped:
                    break
            assert subscriber.overflowed, "the client was never dropped"
            assert subscriber.pending == []  # what waited for it is freed
            async with asyncio.timeout(15):
                while subscriber in bus._subscribers:
                    await asyncio.sleep(0.05)
            assert bus.stats.subscribers_dropped == 1
        finally:
            writer.close()
