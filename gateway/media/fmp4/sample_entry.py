"""stsd sample entries: avc1/avc3, mp4a and Opus, read into TrackInfo and written from it.

References: ISO/IEC 14496-12 8.5.2 (sample entries, 12.1.3 visual, 12.2.3 audio),
14496-15 5.4.2 (avc1 + avcC), 14496-14 5.6 and 14496-1 7.2.6 (esds descriptors),
"Encapsulation of Opus in ISO Base Media File Format" 4.3 (Opus + dOps).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .. import h264
from .boxes import Fmp4Error, box, full_box, iter_boxes

VIDEO_ENTRIES = frozenset({b"avc1", b"avc3"})
_VISUAL_ENTRY_SIZE = 78  # 14496-12 12.1.3.2, after the box header
_AUDIO_ENTRY_SIZE = 28  # 14496-12 12.2.3.2, after the box header
# 14496-3 1.6.3.4 samplingFrequencyIndex
_AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)


@dataclass(frozen=True, slots=True)
class EntryInfo:
    """What a sample entry tells about its track (the rest comes from tkhd/mdhd/hdlr)."""

    codec: str
    width: int = 0
    height: int = 0
    sample_rate: int = 0
    channels: int = 0
    codec_config: bytes = b""


def parse_sample_entry(buf: memoryview, entry_type: bytes, start: int, end: int) -> EntryInfo:
    """The entry whose payload is buf[start:end]; unknown codecs give just their 4CC."""
    try:
        if entry_type in VIDEO_ENTRIES:
            return _parse_visual(buf, entry_type, start, end)
        if entry_type in (b"mp4a", b"Opus"):
            return _parse_audio(buf, entry_type, start, end)
    except h264.H264Error as exc:
        raise Fmp4Error(f"{entry_type.decode()} sample entry: {exc}") from None
    return EntryInfo(codec=entry_type.decode("ascii", "replace").strip())


def _parse_visual(buf: memoryview, entry_type: bytes, start: int, end: int) -> EntryInfo:
    if end - start < _VISUAL_ENTRY_SIZE:
        raise Fmp4Error(f"{entry_type.decode()} sample entry is truncated")
    width, height = struct.unpack_from(">HH", buf, start + 24)
    for child in iter_boxes(buf, start + _VISUAL_ENTRY_SIZE, end):
        if child.type == b"avcC":
            record = buf[child.payload_offset : child.end].tobytes()
            config = h264.parse_avcc(record)
            codec = f"{entry_type.decode()}.{config.codec_string[5:]}"
            return EntryInfo(codec=codec, width=width, height=height, codec_config=record)
    raise Fmp4Error(f"{entry_type.decode()} sample entry has no avcC box")


def _parse_audio(buf: memoryview, entry_type: bytes, start: int, end: int) -> EntryInfo:
    if end - start < _AUDIO_ENTRY_SIZE:
        raise Fmp4Error(f"{entry_type.decode()} sample entry is truncated")
    (version,) = struct.unpack_from(">H", buf, start + 8)
    channels, _, _, _, rate = struct.unpack_from(">HHHHI", buf, start + 16)
    sample_rate = rate >> 16
    # QuickTime sound description v1/v2 (as some muxers write in mp4) add fields before children.
    children = start + _AUDIO_ENTRY_SIZE + {0: 0, 1: 16, 2: 36}.get(version, 0)
    for child in iter_boxes(buf, min(children, end), end):
        payload = buf[child.payload_offset : child.end].tobytes()
        if entry_type == b"mp4a" and child.type == b"esds":
            codec, config = parse_esds(payload)
            if config:
                rate_asc, channels_asc = _aac_rate_channels(config)
                sample_rate, channels = rate_asc or sample_rate, channels_asc or channels
            return EntryInfo(codec, sample_rate=sample_rate, channels=channels, codec_config=config)
        if entry_type == b"Opus" and child.type == b"dOps":
            if len(payload) < 11:
                raise Fmp4Error("dOps box is truncated")
            return EntryInfo("opus", sample_rate=sample_rate or 48000, channels=payload[1], codec_config=payload)
    raise Fmp4Error(f"{entry_type.decode()} sample entry has no {'esds' if entry_type == b'mp4a' else 'dOps'} box")


def parse_esds(payload: bytes) -> tuple[str, bytes]:
    """(RFC 6381 codec string, DecoderSpecificInfo) from an esds FullBox payload."""
    descriptors = _descriptors(payload, 4, len(payload))
    if 3 not in descriptors:
        raise Fmp4Error("esds has no ES_Descriptor")
    es_start, es_end = descriptors[3]
    if es_end - es_start < 3:
        raise Fmp4Error("esds ES_Descriptor is truncated")
    flags = payload[es_start + 2]
    offset = es_start + 3
    if flags & 0x80:  # streamDependenceFlag
        offset += 2
    if flags & 0x40:  # URL_Flag
        offset += 1 + (payload[offset] if offset < es_end else 0)
    if flags & 0x20:  # OCRstreamFlag
        offset += 2
    inner = _descriptors(payload, offset, es_end)
    if 4 not in inner:
        raise Fmp4Error("esds has no DecoderConfigDescriptor")
    dc_start, dc_end = inner[4]
    if dc_end - dc_start < 13:
        raise Fmp4Error("esds DecoderConfigDescriptor is truncated")
    object_type = payload[dc_start]
    config_span = _descriptors(payload, dc_start + 13, dc_end).get(5)
    config = payload[config_span[0] : config_span[1]] if config_span else b""
    if object_type == 0x40 and config:
        audio_object_type = config[0] >> 3
        if audio_object_type == 31 and len(config) > 1:
            audio_object_type = 32 + (((config[0] & 0x07) << 3) | (config[1] >> 5))
        return f"mp4a.40.{audio_object_type}", bytes(config)
    return f"mp4a.{object_type:02X}", bytes(config)


def _descriptors(payload: bytes, offset: int, end: int) -> dict[int, tuple[int, int]]:
    """tag -> (start, end) of the descriptors laid end to end in payload[offset:end]."""
    found: dict[int, tuple[int, int]] = {}
    while offset + 2 <= end:
        tag = payload[offset]
        size, offset = 0, offset + 1
        for _ in range(4):  # 14496-1 8.3.3: sizeOfInstance, 7 bits per byte
            if offset >= end:
                raise Fmp4Error("esds descriptor size is truncated")
            byte = payload[offset]
            offset += 1
            size = (size << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        if offset + size > end:
            raise Fmp4Error(f"esds descriptor tag {tag} of {size} bytes overruns its parent")
        found.setdefault(tag, (offset, offset + size))
        offset += size
    return found


def _aac_rate_channels(config: bytes) -> tuple[int, int]:
    """Sampling rate and channel count from an AudioSpecificConfig (14496-3 1.6.2.1)."""
    bits = int.from_bytes(config[:6].ljust(6, b"\x00"), "big")
    position = 48 - 5
    if (bits >> position) & 0x1F == 31:
        position -= 6
    position -= 4
    index = (bits >> position) & 0x0F
    if index == 15:
        position -= 24
        rate = (bits >> position) & 0xFFFFFF
    else:
        rate = _AAC_RATES[index] if index < len(_AAC_RATES) else 0
    position -= 4
    return rate, (bits >> position) & 0x0F


def build_sample_entry(
    kind: str, codec: str, width: int, height: int, sample_rate: int, channels: int, codec_config: bytes
) -> bytes:
    """The stsd entry for a track: avc1+avcC, mp4a+esds or Opus+dOps."""
    if kind == "video":
        if not codec.startswith(("avc1", "avc3")):
            raise ValueError(f"cannot write a sample entry for video codec {codec!r}")
        config = h264.parse_avcc(codec_config)
        if not (width and height) and config.sps:
            width, height = h264.sps_dimensions(config.sps[0])
        visual = struct.pack(
            ">6xH16xHHIIIH32sHh",
            1,  # data_reference_index
            width,
            height,
            0x00480000,
            0x00480000,  # 72 dpi
            0,
            1,  # frame_count
            b"",  # compressorname
            0x0018,  # depth
            -1,
        )
        return box(codec[:4].encode(), visual, box(b"avcC", codec_config))
    if kind != "audio":
        raise ValueError(f"track kind {kind!r} is neither video nor audio")
    if codec.startswith("mp4a"):
        entry_type, child = b"mp4a", build_esds(codec_config)
    elif codec == "opus":
        entry_type, child = b"Opus", box(b"dOps", codec_config or default_dops(channels, sample_rate))
        sample_rate = 48000  # Opus in ISOBMFF 4.3: the entry rate is always 48 kHz
    else:
        raise ValueError(f"cannot write a sample entry for audio codec {codec!r}")
    audio = struct.pack(">6xH8xHHHHI", 1, channels or 2, 16, 0, 0, (sample_rate << 16) if sample_rate < 65536 else 0)
    return box(entry_type, audio, child)


def build_esds(audio_specific_config: bytes) -> bytes:
    """esds with an MPEG-4 Audio DecoderConfigDescriptor (14496-14 5.6, 14496-1 7.2.6.5)."""
    specific = _descriptor(5, audio_specific_config)
    decoder_config = _descriptor(4, struct.pack(">BB3sII", 0x40, 0x15, b"\x00\x00\x00", 0, 0) + specific)
    sl_config = _descriptor(6, b"\x02")  # predefined: 2 (reserved for MP4)
    es = _descriptor(3, struct.pack(">HB", 0, 0) + decoder_config + sl_config)
    return full_box(b"esds", 0, 0, es)


def _descriptor(tag: int, payload: bytes) -> bytes:
    size = len(payload)
    if size >= 1 << 28:
        raise ValueError("descriptor too large")
    # Four 7-bit size bytes, as ffmpeg writes them; every reader accepts the long form.
    encoded = bytes(((size >> 21) & 0x7F | 0x80, (size >> 14) & 0x7F | 0x80, (size >> 7) & 0x7F | 0x80, size & 0x7F))
    return bytes((tag,)) + encoded + payload


def default_dops(channels: int, input_sample_rate: int, pre_skip: int = 312) -> bytes:
    """A dOps payload for mono/stereo Opus (mapping family 0)."""
    return struct.pack(">BBHIhB", 0, channels or 2, pre_skip, input_sample_rate or 48000, 0, 0)


def opus_head_to_dops(opus_head: bytes) -> bytes:
    """WebM/Ogg `OpusHead` (RFC 7845 5.1, little-endian) as a dOps payload (big-endian)."""
    if len(opus_head) < 19 or opus_head[:8] != b"OpusHead":
        raise Fmp4Error("not an OpusHead header")
    channels, pre_skip, rate, gain, family = struct.unpack_from("<BHIhB", opus_head, 9)
    dops = struct.pack(">BBHIhB", 0, channels, pre_skip, rate, gain, family)
    if family != 0:
        dops += opus_head[19 : 21 + channels]  # stream count, coupled count, channel mapping
    return dops
