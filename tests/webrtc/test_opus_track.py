"""The opus passthrough: the camera's webm opus packets into its opus hub, and out of
HubOpusTrack as av.Packets aiortc sends as they are. Real packets from the emulator's encoder."""

import asyncio
from fractions import Fraction

import pytest
from aiortc.mediastreams import MediaStreamError

from gateway.backends.wep.backend import as_seam_audio
from gateway.config import SourcesConfig
from gateway.emulator.encode import encode_opus_webm
from gateway.media.audio import CameraAudio
from gateway.media.fmp4.model import Sample
from gateway.media.hub import Hub
from gateway.media.webm import AudioFrame, AudioTrack, WebmReader
from gateway.webrtc.opus_track import OPUS_QUEUE_PACKETS, HubOpusTrack, OpusPassthrough
from gateway.webrtc.stats import WebrtcCounters


@pytest.fixture(scope="module")
def webm_events() -> list:
    """One second of the emulator's camera-0 tone: libopus in live webm, 20 ms packets."""
    return WebmReader().feed(encode_opus_webm(0, 1.0))


def opus_samples(count: int, start: int = 0) -> list[Sample]:
    # Real packets are not needed to test the plumbing: a CELT 20 ms TOC byte and a tag.
    return [Sample(2, (start + i) * 960, 960, 0, True, bytes([0xF8, i % 256])) for i in range(count)]


async def receive(track: HubOpusTrack, count: int) -> list:
    return [await asyncio.wait_for(track.recv(), 2) for _ in range(count)]


async def test_camera_audio_publishes_each_webm_packet_untouched(webm_events):
    audio = CameraAudio("cam", None, SourcesConfig())
    reader = audio.opus_hub.subscribe(queue_frames=1000)
    await audio._on_events([as_seam_audio(event) for event in webm_events])  # what the WEP backend's feed yields
    frames = [reader.get_nowait() for _ in range(reader.queued)]
    packets = [event for event in webm_events if isinstance(event, AudioFrame)]
    assert len(frames) == len(packets) >= 45
    assert [frame.sample.data for frame in frames] == [packet.data for packet in packets]  # the same bytes
    assert all(frame.kind == "audio" and frame.sample.duration == 960 for frame in frames)
    assert [frame.sample.decode_time for frame in frames] == [round(packet.pts_ms * 48) for packet in packets]
    assert audio.track is not None and audio.track.codec == "mp4a.40.2"  # the AAC path is still made
    # A viewer joining later hears the next packet, never a backlog.
    assert audio.opus_hub.subscribe().get_nowait() is None


async def test_track_sends_packets_as_they_are_on_the_48khz_clock():
    hub, counters = Hub("cam/opus", audio_only=True), WebrtcCounters()
    track = HubOpusTrack(hub.subscribe(queue_frames=OPUS_QUEUE_PACKETS), counters)
    for sample in opus_samples(5):
        hub.publish(sample, "audio")  # queued before the connection was up: skipped
    waiting = asyncio.ensure_future(receive(track, 3))
    await asyncio.sleep(0.05)  # the first recv() has run and waits
    samples = opus_samples(3, start=5)
    for sample in samples:
        hub.publish(sample, "audio")
    packets = await waiting
    assert [bytes(packet) for packet in packets] == [sample.data for sample in samples]
    assert [packet.pts for packet in packets] == [5 * 960, 6 * 960, 7 * 960]
    assert all(packet.time_base == Fraction(1, 48000) for packet in packets)
    assert (counters.audio_packets_skipped, counters.audio_packets_sent, track.packets_sent) == (5, 3, 3)
    # What aiortc's sender does with them: one RTP payload each, timestamp in 1/48000.
    assert OpusPassthrough().pack(packets[1]) == ([samples[1].data], 6 * 960)
    with pytest.raises(TypeError):
        OpusPassthrough().encode(None)
    track.stop()
    assert hub.reader_count == 0


async def test_after_an_upstream_reconnect_rtp_time_goes_on_with_wall_time():
    hub = Hub("cam/opus", audio_only=True)
    track = HubOpusTrack(hub.subscribe(), WebrtcCounters())
    waiting = asyncio.ensure_future(receive(track, 4))
    await asyncio.sleep(0.05)  # the first recv() has run and waits
    for sample in opus_samples(2, start=1000):
        hub.publish(sample, "audio")
    await asyncio.sleep(0.2)
    hub.publish_discontinuity("ended")
    for sample in opus_samples(2):  # the new connection's webm clock starts again at 0
        hub.publish(sample, "audio")
    pts = [packet.pts for packet in await waiting]
    assert pts[1] - pts[0] == 960 and pts[3] - pts[2] == 960
    assert pts[2] > pts[1]  # forward, by about the pause, never back to the new clock's 0
    track.stop()


async def test_a_stalled_viewer_loses_packets_within_its_bound_and_goes_on():
    hub = Hub("cam/opus", audio_only=True)
    track = HubOpusTrack(hub.subscribe(queue_frames=OPUS_QUEUE_PACKETS), WebrtcCounters())
    await asyncio.wait_for(asyncio.gather(receive(track, 1), _publish_later(hub, opus_samples(1))), 2)
    for sample in opus_samples(3 * OPUS_QUEUE_PACKETS, start=1):  # the viewer's send path is stuck
        hub.publish(sample, "audio")
    assert track._reader.queued <= OPUS_QUEUE_PACKETS
    assert track.packets_dropped >= 2 * OPUS_QUEUE_PACKETS and hub.counters.frames_dropped == track.packets_dropped
    # It resumes on what is queued, then on fresh packets: every opus packet decodes alone.
    later = opus_samples(1, start=1000)
    queued = track._reader.queued
    packets = await asyncio.wait_for(asyncio.gather(receive(track, queued + 1), _publish_later(hub, later)), 2)
    assert bytes(packets[0][-1]) == later[0].data
    track.stop()


async def test_track_ends_when_the_camera_audio_stops():
    hub = Hub("cam/opus", audio_only=True)
    track = HubOpusTrack(hub.subscribe(), WebrtcCounters())
    hub.close()
    with pytest.raises(MediaStreamError):
        await asyncio.wait_for(track.recv(), 2)
    assert track.readyState == "ended"


async def _publish_later(hub: Hub, samples: list[Sample]) -> None:
    await asyncio.sleep(0.05)
    for sample in samples:
        hub.publish(sample, "audio")


def test_emulator_audio_is_opus_in_webm(webm_events):
    track = next(event for event in webm_events if isinstance(event, AudioTrack))
    assert (track.codec, track.sample_rate, track.channels) == ("opus", 48000, 1)
