"""An encoded live webm (opus) loop: header once, clusters re-stamped per send.

Sans-IO. Matroska/EBML (RFC 8794, Matroska spec): the header (EBML + Segment of
unknown size + Info + Tracks) is sent once; each Cluster carries an absolute Timestamp
element (ID 0xE7) and SimpleBlocks with 16-bit timestamps relative to it. Clusters are
rebuilt at start-up with an 8-byte Timestamp so a send patches it in place; block-
relative timestamps need no change. Timestamps are in milliseconds (the muxer's default
TimestampScale of 1,000,000 ns).
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass

EBML_ID = 0x1A45DFA3
SEGMENT_ID = 0x18538067
CLUSTER_ID = 0x1F43B675
TIMESTAMP_ID = 0xE7
SIMPLEBLOCK_ID = 0xA3


class WebmError(ValueError):
    """The encoded bytes are not the live webm the emulator expects."""


@dataclass(frozen=True, slots=True)
class LoopCluster:
    data: bytes  # the whole Cluster, Timestamp at a fixed place
    start: int  # ms within the loop
    duration: int  # ms
    keyframe: bool = True  # every opus packet is a random access point
    timestamp_offset: int = 0

    def stamped(self, timestamp_ms: int) -> bytes:
        out = bytearray(self.data)
        struct.pack_into(">Q", out, self.timestamp_offset, timestamp_ms)
        return bytes(out)


@dataclass(frozen=True, slots=True)
class WebmLoop:
    header: bytes
    clusters: tuple[LoopCluster, ...]
    timescale: int  # ticks per second of `start`/`duration`: 1000
    loop_ticks: int

    @property
    def fragments(self) -> tuple[LoopCluster, ...]:
        return self.clusters


def _read_id(buf: bytes, pos: int) -> tuple[int, int]:
    first = buf[pos]
    length = 1
    while length <= 4 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 4:
        raise WebmError(f"invalid element ID at {pos}")
    return int.from_bytes(buf[pos : pos + length], "big"), length


def _read_size(buf: bytes, pos: int) -> tuple[int | None, int]:
    first = buf[pos]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8:
        raise WebmError(f"invalid element size at {pos}")
    value = first & ((0x80 >> (length - 1)) - 1)
    for b in buf[pos + 1 : pos + length]:
        value = (value << 8) | b
    unknown = value == (1 << (7 * length)) - 1
    return (None if unknown else value), length


def _elements(buf: bytes, start: int, end: int):
    pos = start
    while pos < end:
        eid, il = _read_id(buf, pos)
        size, sl = _read_size(buf, pos + il)
        if size is None:
            raise WebmError(f"element {eid:#x} at {pos} has unknown size inside a sized parent")
        body = pos + il + sl
        if body + size > end:
            raise WebmError(f"element {eid:#x} at {pos} runs past its parent")
        yield eid, pos, body, body + size
        pos = body + size


def _rebuild_cluster(buf: bytes, body: int, end: int) -> tuple[int, list[int], bytes]:
    """(timestamp, block timestamps, new cluster bytes with an 8-byte Timestamp)."""
    timestamp = None
    blocks: list[bytes] = []
    block_times: list[int] = []
    for eid, pos, ebody, eend in _elements(buf, body, end):
        if eid == TIMESTAMP_ID:
            timestamp = int.from_bytes(buf[ebody:eend], "big")
        elif eid == SIMPLEBLOCK_ID:
            _, tl = _read_size(buf, ebody)  # track number is a vint
            (relative,) = struct.unpack_from(">h", buf, ebody + tl)
            block_times.append(relative)
            blocks.append(buf[pos:eend])
        # BlockGroups (the muxer's final block, with DiscardPadding) are left out:
        # trimming samples at the end of each pass would put a hole in a live stream.
    if timestamp is None:
        raise WebmError(f"cluster at {body} has no Timestamp")
    payload = bytes([TIMESTAMP_ID, 0x88]) + bytes(8) + b"".join(blocks)
    size = (0x01 << 56 | len(payload)).to_bytes(8, "big")  # 8-byte size vint
    cluster = CLUSTER_ID.to_bytes(4, "big") + size + payload
    return timestamp, [timestamp + t for t in block_times], cluster


def split_webm(buf: bytes) -> WebmLoop:
    eid, il = _read_id(buf, 0)
    if eid != EBML_ID:
        raise WebmError("not an EBML stream")
    size, sl = _read_size(buf, il)
    seg_pos = il + sl + (size or 0)
    eid, il = _read_id(buf, seg_pos)
    if eid != SEGMENT_ID:
        raise WebmError("no Segment after the EBML header")
    seg_size, sl = _read_size(buf, seg_pos + il)
    seg_end = len(buf) if seg_size is None else seg_pos + il + sl + seg_size
    header_end = None
    raw: list[tuple[int, list[int], bytes]] = []
    for eid, pos, body, end in _elements(buf, seg_pos + il + sl, seg_end):
        if eid == CLUSTER_ID:
            header_end = pos if header_end is None else header_end
            rebuilt = _rebuild_cluster(buf, body, end)
            if rebuilt[1]:
                raw.append(rebuilt)
    if header_end is None or not raw:
        raise WebmError("no clusters with blocks")
    times = [t for _, blocks, _ in raw for t in blocks]
    gaps = sorted(b - a for a, b in itertools.pairwise(times))
    frame_ms = gaps[len(gaps) // 2] if gaps else 20
    origin = raw[0][0]
    clusters = []
    for i, (ts, blocks, data) in enumerate(raw):
        next_start = raw[i + 1][0] if i + 1 < len(raw) else blocks[-1] + frame_ms
        clusters.append(LoopCluster(data, ts - origin, next_start - ts, True, 4 + 8 + 2))
    header = bytes(buf[:header_end])
    # Segment of unknown size (a live stream has no end): all-ones 8-byte vint.
    if seg_size is not None:
        header = header[: seg_pos + il] + b"\x01\xff\xff\xff\xff\xff\xff\xff" + header[seg_pos + il + sl :]
    last = clusters[-1]
    return WebmLoop(header, tuple(clusters), 1000, last.start + last.duration)
