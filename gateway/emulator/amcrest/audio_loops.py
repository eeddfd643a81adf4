"""Each channel's audio loop: the WEP emulator's tone as RTP payloads, encoded once with PyAV.

G.711 goes out in 20 ms packets (RFC 3551 4.5.14: 8 kHz, one octet per sample); AAC-LC as
one access unit per packet (RFC 3640 AAC-hbr). Encoding takes milliseconds, so it is
done at every start (in the start-up thread) without a disk cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from gateway.emulator.amcrest.rtp import aac_hbr_payload
from gateway.emulator.encode import tone

G711_RATE = 8000
G711_PACKET_SAMPLES = 160  # 20 ms
AAC_RATE = 16000  # what Amcrest/Dahua cameras use for AAC
AAC_FRAME = 1024  # AAC-LC samples per access unit


@dataclass(frozen=True, slots=True)
class AudioTrack:
    encoding: str  # SDP rtpmap name: "PCMA", "PCMU", "MPEG4-GENERIC"
    payload_type: int
    clock_rate: int
    channels: int
    packet_samples: int  # RTP timestamp step per packet
    fmtp: str | None
    payloads: tuple[bytes, ...]  # one loop of RTP payloads

    @property
    def rtpmap(self) -> str:
        """RFC 4566 6 rtpmap encoding: name/rate, plus /channels where the RTP payload
        format asks for it (RFC 3640 4.1 for MPEG4-GENERIC; RFC 3551 leaves it out for G.711)."""
        if self.encoding == "MPEG4-GENERIC":
            return f"{self.encoding}/{self.clock_rate}/{self.channels}"
        return f"{self.encoding}/{self.clock_rate}"


def audio_track(codec: str, channel_index: int, seconds: float) -> AudioTrack | None:
    if codec == "none":
        return None
    if codec in ("pcma", "pcmu"):
        return _g711(codec, channel_index, seconds)
    if codec == "aac":
        return _aac(channel_index, seconds)
    raise ValueError(f"unknown audio codec {codec!r}")


def _g711(codec: str, channel_index: int, seconds: float) -> AudioTrack:
    ctx = av.CodecContext.create("pcm_alaw" if codec == "pcma" else "pcm_mulaw", "w")
    ctx.sample_rate, ctx.layout, ctx.format = G711_RATE, "mono", "s16"
    ctx.time_base = Fraction(1, G711_RATE)
    samples = (tone(channel_index, seconds, G711_RATE) * 32767).astype(np.int16)
    frame = av.AudioFrame.from_ndarray(samples[None, :], format="s16", layout="mono")
    frame.sample_rate, frame.pts = G711_RATE, 0
    coded = b"".join(bytes(p) for p in [*ctx.encode(frame), *ctx.encode(None)])
    payloads = tuple(coded[i : i + G711_PACKET_SAMPLES] for i in range(0, len(coded), G711_PACKET_SAMPLES))
    if codec == "pcma":  # RFC 3551 table 4: static payload types 8 (PCMA) and 0 (PCMU)
        return AudioTrack("PCMA", 8, G711_RATE, 1, G711_PACKET_SAMPLES, None, payloads)
    return AudioTrack("PCMU", 0, G711_RATE, 1, G711_PACKET_SAMPLES, None, payloads)


def _aac(channel_index: int, seconds: float) -> AudioTrack:
    ctx = av.CodecContext.create("aac", "w")
    ctx.sample_rate, ctx.layout, ctx.format = AAC_RATE, "mono", "fltp"
    ctx.bit_rate = 32000
    ctx.time_base = Fraction(1, AAC_RATE)
    samples = tone(channel_index, seconds, AAC_RATE)
    packets = []
    for start in range(0, len(samples) - AAC_FRAME + 1, AAC_FRAME):
        frame = av.AudioFrame.from_ndarray(samples[None, start : start + AAC_FRAME], format="fltp", layout="mono")
        frame.sample_rate, frame.pts = AAC_RATE, start
        packets += ctx.encode(frame)
    packets += ctx.encode(None)
    # RFC 3640 3.3.6 with the AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1) in hex;
    # profile-level-id 1 is what Dahua cameras announce.
    config = bytes(ctx.extradata or b"").hex() or _audio_specific_config(AAC_RATE, 1).hex()
    fmtp = ("streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;"
            f"config={config}")  # fmt: skip
    payloads = tuple(aac_hbr_payload(bytes(p)) for p in packets)
    return AudioTrack("MPEG4-GENERIC", 97, AAC_RATE, 1, AAC_FRAME, fmtp, payloads)


def _audio_specific_config(rate: int, channels: int) -> bytes:
    """AAC-LC (object type 2), the sampling frequency index, the channel configuration."""
    index = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000).index(rate)
    value = (2 << 11) | (index << 7) | (channels << 3)
    return value.to_bytes(2, "big")
