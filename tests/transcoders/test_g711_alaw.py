"""G.711 A-law: the encoder against FFmpeg's pcm_alaw for every int16, the mu-law to A-law
table against decode-then-encode, and the documented distance from ITU-T G.191."""

from __future__ import annotations

import av
import numpy as np
import pytest

from transcoders import g711

ALL_INT16 = np.arange(-32768, 32768).astype(np.int16)


def ffmpeg_encode(codec: str, samples: np.ndarray) -> np.ndarray:
    encoder = av.CodecContext.create(codec, "w")
    encoder.sample_rate, encoder.layout, encoder.format = 8000, "mono", "s16"
    encoder.open()
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate, frame.pts = 8000, 0
    packets = encoder.encode(frame) + encoder.encode(None)
    return np.frombuffer(b"".join(bytes(p) for p in packets), np.uint8)


def ffmpeg_decode(codec: str, codes: bytes) -> np.ndarray:
    decoder = av.CodecContext.create(codec, "r")
    decoder.sample_rate, decoder.layout = 8000, "mono"
    return np.concatenate([f.to_ndarray().ravel() for f in decoder.decode(av.Packet(codes))])


def g191_alaw_compress(sample: int) -> int:
    """ITU-T G.191 STL g711.c alaw_compress, one sample, as written there."""
    ix = (~sample) >> 4 if sample < 0 else sample >> 4
    if ix > 15:
        exponent = 1
        while ix > 16 + 15:
            ix >>= 1
            exponent += 1
        ix -= 16
        ix += exponent << 4
    if sample >= 0:
        ix |= 0x80
    return ix ^ 0x55


@pytest.fixture(scope="module")
def ffmpeg_alaw() -> np.ndarray:
    return ffmpeg_encode("pcm_alaw", ALL_INT16)  # the ramp through PyAV, once


def test_encoder_is_ffmpeg_for_every_int16(ffmpeg_alaw):
    ours = g711.encode_alaw(ALL_INT16)
    assert ours.dtype == np.uint8
    assert np.array_equal(ours, ffmpeg_alaw)


def test_ulaw_to_alaw_is_decode_then_encode():
    ulaw = bytes(range(256))
    levels = ffmpeg_decode("pcm_mulaw", ulaw)
    assert np.array_equal(levels, g711.decode(ulaw))  # our mu-law levels are FFmpeg's
    assert len(g711.ULAW_TO_ALAW) == 256
    assert g711.ULAW_TO_ALAW == g711.encode_alaw(levels).tobytes()
    assert g711.ULAW_TO_ALAW == ffmpeg_encode("pcm_alaw", levels).tobytes()
    assert g711.ulaw_to_alaw(ulaw) == g711.ULAW_TO_ALAW
    assert ulaw.translate(g711.ULAW_TO_ALAW) == g711.ULAW_TO_ALAW  # what the talk uplink does per chunk


def test_translation_keeps_the_level_within_a_step():
    # Every mu-law level re-encoded in A-law decodes (by FFmpeg) to a level at most one step away.
    levels = g711.decode(bytes(range(256))).astype(np.int32)
    back = ffmpeg_decode("pcm_alaw", g711.ULAW_TO_ALAW).astype(np.int32)
    nonzero = levels != 0
    assert np.all(np.sign(back[nonzero]) == np.sign(levels[nonzero]))
    assert np.all(np.abs(back - levels) <= np.maximum(8, np.abs(levels) // 16))  # within one A-law step


def test_distance_from_g191(ffmpeg_alaw):
    reference = np.array([g191_alaw_compress(int(s)) for s in ALL_INT16], np.uint8)
    ours = g711.encode_alaw(ALL_INT16)
    differ = ours != reference
    assert differ.sum() == 964  # the module docstring's count
    decoded = ffmpeg_decode("pcm_alaw", bytes(range(256))).astype(np.int64)
    neighbours = np.abs(decoded[ours[differ]] - decoded[reference[differ]])
    assert np.all(neighbours <= 1024)  # one step of the segment at most
    error_ours = np.abs(decoded[ours] - ALL_INT16).mean()
    error_reference = np.abs(decoded[reference] - ALL_INT16).mean()
    assert abs(error_ours - error_reference) < 0.004 * error_reference


def test_shapes_and_types():
    stereo = np.zeros((2, 10), np.int16)
    assert g711.encode_alaw(stereo).shape == (2, 10)
    assert g711.encode_alaw(np.zeros(3, np.int16)).tobytes() == b"\xd5\xd5\xd5"  # A-law silence
    with pytest.raises(TypeError, match="int16"):
        g711.encode_alaw(np.zeros(3, np.float32))
