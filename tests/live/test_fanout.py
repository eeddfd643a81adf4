"""The /live fan-out (gateway/live/fanout.py) over a real hub and in-memory transports: each
frame rendered once for every viewer, a viewer's stream as its own hub reader's was (init,
current GOP, then live, as valid chunked fMP4 with increasing fragment numbers), each viewer
counted as a hub reader, and a slow or stalled viewer dropped on its own."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from gateway.config import Config
from gateway.live import fanout as fanout_module
from gateway.live.fanout import LiveFanout
from gateway.media.fmp4 import Fmp4Reader, InitSegment, Sample, TrackInfo, write_init_segment
from gateway.media.hub import Hub

AVCC = bytes.fromhex("0142c01effe1000a6742c01ed9014016e84001000468ce3c80")
VIDEO = TrackInfo(1, "video", "avc1.42C01E", 90000, 320, 240, codec_config=AVCC)
INIT = InitSegment(write_init_segment([VIDEO]), (VIDEO,))
FRAME = 6000  # 15 fps in 90 kHz
GOP = 15


class Transport:
    """What the fan-out and the pacer use of an asyncio transport; `unsent` stands for bytes
    the viewer has not taken (the transport's buffer: no socket, no TIOCOUTQ)."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.unsent = 0
        self.closing = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.data += data

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return self.unsent

    def get_extra_info(self, name: str, default=None):
        return default

    def abort(self) -> None:
        self.aborted = self.closing = True


@dataclasses.dataclass
class Writer:
    output_size: int = 0


@dataclasses.dataclass
class Request:
    transport: Transport
    writer: Writer


@dataclasses.dataclass
class Response:
    headers: dict


def join(fanout: LiveFanout, chunked: bool = True):
    request = Request(Transport(), Writer())
    viewer = fanout.join(request, Response({"Transfer-Encoding": "chunked"} if chunked else {}))
    return viewer, request


def unchunk(data: bytes) -> bytes:
    """RFC 9112 7.1 chunks back to the body; every chunk must be whole."""
    body, at = bytearray(), 0
    while at < len(data):
        end = data.index(b"\r\n", at)
        size = int(data[at:end], 16)
        assert size > 0 and data[end + 2 + size : end + 4 + size] == b"\r\n"
        body += data[end + 2 : end + 2 + size]
        at = end + 4 + size
    return bytes(body)


def publish(hub: Hub, index: int) -> None:
    sample = Sample(1, index * FRAME, FRAME, 0, index % GOP == 0, b"frame%d" % index)
    hub.publish(sample, "video")


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def started(config: Config | None = None, frames: int = 20) -> tuple[Hub, LiveFanout]:
    hub = Hub("cam/low")
    hub.publish_init(INIT)
    for index in range(frames):
        publish(hub, index)
    fanout = LiveFanout(hub.subscribe(queue_frames=1024), config or Config(), "cam")
    return hub, fanout


async def test_viewers_get_init_the_current_gop_then_live_frames_rendered_once(monkeypatch):
    writes = []
    original = fanout_module.FragmentWriter.write
    monkeypatch.setattr(
        fanout_module.FragmentWriter, "write", lambda self, samples: writes.append(samples) or original(self, samples)
    )
    hub, fanout = await started()
    first, first_request = join(fanout)  # joins mid-GOP: frames 15..19 are the current GOP
    second, second_request = join(fanout, chunked=False)
    for index in range(20, 40):
        publish(hub, index)
        await settle()
    assert len(writes) == 5 + 20  # the current GOP once, then each live frame once
    streams = [unchunk(first_request.transport.data), bytes(second_request.transport.data)]
    assert streams[0] == streams[1]
    assert first_request.writer.output_size == len(first_request.transport.data)
    events = Fmp4Reader().feed(streams[0])
    assert events[0].data == INIT.data
    fragments = events[1:]
    samples = [sample for fragment in fragments for sample in fragment.samples]
    assert [sample.data for sample in samples] == [b"frame%d" % i for i in range(15, 40)]
    assert samples[0].is_keyframe
    numbers = [fragment.sequence_number for fragment in fragments]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert not first.done.done() and not second.done.done()
    fanout.close()
    assert first.done.done() and second.done.done()


async def test_each_viewer_counts_as_a_hub_reader_until_it_leaves():
    hub, fanout = await started()
    assert hub.reader_count == 1  # the first request's share
    fanout.add_member()
    fanout.add_member()
    assert hub.reader_count == 3 and hub.counters.readers_total == 3
    fanout.release()
    assert hub.reader_count == 2 and not fanout.closed
    fanout.release()
    fanout.release()
    assert hub.reader_count == 0 and fanout.closed
    await settle()


async def test_a_viewer_whose_connection_closes_is_let_go():
    hub, fanout = await started()
    viewer, request = join(fanout)
    other, _ = join(fanout)
    request.transport.closing = True
    publish(hub, 20)
    await settle()
    assert viewer.done.done() and not other.done.done()
    fanout.close()


async def test_a_viewer_behind_drops_whole_gops_and_the_others_do_not():
    config = Config()
    config = dataclasses.replace(config, live=dataclasses.replace(config.live, max_delay_s=0.2))
    hub, fanout = await started(config, frames=GOP)  # the current GOP is frame 0..14
    slow, slow_request = join(fanout)
    fast, fast_request = join(fanout)
    slow_request.transport.unsent = 10**6  # takes nothing: nothing may go after what is queued
    for index in range(GOP, 3 * GOP):
        publish(hub, index)
        await asyncio.sleep(0.02)  # frames age past max_delay while they wait
    fast_samples = [s.data for e in Fmp4Reader().feed(unchunk(fast_request.transport.data))[1:] for s in e.samples]
    assert fast_samples == [b"frame%d" % i for i in range(3 * GOP)]
    assert hub.counters.gops_dropped >= 1 and hub.counters.frames_dropped >= GOP
    slow_request.transport.unsent = 0  # reads again: resumes at a keyframe
    for index in range(3 * GOP, 5 * GOP):
        publish(hub, index)
        await asyncio.sleep(0.005)
    samples = [s for e in Fmp4Reader().feed(unchunk(slow_request.transport.data))[1:] for s in e.samples]
    resumed = [int(s.data[5:]) for s in samples]
    assert resumed[-1] == 5 * GOP - 1
    # what it got after the first write is whole GOPs from a keyframe on, in order
    later = [i for i in resumed if i >= GOP]
    assert later and later[0] % GOP == 0 and later == list(range(later[0], 5 * GOP))
    assert not slow.done.done() and not fast.done.done()
    fanout.close()


async def test_a_viewer_that_takes_nothing_for_send_timeout_is_cut_off(caplog):
    caplog.set_level(logging.INFO, logger="gateway.live")
    config = Config()
    config = dataclasses.replace(config, live=dataclasses.replace(config.live, send_timeout=0.1, max_delay_s=5.0))
    hub, fanout = await started(config)
    viewer, request = join(fanout)
    request.transport.unsent = 10**6
    for index in range(20, 40):
        publish(hub, index)
        await asyncio.sleep(0.02)
        if viewer.done.done():
            break
    assert viewer.done.done() and request.transport.aborted
    assert "dropped a live viewer that stopped reading" in caplog.text
    fanout.close()


async def test_the_hub_closing_ends_every_viewer():
    hub, fanout = await started()
    viewer, _ = join(fanout)
    hub.close()
    await settle()
    assert viewer.done.done() and fanout.closed
