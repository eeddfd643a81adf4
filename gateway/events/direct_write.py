"""SSE batches written straight to an idle client's socket: below aiohttp's public API, on
purpose (the project's list of such places is in README.md, "Layout").

Why: each batch woke every subscriber's writer task, which then called
`StreamResponse.write`; at 1000 clients that wake-and-write was most of the fan-out's CPU
(bench/bench_events.py). When a client's writer is idle (nothing queued, no write under
way) and its socket has nothing buffered, the bus hands the batch to this writer instead:
one chunk of HTTP/1.1 chunked coding (RFC 9112 7.1) onto the transport, no task woken.
Anything else (a write under way, bytes still buffered, a closing socket) answers False
and the batch takes the ordinary path through the writer task, so order is kept: either
everything earlier is already on the transport, or this batch queues behind it.

What it relies on, checked by `writer_for` (which answers None, i.e. the ordinary path,
when any of it does not hold) and guarded by tests/events/test_direct_write.py:
- the prepared response is chunked and uncompressed (aiohttp chunks a 1.1 response with
  no Content-Length; we never enable compression on it);
- `StreamResponse.write` puts its bytes on the transport before its first await (no
  compression, no `on_chunk_sent` hook on server responses), so a writer task that is
  not inside `write` has left nothing half-sent.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web


def writer_for(request: web.Request, response: web.StreamResponse) -> Callable[[bytes], bool] | None:
    """A function writing one batch to the client now (True), or declining (False)."""
    transport = request.transport
    if transport is None or not response.prepared or not response.chunked or response.compression:
        return None

    def write(batch: bytes) -> bool:
        if transport.is_closing() or transport.get_write_buffer_size():
            return False
        transport.write(b"%x\r\n%b\r\n" % (len(batch), batch))
        return True

    return write
