"""A frame's UDP datagrams to one viewer in as few system calls as the kernel allows.

A WebRTC frame is a run of datagrams of one size (FU-A fragments of MAX_PAYLOAD, see
gateway/media/rtp_h264.py) ended by a shorter one. Linux UDP GSO (UDP_SEGMENT, since
4.18) takes such a run in one sendmsg and cuts it in the kernel: at 100 viewers one
system call per frame instead of one per packet, a third of the send cost
(bench/bench_webrtc_fanout.py). Where GSO is missing (an old kernel, a device without
checksum offload, a TURN relay that is not a socket), the datagrams go one by one
through aioice's transport, as before.

Writing to a duplicate of the transport's socket, next to the event loop's own writes,
is safe for UDP: every datagram is whole and independent (RTP reorders by sequence).
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import struct
from asyncio import DatagramTransport
from collections.abc import Iterator, Sequence

log = logging.getLogger("gateway.webrtc")

UDP_SEGMENT = getattr(socket, "UDP_SEGMENT", 103)  # linux/udp.h; Python 3.11 has no name for it
MAX_SEGMENTS = 64  # the kernel's UDP_MAX_SEGMENTS
MAX_GSO_BYTES = 65_000  # one IP datagram's payload, less headers
# Errors that mean "no GSO here", not "this datagram failed" (udp(7), net/ipv4/udp.c).
_NO_GSO = frozenset({errno.EIO, errno.EINVAL, errno.ENOPROTOOPT, errno.EOPNOTSUPP})


def segment_runs(datagrams: Sequence[bytes]) -> Iterator[tuple[int, int, int]]:
    """(start, end, segment size) of runs one GSO send can carry: equal sizes, the last
    one possibly shorter, at most MAX_SEGMENTS and MAX_GSO_BYTES."""
    start, count = 0, len(datagrams)
    while start < count:
        size = len(datagrams[start])
        end, total = start + 1, size
        while end < count and end - start < MAX_SEGMENTS and total + len(datagrams[end]) <= MAX_GSO_BYTES:
            length = len(datagrams[end])
            if length > size:
                break
            end, total = end + 1, total + length
            if length < size:
                break  # a shorter datagram can only end a run
        yield start, end, size
        start = end


class DatagramSender:
    """Sends runs of datagrams to one address over one aioice transport."""

    def __init__(self, transport: DatagramTransport):
        self.transport = transport
        self._socket = _duplicate(transport)
        self.system_calls = 0

    @property
    def segmenting(self) -> bool:
        return self._socket is not None

    def send(self, datagrams: Sequence[bytes], address: tuple) -> int:
        """Send them in order; the number the kernel had no buffer for (dropped, as UDP does)."""
        if self._socket is None:
            self._one_by_one(datagrams, address)
            return 0
        dropped = 0
        for start, end, size in segment_runs(datagrams):
            try:
                if end - start == 1:
                    self._socket.sendto(datagrams[start], address)
                else:
                    self._socket.sendmsg(
                        [b"".join(datagrams[start:end])],
                        [(socket.SOL_UDP, UDP_SEGMENT, struct.pack("=H", size))],
                        0,
                        address,
                    )
                self.system_calls += 1
            except BlockingIOError:
                dropped += end - start
            except OSError as exc:
                if exc.errno not in _NO_GSO:
                    raise ConnectionError(f"cannot send to the viewer: {exc}") from None
                log.warning("UDP segmentation offload refused (%s): sending datagrams one by one", exc)
                self.close()
                self._one_by_one(datagrams[start:], address)
                break
        return dropped

    def _one_by_one(self, datagrams: Sequence[bytes], address: tuple) -> None:
        sendto = self.transport.sendto
        for datagram in datagrams:
            sendto(datagram, address)
        self.system_calls += len(datagrams)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _duplicate(transport: DatagramTransport) -> socket.socket | None:
    """A non-blocking duplicate of the transport's UDP socket, if it has one and GSO works."""
    if not hasattr(socket, "SOL_UDP") or os.uname().sysname != "Linux":
        return None
    loop_socket = transport.get_extra_info("socket")  # None for aioice's TURN relay transport
    if loop_socket is None:
        return None
    duplicate = socket.socket(loop_socket.family, socket.SOCK_DGRAM, fileno=os.dup(loop_socket.fileno()))
    duplicate.setblocking(False)
    try:
        # Probe: the option exists on this kernel (the per-send cmsg is what is used).
        duplicate.getsockopt(socket.SOL_UDP, UDP_SEGMENT)
    except OSError:
        duplicate.close()
        return None
    return duplicate
