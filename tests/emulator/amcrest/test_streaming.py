"""The media pump against a fake transport and a fake clock: start point, timestamps,
sender reports, and the bounded writer's drop-to-keyframe rule."""

from __future__ import annotations

import asyncio
import struct

import pytest

from gateway.emulator.amcrest.audio_loops import AudioTrack
from gateway.emulator.amcrest.clock import MediaClock
from gateway.emulator.amcrest.stats import AmcrestStats
from gateway.emulator.amcrest.streaming import WRITE_BUFFER_LIMIT, SessionStreamer, TrackSender
from gateway.emulator.amcrest.video_loops import AccessUnit, VideoTrack

VIDEO = VideoTrack("H264", 64, 36, 15, "", tuple(
    AccessUnit((bytes([i]) * 10, bytes([i]) * 5), i % 15 == 0) for i in range(30)
))  # fmt: skip
AUDIO = AudioTrack("PCMA", 8, 8000, 1, 160, None, tuple(bytes([i]) * 160 for i in range(50)))


class FakeClock(MediaClock):
    def __init__(self, now: float) -> None:
        super().__init__(epoch_mono=0.0, epoch_wall=1000.0)
        self.t = now

    def now(self) -> float:
        return self.t


class FakeTransport(asyncio.WriteTransport):
    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()
        self.buffered = 0
        self.closing = False

    def write(self, data) -> None:
        self.data += data

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return self.closing

    def packets(self) -> list[tuple[int, bytes]]:
        out, pos = [], 0
        while pos < len(self.data):
            assert self.data[pos] == 0x24
            channel, size = self.data[pos + 1], struct.unpack_from("!H", self.data, pos + 2)[0]
            out.append((channel, bytes(self.data[pos + 4 : pos + 4 + size])))
            pos += 4 + size
        self.data.clear()
        return out


def rtp(packet: bytes) -> tuple[bool, int, int, int, bytes]:
    _, m_pt, seq, ts, _ = struct.unpack_from("!BBHII", packet)
    return bool(m_pt & 0x80), m_pt & 0x7F, seq, ts, packet[12:]


@pytest.fixture
async def running():
    tasks = []

    async def start(now: float):
        clock, transport, stats = FakeClock(now), FakeTransport(), AmcrestStats()
        video = TrackSender("v", 0, 1, 90000, 96)
        audio = TrackSender("a", 2, 3, 8000, 8)
        streamer = SessionStreamer(transport, clock, stats, (VIDEO, video), (AUDIO, audio), "test")
        info = streamer.rtp_info()
        tasks.append(asyncio.create_task(streamer.run()))
        await asyncio.sleep(0.05)
        return clock, transport, stats, video, audio, info

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_starts_at_the_last_keyframe_with_matching_timestamps(running):
    _, transport, stats, video, audio, info = await running(1.5)
    packets = transport.packets()
    video_packets = [rtp(p) for ch, p in packets if ch == 0]
    audio_packets = [rtp(p) for ch, p in packets if ch == 2]
    # frame 22 is due at 1.5 s; the keyframe before it is frame 15 (1.0 s): frames 15..22 at once
    assert [payload[0] for _, _, _, _, payload in video_packets] == [i for i in range(15, 23) for _ in (0, 1)]
    assert [m for m, *_ in video_packets] == [False, True] * 8  # the marker on each frame's last packet
    assert {pt for _, pt, *_ in video_packets} == {96}
    assert [seq for _, _, seq, _, _ in video_packets] == [(video_packets[0][2] + i) & 0xFFFF for i in range(16)]
    assert [ts - video.ts_base & 0xFFFFFFFF for _, _, _, ts, _ in video_packets[::2]] == [6000 * i for i in range(8)]
    # audio from 1.0 s (packet 50, the loop's packet 0) to 1.5 s (packet 75) inclusive
    assert [p[4][0] for p in audio_packets] == [i % 50 for i in range(50, 76)]
    assert [ts - audio.ts_base & 0xFFFFFFFF for _, _, _, ts, _ in audio_packets] == [160 * i for i in range(26)]
    assert info == [("v", video_packets[0][2], video.ts_base), ("a", audio_packets[0][2], audio.ts_base)]
    # sender reports come first and tie both clocks to the same wall time (1001.5 s)
    assert [ch for ch, _ in packets[:2]] == [1, 3]
    reports = dict(packets[:2])
    for channel, sender, rate in ((1, video, 90000), (3, audio, 8000)):
        _, pt, _, ssrc, msw, lsw, rtp_ts, count, octets = struct.unpack_from("!BBHIIIIII", reports[channel])
        assert (pt, ssrc) == (200, sender.ssrc)
        assert msw - 2_208_988_800 == 1001 and lsw == 1 << 31
        assert rtp_ts == (sender.ts_base + int(0.5 * rate)) & 0xFFFFFFFF
        assert (count, octets) == (0, 0)  # nothing sent yet
    assert stats.rtp_packets_sent == 16 + 26


async def test_a_client_that_does_not_read_loses_frames_up_to_a_keyframe(running):
    clock, transport, stats, video, _, _ = await running(1.0)
    transport.packets()
    transport.buffered = WRITE_BUFFER_LIMIT + 1
    clock.t = 1.4  # frames 16..21 and 20 audio packets come due, none fits
    await asyncio.sleep(0.05)
    assert transport.packets() == []
    assert stats.rtp_frames_dropped == 6 + 20
    transport.buffered = 0
    clock.t = 1.9  # the buffer drained, but frames 22..28 are not keyframes: audio only
    await asyncio.sleep(0.05)
    channels = {ch for ch, _ in transport.packets()}
    assert channels == {2}
    assert stats.rtp_frames_dropped == 6 + 20 + 7
    clock.t = 2.0  # frame 30: the loop's keyframe, video resumes
    await asyncio.sleep(0.05)
    resumed = [rtp(p) for ch, p in transport.packets() if ch == 0]
    assert [payload[0] for *_, payload in resumed] == [0, 0]
    assert resumed[0][2] == (video.seq - 2) & 0xFFFF  # sequence numbers count sent packets only


async def test_stops_when_the_transport_closes(running):
    clock, transport, *_ = await running(0.0)
    transport.packets()
    transport.closing = True
    clock.t = 5.0  # 75 frames due, but nobody to send them to
    await asyncio.sleep(0.1)
    assert transport.data == b""
