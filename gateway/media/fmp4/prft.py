"""The Producer Reference Time box (`prft`, ISO/IEC 14496-12 8.16.5): the camera's clock.

A `prft` before a moof ties a media time of its reference track to a UTC instant in NTP
format. It is how an fMP4 stream says when its pictures were taken, as opposed to when
they reached us: the reader stamps every sample that follows it with `captured_at` (Unix
seconds), and HLS's EXT-X-PROGRAM-DATE-TIME comes from that (gateway/hls/segmenter.py).
The last `prft` keeps applying to later fragments until another one comes, so an
upstream may send one per fragment or one per GOP.

`flags` say which instant it is: 0 the frame entered the encoder (a camera's capture),
1 it left it, 2 and 4 the fragment was finalised or written; 24 (the 2022 edition's
"captured") is the capture again. All are the producer's clock, which is what matters for
the date of a picture; 2 and 4 run late by the packaging delay. Sans-IO.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, replace

from .boxes import BoxError, full_box
from .model import Fragment

# Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01), RFC 5905 6.
NTP_UNIX_OFFSET = 2_208_988_800


@dataclass(frozen=True, slots=True)
class ProducerTime:
    reference_track_id: int
    unix_time: float  # the instant media_time was taken, Unix seconds
    media_time: int  # in the reference track's timescale
    flags: int = 0


def parse_prft(payload: bytes | memoryview) -> ProducerTime:
    """A prft box's payload (after the 8-byte box header)."""
    if len(payload) < 4:
        raise BoxError("prft box is truncated")
    version_flags = struct.unpack_from(">I", payload, 0)[0]
    version, flags = version_flags >> 24, version_flags & 0xFFFFFF
    layout = ">IQQ" if version == 1 else ">IQI"
    if len(payload) < 4 + struct.calcsize(layout):
        raise BoxError(f"prft box version {version} is truncated")
    track_id, ntp, media_time = struct.unpack_from(layout, payload, 4)
    unix_time = (ntp >> 32) - NTP_UNIX_OFFSET + (ntp & 0xFFFFFFFF) / 2**32
    return ProducerTime(track_id, unix_time, media_time, flags)


def write_prft(track_id: int, unix_time: float, media_time: int, flags: int = 0) -> bytes:
    """A version 1 prft box (64-bit media time)."""
    seconds = int(unix_time // 1)
    fraction = min(round((unix_time - seconds) * 2**32), 2**32 - 1)
    ntp = ((seconds + NTP_UNIX_OFFSET) << 32) | fraction
    return full_box(b"prft", 1, flags, struct.pack(">IQQ", track_id, ntp, media_time))


def stamp(fragment: Fragment, producer: ProducerTime, timescales: Mapping[int, int]) -> Fragment:
    """The fragment with each sample's `captured_at`: the producer's instant plus the
    sample's presentation time past `media_time` (tracks share one presentation timeline).
    A prft naming a track the movie lacks says nothing usable: the fragment as it is."""
    reference = timescales.get(producer.reference_track_id)
    if not reference:
        return fragment
    origin = producer.unix_time - producer.media_time / reference
    samples = tuple(
        replace(
            sample, captured_at=origin + (sample.decode_time + sample.composition_offset) / timescales[sample.track_id]
        )
        if sample.track_id in timescales
        else sample
        for sample in fragment.samples
    )
    return replace(fragment, samples=samples)
