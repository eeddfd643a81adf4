"""The RTSP pull's hand-over from its reader thread to the loop, and what its errors say."""

from __future__ import annotations

import threading
import time

import av.error
import pytest

from gateway.backends.amcrest.rtsp import RtspTarget, _ThreadedReader, failure_of
from gateway.backends.base import UpstreamFailure

TARGET = RtspTarget("porch", "192.168.1.20", 554, "admin", "p@ss:word/1", 1)


async def test_items_come_in_order_and_the_thread_ends_the_feed():
    reader = _ThreadedReader("test", "porch", 2.0, 1.0)
    reader.start(lambda handle: [handle.put(n) for n in range(100)])
    got = [item async for batch in reader.batches() for item in batch]
    assert got == list(range(100))


async def test_an_error_in_the_thread_comes_out_after_what_came_before():
    def produce(handle):
        handle.put("first")
        raise UpstreamFailure("auth", "camera 'porch' refused the credentials")

    reader = _ThreadedReader("test", "porch", 2.0, 1.0)
    reader.start(produce)
    got = []
    with pytest.raises(UpstreamFailure) as failure:
        async for batch in reader.batches():
            got += batch
    assert got == ["first"] and failure.value.cause == "auth"


async def test_a_silent_stream_is_a_stall_and_the_thread_is_told_to_stop():
    release = threading.Event()

    def produce(handle):
        handle.put("first")
        release.wait(5)  # FFmpeg blocked on a socket that sends nothing (or only RTCP)

    reader = _ThreadedReader("test", "porch", 2.0, 0.4)
    reader.start(produce)
    started = time.monotonic()
    with pytest.raises(UpstreamFailure) as failure:
        async for _ in reader.batches():
            pass
    release.set()
    assert failure.value.cause == "stall" and "0.4s" in str(failure.value)
    assert 0.3 < time.monotonic() - started < 1.5
    assert reader.stopping.is_set()


def test_url_escapes_the_password_and_errors_never_carry_it():
    assert TARGET.url(1) == "rtsp://admin:p%40ss%3Aword%2F1@192.168.1.20:554/cam/realmonitor?channel=1&subtype=1"
    refused = failure_of(TARGET, av.error.HTTPUnauthorizedError(-1, "Server returned 401 Unauthorized"))
    assert refused.cause == "auth" and "401" in str(refused) and "p@ss" not in str(refused)
    gone = failure_of(TARGET, ConnectionRefusedError(111, "Connection refused"))
    assert (
        gone.cause == "connection" and str(gone) == "camera 'porch' unreachable at 192.168.1.20:554: Connection refused"
    )
