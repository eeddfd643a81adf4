"""An encoded fMP4 loop split into its init segment and fragments, re-stamped per send.

Sans-IO. The loop is encoded once at start-up; serving it forever only needs each
fragment's decode time (`tfdt`, ISO/IEC 14496-12 8.8.12) and sequence number (`mfhd`,
8.8.5) rewritten so timestamps keep increasing across the loop point. The offsets of
those two fields are found once here, so a send is one copy and two `pack_into`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

from gateway.media.fmp4.boxes import find_box, iter_boxes

# ISO/IEC 14496-12 8.8.3.1 sample_flags: sample_is_non_sync_sample bit.
_NON_SYNC = 0x00010000


class LoopError(ValueError):
    """The encoded loop is not the fragmented MP4 the emulator expects."""


@dataclass(frozen=True, slots=True)
class LoopFragment:
    """One moof+mdat of the loop, with where its time and number live."""

    data: bytes
    start: int  # decode time within the loop, in timescale ticks
    duration: int  # ticks covered by its samples
    keyframe: bool  # starts with a sync sample: a reader may begin here
    seq_offset: int  # offset of mfhd.sequence_number in `data`
    tfdt_offset: int  # offset of tfdt.baseMediaDecodeTime in `data`
    tfdt_wide: bool  # tfdt version 1 (64-bit)
    samples: int
    duration_offsets: tuple[int, ...]  # where sample durations are written (tfhd or trun)

    def stamped(self, decode_time: int, sequence_number: int) -> bytes:
        """The fragment bytes with a new baseMediaDecodeTime and sequence number."""
        out = bytearray(self.data)
        struct.pack_into(">I", out, self.seq_offset, sequence_number & 0xFFFFFFFF)
        if self.tfdt_wide:
            struct.pack_into(">Q", out, self.tfdt_offset, decode_time)
        else:
            if decode_time > 0xFFFFFFFF:
                raise LoopError(f"decode time {decode_time} does not fit a version 0 tfdt")
            struct.pack_into(">I", out, self.tfdt_offset, decode_time)
        return bytes(out)


@dataclass(frozen=True, slots=True)
class VideoLoop:
    init: bytes  # ftyp + moov
    fragments: tuple[LoopFragment, ...]
    timescale: int  # mdhd timescale of the (single) track
    loop_ticks: int  # duration of one pass of the loop
    track_id: int = 1  # tkhd track_ID: what a prft names as its reference track


def _trex_defaults(buf: bytes, moov_start: int, moov_end: int) -> tuple[int, int]:
    trex = find_box(buf, [b"mvex", b"trex"], moov_start, moov_end)
    if trex is None:
        return 0, 0
    # version/flags, track_ID, description index, duration, size, flags (8.8.3.1)
    _, _, _, duration, _, flags = struct.unpack_from(">IIIIII", buf, trex.payload_offset)
    return duration, flags


def _track_id(buf: bytes, moov_start: int, moov_end: int) -> int:
    tkhd = find_box(buf, [b"trak", b"tkhd"], moov_start, moov_end)
    if tkhd is None:
        raise LoopError("init segment has no trak/tkhd")
    version = buf[tkhd.payload_offset]
    return struct.unpack_from(">I", buf, tkhd.payload_offset + 4 + (16 if version == 1 else 8))[0]


def _timescale(buf: bytes, moov_start: int, moov_end: int) -> int:
    mdhd = find_box(buf, [b"trak", b"mdia", b"mdhd"], moov_start, moov_end)
    if mdhd is None:
        raise LoopError("init segment has no trak/mdia/mdhd")
    version = buf[mdhd.payload_offset]
    pos = mdhd.payload_offset + 4 + (16 if version == 1 else 8)
    return struct.unpack_from(">I", buf, pos)[0]


def _fragment(buf: bytes, moof, mdat_end: int, trex: tuple[int, int]) -> LoopFragment:
    mfhd = find_box(buf, [b"mfhd"], moof.payload_offset, moof.end)
    tfhd = find_box(buf, [b"traf", b"tfhd"], moof.payload_offset, moof.end)
    tfdt = find_box(buf, [b"traf", b"tfdt"], moof.payload_offset, moof.end)
    trun = find_box(buf, [b"traf", b"trun"], moof.payload_offset, moof.end)
    if mfhd is None or tfhd is None or tfdt is None or trun is None:
        raise LoopError(f"moof at {moof.offset} lacks mfhd, tfhd, tfdt or trun")
    default_duration, default_flags = trex
    (tf_flags,) = struct.unpack_from(">I", buf, tfhd.payload_offset)
    tf_flags &= 0xFFFFFF
    pos = tfhd.payload_offset + 8  # after version/flags and track_ID
    if tf_flags & 0x01:
        pos += 8  # base_data_offset
    if tf_flags & 0x02:
        pos += 4  # sample_description_index
    duration_offsets: list[int] = []
    if tf_flags & 0x08:
        (default_duration,) = struct.unpack_from(">I", buf, pos)
        default_duration_at = pos
        pos += 4
    if tf_flags & 0x10:
        pos += 4  # default_sample_size
    if tf_flags & 0x20:
        (default_flags,) = struct.unpack_from(">I", buf, pos)

    (tr_flags,) = struct.unpack_from(">I", buf, trun.payload_offset)
    tr_flags &= 0xFFFFFF
    (count,) = struct.unpack_from(">I", buf, trun.payload_offset + 4)
    pos = trun.payload_offset + 8
    if tr_flags & 0x01:
        pos += 4  # data_offset
    first_flags = None
    if tr_flags & 0x04:
        (first_flags,) = struct.unpack_from(">I", buf, pos)
        pos += 4
    duration = 0
    for i in range(count):
        sample_duration, sample_flags = default_duration, default_flags
        if tr_flags & 0x100:
            (sample_duration,) = struct.unpack_from(">I", buf, pos)
            duration_offsets.append(pos - moof.offset)
            pos += 4
        if tr_flags & 0x200:
            pos += 4
        if tr_flags & 0x400:
            (sample_flags,) = struct.unpack_from(">I", buf, pos)
            pos += 4
        if tr_flags & 0x800:
            pos += 4
        if i == 0 and first_flags is not None:
            sample_flags = first_flags
        if i == 0:
            keyframe = not sample_flags & _NON_SYNC
        duration += sample_duration
    if count == 0:
        raise LoopError(f"moof at {moof.offset} has an empty trun")
    if not tr_flags & 0x100 and tf_flags & 0x08:
        duration_offsets.append(default_duration_at - moof.offset)

    wide = buf[tfdt.payload_offset] == 1
    value_at = tfdt.payload_offset + 4
    start = struct.unpack_from(">Q" if wide else ">I", buf, value_at)[0]
    return LoopFragment(
        data=bytes(buf[moof.offset : mdat_end]),
        start=start,
        duration=duration,
        keyframe=keyframe,
        seq_offset=mfhd.payload_offset + 4 - moof.offset,
        tfdt_offset=value_at - moof.offset,
        tfdt_wide=wide,
        samples=count,
        duration_offsets=tuple(duration_offsets),
    )


def _with_sample_duration(frag: LoopFragment, ticks: int) -> LoopFragment:
    """The fragment with every sample lasting `ticks` (constant frame rate loops only)."""
    if not frag.duration_offsets:
        raise LoopError("cannot fix the last fragment's duration: it uses trex defaults")
    out = bytearray(frag.data)
    for at in frag.duration_offsets:
        struct.pack_into(">I", out, at, ticks)
    return replace(frag, data=bytes(out), duration=ticks * frag.samples)


def split_loop(buf: bytes) -> VideoLoop:
    """Split a single-track fragmented MP4 into init and fragments (trailing mfra dropped)."""
    boxes = list(iter_boxes(buf))
    moov = next((b for b in boxes if b.type == b"moov"), None)
    if moov is None:
        raise LoopError("no moov box: not an fMP4 init segment")
    init_end = moov.end
    trex = _trex_defaults(buf, moov.payload_offset, moov.end)
    fragments = []
    for i, box in enumerate(boxes):
        if box.type != b"moof":
            continue
        if i + 1 >= len(boxes) or boxes[i + 1].type != b"mdat":
            raise LoopError(f"moof at {box.offset} is not followed by mdat")
        fragments.append(_fragment(buf, box, boxes[i + 1].end, trex))
    if not fragments:
        raise LoopError("no fragments after the init segment")
    if not fragments[0].keyframe:
        raise LoopError("the loop does not start with a keyframe")
    base = fragments[0].start
    if base:
        fragments = [replace(f, start=f.start - base) for f in fragments]
    # FFmpeg's mov muxer gives the very last sample of a file a bogus duration (seen:
    # 400 s) whatever the packet said; the loop must close exactly one frame later,
    # or the decode times jump at the loop point.
    first = fragments[0]
    ticks = first.duration // first.samples
    last = fragments[-1]
    if last.duration != ticks * last.samples:
        last = fragments[-1] = _with_sample_duration(last, ticks)
    return VideoLoop(
        init=bytes(buf[:init_end]),
        fragments=tuple(fragments),
        timescale=_timescale(buf, moov.payload_offset, moov.end),
        loop_ticks=last.start + last.duration,
        track_id=_track_id(buf, moov.payload_offset, moov.end),
    )
