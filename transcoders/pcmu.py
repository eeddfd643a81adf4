"""Audio to PCMU (G.711 mu-law, 8 kHz mono) for the camera speaker (WEP POST /media).

`PcmuEncoder` takes live frames (aiortc's microphone frames, any format/rate/layout);
`decode_audio_file` turns an uploaded WAV / Ogg (opus, vorbis, flac) / MP3 body into
20 ms PCMU chunks. Both are sans-IO and CPU-bound: call them off the event loop.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import av
import av.error
import numpy as np

from transcoders import g711

PCMU_RATE = 8000
CHUNK_SAMPLES = 160  # 20 ms at 8 kHz: the RTP/G.711 packet size the camera expects
# Containers accepted for uploads: what the talkdown route documents, and a small attack
# surface for FFmpeg demuxers facing untrusted bytes.
ACCEPTED_FORMATS = frozenset({"wav", "ogg", "mp3"})


class UnsupportedAudio(ValueError):
    """The uploaded body is not audio we can play (unknown format, garbage or damaged)."""


class PcmuEncoder:
    """Resamples any av.AudioFrame to 8 kHz mono s16 and mu-law encodes it."""

    def __init__(self) -> None:
        self._resampler: av.AudioResampler | None = None
        self._input: tuple[str, str, int] | None = None

    def encode(self, frame: av.AudioFrame) -> bytes:
        shape = (frame.format.name, frame.layout.name, frame.sample_rate)
        head = b""
        if shape != self._input:
            # AudioResampler is built for the first frame's shape and rejects any other;
            # a peer may renegotiate (mono to stereo), so finish the old one and start anew.
            head = self.flush()
            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=PCMU_RATE)
            self._input = shape
        frame.pts = None  # the speaker plays samples as they come; no gap filling wanted
        assert self._resampler is not None
        return head + self._mulaw(self._resampler.resample(frame))

    def flush(self) -> bytes:
        """The samples the resampler still holds; encoding may continue afterwards."""
        if self._resampler is None:
            return b""
        tail = self._mulaw(self._resampler.resample(None))
        self._resampler = None
        self._input = None
        return tail

    @staticmethod
    def _mulaw(frames: list[av.AudioFrame]) -> bytes:
        return b"".join(g711.encode(frame.to_ndarray().reshape(-1)).tobytes() for frame in frames)


def decode_audio_file(data: bytes, max_seconds: float) -> Iterator[bytes]:
    """20 ms PCMU chunks (160 bytes; the last one padded with mu-law silence) of an upload.

    All or nothing: the file is decoded in full before this returns, so a damaged one
    raises UnsupportedAudio before a single chunk reaches the speaker. Damaged means FFmpeg
    reports a demux or decode error (a truncated Ogg fails already at open), or the audio
    ends well short of the duration the header declares (a cut MP3, an Ogg with a broken
    page: FFmpeg stops there without an error). A cut the header cannot reveal (WAV, whose
    length FFmpeg takes from the file size) plays what it holds. Audio past `max_seconds`
    is dropped (WEP caps a POST /media at 120 s); decoding stops there, which also bounds
    the work a small compressed bomb can cause.
    """
    pcmu = _decode_to_pcmu(data, max_seconds)
    if len(pcmu) % CHUNK_SAMPLES:
        pcmu += bytes([g711.encode(np.zeros(1, np.int16))[0]]) * (CHUNK_SAMPLES - len(pcmu) % CHUNK_SAMPLES)
    return (pcmu[i : i + CHUNK_SAMPLES] for i in range(0, len(pcmu), CHUNK_SAMPLES))


def _decode_to_pcmu(data: bytes, max_seconds: float) -> bytes:
    limit = int(max_seconds * PCMU_RATE)
    try:
        container = av.open(io.BytesIO(data), "r")
    except EOFError:  # av.error.EOFError: the demuxer looked for data past the end
        raise UnsupportedAudio("truncated audio file: it ends inside its own headers") from None
    except (av.error.FFmpegError, ValueError) as exc:
        raise UnsupportedAudio(f"not a recognised audio file: {exc.__class__.__name__}") from None
    with container:
        names = set(container.format.name.split(","))
        if not names & ACCEPTED_FORMATS:
            raise UnsupportedAudio(f"audio format {container.format.name!r} not accepted (wav, ogg, mp3)")
        if not container.streams.audio:
            raise UnsupportedAudio("the file has no audio stream")
        stream = container.streams.audio[0]
        stream.codec_context.options = {"err_detect": "crccheck+bitstream+buffer+explode"}
        declared = _declared_seconds(container, stream)
        encoder = PcmuEncoder()
        chunks: list[bytes] = []
        total = 0
        try:
            for packet in container.demux(stream):
                for frame in packet.decode():
                    chunks.append(encoder.encode(frame))
                    total += len(chunks[-1])
                if total >= limit:
                    break
            else:
                chunks.append(encoder.flush())
        except (av.error.FFmpegError, ValueError) as exc:
            raise UnsupportedAudio(f"damaged audio file: {exc.__class__.__name__}") from None
    pcmu = b"".join(chunks)
    if not pcmu:
        raise UnsupportedAudio("the file decodes to no audio")
    decoded = len(pcmu) / PCMU_RATE
    if len(pcmu) < limit and declared is not None and decoded < declared * 0.95 - 0.1:
        raise UnsupportedAudio(f"damaged or truncated audio file: {decoded:.2f} s of the {declared:.2f} s it declares")
    return pcmu[:limit]


def _declared_seconds(container: av.container.InputContainer, stream: av.audio.AudioStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # AV_TIME_BASE
    return None
