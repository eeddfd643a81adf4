"""OpusToPcmu: opus packets (PyAV's libopus encoder, as a browser sends them) to 8 kHz
mu-law at the tone's frequency, one 160-byte frame per 20 ms packet; short losses
concealed to full length, long gaps left as gaps, a corrupt packet refused alone."""

from __future__ import annotations

import numpy as np
import pytest

from tests.talkdown.audio import dominant_hz, opus_packets, tone
from transcoders import g711
from transcoders.opus import MAX_CONCEALED_SAMPLES, OpusError, OpusToPcmu

TICKS = 960  # RTP timestamp step of a 20 ms opus packet (48 kHz clock, RFC 7587 4.1)


@pytest.fixture(scope="module")
def packets() -> list[bytes]:
    return opus_packets(tone(2.0, 48000))


def test_a_440_hz_opus_stream_decodes_to_440_hz_pcmu_of_its_length(packets):
    decoder = OpusToPcmu()
    chunks = [decoder.decode(packet, 5000 + index * TICKS) for index, packet in enumerate(packets)]
    assert {len(chunk) for chunk in chunks} == {160}  # 20 ms at 8 kHz, mu-law: one byte a sample
    pcmu = b"".join(chunks)
    assert abs(dominant_hz(pcmu) - 440) <= 10
    level = np.abs(g711.decode(pcmu[1600:]).astype(float)).mean()
    assert 0.5 * 0.637 * 16384 <= level <= 1.5 * 0.637 * 16384  # the tone's amplitude (0.5 full scale) survives
    assert decoder.concealed_samples == 0 and decoder.gaps == 0


def test_a_lost_packet_is_concealed_and_the_stream_keeps_its_length_and_tone(packets):
    decoder = OpusToPcmu()
    lost = {20, 40, 41, 42}
    chunks = [decoder.decode(packet, index * TICKS) for index, packet in enumerate(packets) if index not in lost]
    pcmu = b"".join(chunks)
    assert len(pcmu) == 160 * len(packets)
    assert decoder.concealed_samples == 160 * len(lost) and decoder.gaps == 0
    assert abs(dominant_hz(pcmu) - 440) <= 10
    # The concealed 20 ms after the first loss still carry the tone, not silence.
    concealed = g711.decode(pcmu[20 * 160 : 21 * 160]).astype(float)
    assert np.abs(concealed).mean() > 0.2 * 0.637 * 16384


def test_a_gap_longer_than_the_concealment_limit_is_not_filled(packets):
    decoder = OpusToPcmu()
    skipped = MAX_CONCEALED_SAMPLES // 160 + 2
    kept = [index for index in range(len(packets)) if not 30 <= index < 30 + skipped]
    pcmu = b"".join(decoder.decode(packets[index], index * TICKS) for index in kept)
    assert len(pcmu) == 160 * len(kept)
    assert decoder.gaps == 1 and decoder.concealed_samples == 0
    assert abs(dominant_hz(pcmu) - 440) <= 10


def test_timestamps_wrapping_at_2_32_are_in_step(packets):
    decoder = OpusToPcmu()
    start = (1 << 32) - 5 * TICKS
    pcmu = b"".join(
        decoder.decode(packet, (start + index * TICKS) & 0xFFFFFFFF) for index, packet in enumerate(packets[:20])
    )
    assert len(pcmu) == 20 * 160 and decoder.concealed_samples == 0 and decoder.gaps == 0


def test_a_corrupt_packet_is_refused_and_the_next_one_decodes(packets):
    decoder = OpusToPcmu()
    decoder.decode(packets[0], 0)
    with pytest.raises(OpusError, match=r"^not an opus packet: "):
        decoder.decode(b"", TICKS)
    toc = packets[1][0] | 0b11  # RFC 6716 3.2.5: code 3, the frame count in the next byte
    with pytest.raises(OpusError, match=r"^not an opus packet: it holds no audio$"):
        decoder.decode(bytes([toc, 0]) + packets[1][1:], TICKS)
    with pytest.raises(OpusError, match=r"^not an opus packet: corrupted stream$"):  # 48 x 20 ms: past 120 ms
        decoder.decode(bytes([toc, 48]) + packets[1][1:], TICKS)
    with pytest.raises(OpusError, match=r"^opus packet not decoded: corrupted stream$"):  # 2 CBR frames in 3 bytes
        decoder.decode(bytes([toc, 2]) + b"\x00" * 3, TICKS)
    assert len(decoder.decode(packets[1], TICKS)) == 160


def test_a_closed_decoder_refuses_packets(packets):
    decoder = OpusToPcmu()
    decoder.close()
    decoder.close()
    with pytest.raises(OpusError, match=r"^opus decoder is closed$"):
        decoder.decode(packets[0], 0)
