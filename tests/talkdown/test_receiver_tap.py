"""The receiver tap on aiortc's real RTCRtpReceiver (jitter buffer included): RTP opus
packets in, 440 Hz PCMU of the right length out on the loop, through a lost packet; the
decoder thread aiortc still starts idles and ends with the receiver. If aiortc changes
the private attributes the tap replaces, these tests fail (they do not skip)."""

from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCRtpReceiver
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpReceiveParameters
from aiortc.rtcrtpreceiver import RemoteStreamTrack
from aiortc.rtp import RtpPacket

from gateway.talkdown.receiver_tap import EncodedAudioTap, ReceiverTapError, tap
from tests.talkdown.audio import dominant_hz, opus_packets, tone

OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)
PCMU = RTCRtpCodecParameters(mimeType="audio/PCMU", clockRate=8000, channels=1, payloadType=0)


class FakeDtlsTransport:
    """What RTCRtpReceiver asks of its DTLS transport, without a network."""

    state = "connected"
    _stats_id = "transport"

    def _register_rtp_receiver(self, receiver, parameters) -> None:
        pass

    def _unregister_rtp_receiver(self, receiver) -> None:
        pass

    async def _send_rtp(self, data: bytes) -> None:
        pass


class Heard:
    def __init__(self) -> None:
        self.pcmu: list[bytes] = []
        self.ended: list[str] = []


async def tapped_receiver(codec: RTCRtpCodecParameters) -> tuple[RTCRtpReceiver, EncodedAudioTap, Heard]:
    heard = Heard()
    receiver = RTCRtpReceiver("audio", FakeDtlsTransport())
    receiver._track = RemoteStreamTrack(kind="audio")  # as RTCPeerConnection.setRemoteDescription does
    audio_tap = EncodedAudioTap(lambda pcmu, at: heard.pcmu.append(pcmu), heard.ended.append)
    tap(receiver, audio_tap)
    await receiver.receive(RTCRtpReceiveParameters(codecs=[codec]))
    return receiver, audio_tap, heard


async def feed(
    receiver: RTCRtpReceiver, payloads: list[bytes], payload_type: int, ticks: int, lost: frozenset[int] = frozenset()
) -> None:
    for index, payload in enumerate(payloads):
        if index in lost:
            continue
        packet = RtpPacket(
            payload_type=payload_type,
            sequence_number=(60000 + index) & 0xFFFF,
            timestamp=(123456 + index * ticks) & 0xFFFFFFFF,
            ssrc=1234,
            payload=payload,
        )
        await receiver._handle_rtp_packet(packet, arrival_time_ms=index * 20)


async def test_opus_rtp_through_aiortcs_jitter_buffer_comes_out_as_440_hz_pcmu():
    packets = opus_packets(tone(2.0, 48000))
    receiver, audio_tap, heard = await tapped_receiver(OPUS)
    await feed(receiver, packets, 111, 960)
    # aiortc's audio jitter buffer (prefetch 4) holds the last few frames back.
    assert len(packets) - 5 <= len(heard.pcmu) <= len(packets)
    assert {len(chunk) for chunk in heard.pcmu} == {160}
    assert abs(dominant_hz(b"".join(heard.pcmu)) - 440) <= 10
    assert audio_tap.frames == len(heard.pcmu) and audio_tap.bad_frames == 0
    track = receiver.track
    await receiver.stop()
    assert heard.ended == ["microphone track ended"]
    # aiortc's own decoder thread got the end from the tap and ended the track as usual.
    with pytest.raises(MediaStreamError):
        await asyncio.wait_for(track.recv(), 5)


async def test_a_lost_rtp_packet_is_concealed_and_the_audio_goes_on():
    packets = opus_packets(tone(3.0, 48000))
    receiver, audio_tap, heard = await tapped_receiver(OPUS)
    await feed(receiver, packets, 111, 960, lost=frozenset({50}))
    # aiortc's jitter buffer waits for the missing sequence number until it overflows
    # (16 packets), then drops what it held before it (in 1.16: 4 frames besides the lost
    # one) and stays that much deeper: the tap sees a timestamp jump and conceals it.
    assert 0 < audio_tap.concealed_samples <= 160 * 5
    pcmu = b"".join(heard.pcmu)
    assert len(pcmu) == 160 * audio_tap.frames + audio_tap.concealed_samples
    assert len(pcmu) >= 160 * (len(packets) - 16)
    assert abs(dominant_hz(pcmu) - 440) <= 10
    assert abs(dominant_hz(b"".join(heard.pcmu[60:])) - 440) <= 10  # the audio after the loss
    assert audio_tap.bad_frames == 0
    await receiver.stop()
    assert heard.ended == ["microphone track ended"]


async def test_pcmu_rtp_is_passed_through_as_it_came():
    payloads = [bytes([index % 256]) * 160 for index in range(30)]
    receiver, _, heard = await tapped_receiver(PCMU)
    await feed(receiver, payloads, 0, 160)
    assert heard.pcmu == payloads[: len(heard.pcmu)] and len(heard.pcmu) >= 25
    await receiver.stop()


async def test_a_receiver_already_started_cannot_be_tapped():
    receiver = RTCRtpReceiver("audio", FakeDtlsTransport())
    receiver._track = RemoteStreamTrack(kind="audio")
    await receiver.receive(RTCRtpReceiveParameters(codecs=[OPUS]))
    with pytest.raises(
        ReceiverTapError, match=r"^the receiver's decoder thread already runs: tap it before it starts$"
    ):
        tap(receiver, EncodedAudioTap(lambda pcmu, at: None, lambda reason: None))
    await receiver.stop()


def test_aiortc_still_has_the_decoder_queue_the_tap_replaces():
    receiver = RTCRtpReceiver("audio", FakeDtlsTransport())
    assert type(receiver._RTCRtpReceiver__decoder_queue).__name__ == "Queue"
    assert receiver._RTCRtpReceiver__decoder_thread is None
