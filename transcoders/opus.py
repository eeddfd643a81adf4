"""Opus (RFC 6716) RTP payloads to PCMU (G.711 mu-law, 8 kHz mono), with libopus.

Why libopus through ctypes and not PyAV: FFmpeg's libopus wrapper always opens the
decoder at 48 kHz (libopusdec.c), so a browser's 20 ms frame comes out as 960 samples
(aiortc asks for stereo: 1920) that must then be resampled to 8 kHz. libopus itself
decodes at 8 kHz natively (RFC 6716 4: the decoder may run at 8, 12, 16, 24 or 48 kHz
whatever the encoder's rate) and downmixes to mono, so a frame comes out as the 160
samples the speaker wants: no resampler, no filter delay, about a third of the work.

`OpusToPcmu` is sans-IO: payloads and RTP timestamps in, mu-law bytes out. It follows
the timestamps (RFC 7587 4.1: the opus RTP clock is 48 kHz whatever the audio's
bandwidth) to hide short losses: the last missing frame is rebuilt from the next
packet's in-band FEC where the sender put one there (browsers do: useinbandfec=1), the
frames before it by libopus's concealment (PLC). A longer gap (a muted talker, a
stalled network) is not filled: the speaker hears no invented audio.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os

import numpy as np

from transcoders import g711

PCMU_RATE = 8000
RTP_CLOCK = 48000  # RFC 7587 4.1
_RTP_TICKS_PER_SAMPLE = RTP_CLOCK // PCMU_RATE
# RFC 6716 3.2.5: a packet carries at most 120 ms of audio.
_MAX_SAMPLES = 120 * PCMU_RATE // 1000
# Losses up to this long are concealed; longer gaps stay gaps (nothing is padded).
MAX_CONCEALED_SAMPLES = 100 * PCMU_RATE // 1000
# libopus takes concealment lengths in multiples of 2.5 ms (its smallest frame).
_PLC_STEP = PCMU_RATE * 25 // 10_000
_OPUS_OK = 0


class OpusError(ValueError):
    """libopus refused a packet (corrupt or not opus); the stream can go on."""


class OpusUnavailable(RuntimeError):
    """No libopus shared library was found (neither the system's nor PyAV's)."""


def _load_libopus() -> ctypes.CDLL:
    # The system's libopus0 if installed; otherwise the copy PyAV's wheel bundles for its
    # own FFmpeg (av.libs/libopus-<hash>.so.0), which is always there when av is.
    candidates = [ctypes.util.find_library("opus")]
    import av

    av_libs = os.path.join(os.path.dirname(os.path.dirname(av.__file__)), "av.libs")
    candidates += sorted(glob.glob(os.path.join(av_libs, "libopus*.so*")))
    for path in candidates:
        if path:
            try:
                library = ctypes.CDLL(path)
            except OSError:
                continue
            _declare(library)
            return library
    raise OpusUnavailable("libopus not found: install the system's libopus0, or PyAV built with libopus")


def _declare(library: ctypes.CDLL) -> None:
    library.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    library.opus_decoder_create.restype = ctypes.c_void_p
    library.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
    library.opus_decoder_destroy.restype = None
    library.opus_decode.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_int32,
        ctypes.POINTER(ctypes.c_int16),
        ctypes.c_int,
        ctypes.c_int,
    ]
    library.opus_decode.restype = ctypes.c_int
    library.opus_packet_get_nb_samples.argtypes = [ctypes.c_char_p, ctypes.c_int32, ctypes.c_int32]
    library.opus_packet_get_nb_samples.restype = ctypes.c_int
    library.opus_strerror.argtypes = [ctypes.c_int]
    library.opus_strerror.restype = ctypes.c_char_p


_libopus: ctypes.CDLL | None = None


def libopus() -> ctypes.CDLL:
    global _libopus
    if _libopus is None:
        _libopus = _load_libopus()
    return _libopus


class OpusToPcmu:
    """One opus stream (one RTP sender) to mu-law; libopus keeps state between packets."""

    def __init__(self) -> None:
        self._lib = libopus()
        error = ctypes.c_int()
        decoder = self._lib.opus_decoder_create(PCMU_RATE, 1, ctypes.byref(error))
        if error.value != _OPUS_OK or not decoder:
            raise OpusError(f"opus decoder not created: {self._strerror(error.value)}")
        self._decoder: int | None = decoder
        self._pcm = (ctypes.c_int16 * _MAX_SAMPLES)()
        self._samples = np.frombuffer(memoryview(self._pcm), dtype=np.int16)
        self._next_timestamp: int | None = None
        self.concealed_samples = 0  # samples rebuilt by FEC or PLC
        self.gaps = 0  # losses too long to conceal, left as gaps

    def decode(self, payload: bytes, timestamp: int) -> bytes:
        """The packet's audio as mu-law, after any concealed loss before it (RTP timestamp, 48 kHz)."""
        if self._decoder is None:
            raise OpusError("opus decoder is closed")
        lib = self._lib
        frame = lib.opus_packet_get_nb_samples(payload, len(payload), PCMU_RATE)
        if frame <= 0:
            raise OpusError(f"not an opus packet: {self._strerror(frame) if frame else 'it holds no audio'}")
        head = self._conceal(payload, timestamp, frame)
        decoded = lib.opus_decode(self._decoder, payload, len(payload), self._pcm, _MAX_SAMPLES, 0)
        if decoded < 0:
            raise OpusError(f"opus packet not decoded: {self._strerror(decoded)}")
        self._next_timestamp = (timestamp + decoded * _RTP_TICKS_PER_SAMPLE) & 0xFFFFFFFF
        pcmu = g711.encode(self._samples[:decoded]).tobytes()
        return head + pcmu if head else pcmu

    def _conceal(self, payload: bytes, timestamp: int, frame: int) -> bytes:
        expected = self._next_timestamp
        if expected is None:
            return b""
        missing = ((timestamp - expected) & 0xFFFFFFFF) // _RTP_TICKS_PER_SAMPLE
        if missing == 0 or missing >= 1 << 28:  # in step, or late/reordered (the jitter buffer let it through)
            return b""
        if missing > MAX_CONCEALED_SAMPLES:
            self.gaps += 1
            return b""
        missing -= missing % _PLC_STEP
        # libopus: for FEC and PLC, frame_size must be exactly the duration missing. The
        # packet's FEC rebuilds its predecessor (one frame of its own length); PLC the rest.
        fec = min(frame, missing)
        out = []
        if missing > fec:
            out.append(self._run(None, missing - fec, fec=False))
        if fec:
            out.append(self._run(payload, fec, fec=True))
        self.concealed_samples += missing
        return b"".join(out)

    def _run(self, payload: bytes | None, samples: int, fec: bool) -> bytes:
        decoded = self._lib.opus_decode(
            self._decoder, payload, len(payload) if payload else 0, self._pcm, samples, int(fec)
        )
        if decoded < 0:
            raise OpusError(f"opus loss concealment failed: {self._strerror(decoded)}")
        return g711.encode(self._samples[:decoded]).tobytes()

    def close(self) -> None:
        if self._decoder is not None:
            self._lib.opus_decoder_destroy(self._decoder)
            self._decoder = None

    def __del__(self) -> None:
        self.close()

    def _strerror(self, code: int) -> str:
        return self._lib.opus_strerror(code).decode("ascii", "replace")
