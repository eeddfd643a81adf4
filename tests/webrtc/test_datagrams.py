"""A frame's datagrams reach the viewer whole and in order, in one system call per run (UDP GSO)."""

import asyncio
import errno
import socket

import pytest

from gateway.webrtc import datagrams as datagrams_module
from gateway.webrtc.datagrams import MAX_SEGMENTS, DatagramSender, segment_runs


def test_runs_are_equal_sizes_ended_by_a_shorter_one():
    sizes = [40, 1222, 1222, 1222, 500, 1222, 1222, 30, 30]
    runs = list(segment_runs([bytes(n) for n in sizes]))
    assert runs == [(0, 1, 40), (1, 5, 1222), (5, 8, 1222), (8, 9, 30)]


def test_runs_stop_at_the_kernel_limits():
    runs = list(segment_runs([bytes(100)] * (MAX_SEGMENTS + 3)))
    assert runs == [(0, MAX_SEGMENTS, 100), (MAX_SEGMENTS, MAX_SEGMENTS + 3, 100)]
    big = list(segment_runs([bytes(1400)] * 60))  # 64 segments would be over 65,000 bytes
    assert all((end - start) * 1400 <= 65_000 for start, end, _ in big) and big[-1][1] == 60


@pytest.fixture
async def endpoints():
    loop = asyncio.get_running_loop()
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(2)
    transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    yield transport, receiver
    transport.close()
    receiver.close()


def receive(receiver: socket.socket, count: int) -> list[bytes]:
    return [receiver.recv(65536) for _ in range(count)]


async def test_datagrams_arrive_whole_and_in_order_with_fewer_system_calls(endpoints):
    transport, receiver = endpoints
    sender = DatagramSender(transport)
    assert sender.segmenting, "this Linux test machine has UDP GSO"
    frame = [b"S" * 40] + [bytes([index]) * 1222 for index in range(20)] + [b"E" * 300]
    sender.send(frame, receiver.getsockname())
    assert receive(receiver, len(frame)) == frame
    assert sender.system_calls == 2  # the lone STAP-A, then one run
    sender.close()


async def test_without_gso_datagrams_go_one_by_one(endpoints, monkeypatch, caplog):
    transport, receiver = endpoints
    sender = DatagramSender(transport)

    class RefusingSocket:
        def __init__(self, real):
            self.real = real

        def sendmsg(self, *args):
            raise OSError(errno.EIO, "Input/output error")

        def sendto(self, *args):
            return self.real.sendto(*args)

        def close(self):
            self.real.close()

    sender._socket = RefusingSocket(sender._socket)
    frame = [bytes([index]) * 1000 for index in range(5)] + [b"x" * 10]
    sender.send(frame, receiver.getsockname())
    assert receive(receiver, len(frame)) == frame
    assert not sender.segmenting and "one by one" in caplog.text
    sender.send(frame, receiver.getsockname())  # and stays so
    assert receive(receiver, len(frame)) == frame


async def test_a_transport_without_a_socket_sends_one_by_one(endpoints, monkeypatch):
    transport, receiver = endpoints
    monkeypatch.setattr(datagrams_module, "_duplicate", lambda transport: None)  # aioice's TURN relay
    sender = DatagramSender(transport)
    sender.send([b"a" * 100, b"b" * 100], receiver.getsockname())
    await asyncio.sleep(0.05)
    assert receive(receiver, 2) == [b"a" * 100, b"b" * 100] and sender.system_calls == 2
