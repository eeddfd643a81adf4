"""One progressive viewer's socket: what it has not delivered, and how it is dropped.

The unsent bytes are the transport's buffer plus, on Linux, the kernel's send queue that
the viewer has not acknowledged (TIOCOUTQ, tcp(7) SIOCOUTQ): one ioctl, at most every
MEASURE_INTERVAL while frames flow. Where the ioctl is missing (not Linux, not TCP), only
the transport's buffer is seen and the kernel's queue is left to `send_timeout`, as before.

A dropped viewer loses its connection at once: SO_LINGER 0 and abort() discard what is
queued with an RST. close() would first try to send it to a viewer that reads nothing:
such a socket stayed ESTABLISHED with megabytes queued, held by the gateway after the
viewer limits had let it go (issue 19).
"""

from __future__ import annotations

import asyncio
import fcntl
import socket
import struct
import time

from gateway.live.backlog import SendBacklog

try:
    from termios import TIOCOUTQ
except ImportError:  # not Linux
    TIOCOUTQ = None  # type: ignore[misc, assignment]  # then _probe_fd never returns a descriptor

MEASURE_INTERVAL = 0.1  # seconds between counts of the unsent bytes while frames flow
POLL = 0.05  # how often a frame that waits for the viewer looks again
_LINGER_RESET = struct.pack("ii", 1, 0)  # socket(7) SO_LINGER on, 0 s: close() resets
_INT = struct.Struct("i")


class ViewerStalled(Exception):
    """The viewer took no bytes for `send_timeout` seconds."""


class ViewerPacer:
    def __init__(self, transport: asyncio.Transport, max_delay: float, send_timeout: float):
        self._transport = transport
        self._socket = transport.get_extra_info("socket")
        self._fd = self._probe_fd()
        self._send_timeout = send_timeout
        self.backlog = SendBacklog(max_delay, time.monotonic())

    def _probe_fd(self) -> int:
        if TIOCOUTQ is None or self._socket is None:
            return -1
        fd = self._socket.fileno()
        try:
            fcntl.ioctl(fd, TIOCOUTQ, bytes(_INT.size))
        except OSError:
            return -1
        return fd

    def unsent(self) -> int:
        transport = self._transport
        if transport.is_closing():  # and the descriptor may soon be another socket's
            raise ConnectionResetError("the viewer's connection is closing")
        unsent = transport.get_write_buffer_size()
        if self._fd >= 0:
            try:
                unsent += _INT.unpack(fcntl.ioctl(self._fd, TIOCOUTQ, bytes(_INT.size)))[0]
            except OSError as exc:
                raise ConnectionResetError(f"the viewer's socket is gone ({exc.strerror})") from None
        return unsent

    def admits(self, now: float, since: float, size: int, queued: int = 0) -> bool:
        """May a frame of about `size` bytes, the viewer's since `since`, be written now?
        Measures the unsent bytes when it must. `queued`: bytes the backlog counts as written
        that the caller holds still, not yet given to the transport. ViewerStalled past
        `send_timeout`."""
        backlog = self.backlog
        admitted = backlog.admits(now, since, size)
        if not admitted or backlog.measured_ago(now) >= MEASURE_INTERVAL:
            backlog.measured(now, self.unsent() + queued)
            if backlog.stalled(now) > self._send_timeout:
                raise ViewerStalled
            admitted = backlog.admits(now, since, size)
        return admitted

    async def turn(self, since: float, size: int) -> bool:
        """Wait until a frame of about `size` bytes may be written (True), or until it is too
        late for it (False: drop to the next keyframe). ViewerStalled past `send_timeout`."""
        while True:
            now = time.monotonic()
            if self.admits(now, since, size):
                return True
            if now - since >= self.backlog.max_delay:
                return False
            await asyncio.sleep(POLL)

    def abort(self) -> None:
        if self._socket is not None and not self._transport.is_closing():
            try:
                self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            except OSError:
                pass  # the connection is already gone
        self._transport.abort()
