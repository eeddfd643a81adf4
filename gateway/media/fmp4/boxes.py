"""ISO BMFF box headers: the one place that knows how a box starts (ISO/IEC 14496-12 4.2).

Sans-IO: bytes in, headers out. Everything that walks boxes (the fMP4 reader, the
emulator's timestamp rewriter) goes through `parse_box_header` / `iter_boxes` so the size
checks live in one place.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

# A box larger than this is treated as corrupt input: no camera fragment or init segment
# comes near it, and it keeps a hostile stream from making us buffer without bound.
MAX_BOX_SIZE = 64 * 1024 * 1024

# Boxes whose payload is a sequence of child boxes (only the ones we descend into).
CONTAINER_BOXES = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"mvex", b"moof", b"traf", b"edts", b"dinf"})


_PRINTABLE = bytes(range(0x20, 0x7F))


class BoxError(ValueError):
    """The bytes are not a well-formed box stream (corrupt, truncated or hostile)."""


@dataclass(frozen=True, slots=True)
class BoxHeader:
    type: bytes
    offset: int  # where the box starts in the buffer
    header_size: int  # 8, or 16 for a 64-bit `largesize`
    size: int  # whole box, header included

    @property
    def payload_offset(self) -> int:
        return self.offset + self.header_size

    @property
    def end(self) -> int:
        return self.offset + self.size


def parse_box_header(
    buf: bytes | bytearray | memoryview, offset: int = 0, max_size: int = MAX_BOX_SIZE
) -> BoxHeader | None:
    """Header of the box at `offset`, or None when fewer bytes than the header are there.

    Raises BoxError on a size that cannot be right: smaller than its header, larger than
    `max_size`, or size 0 ("to end of file"), which a live stream never ends.
    """
    available = len(buf) - offset
    if available < 8:
        return None
    size, box_type = struct.unpack_from(">I4s", buf, offset)
    header_size = 8
    if size == 1:
        if available < 16:
            return None
        (size,) = struct.unpack_from(">Q", buf, offset + 8)
        header_size = 16
    elif size == 0:
        raise BoxError(f"box {box_type!r} at {offset} has size 0 (to end of stream), not allowed here")
    if size < header_size:
        raise BoxError(f"box {box_type!r} at {offset} declares size {size}, smaller than its header")
    if size > max_size:
        raise BoxError(f"box {box_type!r} at {offset} declares size {size}, over the limit of {max_size}")
    if box_type.translate(None, _PRINTABLE):  # anything left over is not printable ASCII
        raise BoxError(f"box type {box_type!r} at {offset} is not printable: not a box stream")
    return BoxHeader(box_type, offset, header_size, size)


def iter_boxes(buf: bytes | bytearray | memoryview, start: int = 0, end: int | None = None) -> Iterator[BoxHeader]:
    """The complete boxes laid end to end in buf[start:end]; a truncated tail is an error."""
    end = len(buf) if end is None else end
    region = memoryview(buf)[:end]  # a view, so walking a large buffer copies nothing
    offset = start
    while offset < end:
        header = parse_box_header(region, offset)
        if header is None or header.end > end:
            raise BoxError(f"truncated box at {offset} (region ends at {end})")
        yield header
        offset = header.end


def find_box(
    buf: bytes | bytearray | memoryview, path: list[bytes], start: int = 0, end: int | None = None
) -> BoxHeader | None:
    """The first box at `path` (e.g. [b"moof", b"traf", b"tfdt"]) below buf[start:end]."""
    first, rest = path[0], path[1:]
    for header in iter_boxes(buf, start, end):
        if header.type != first:
            continue
        if not rest:
            return header
        return find_box(buf, rest, header.payload_offset, header.end)
    return None


class Fmp4Error(BoxError):
    """An fMP4 stream that cannot be read: corrupt, truncated, hostile or out of order."""


def box(box_type: bytes, *payload: bytes) -> bytes:
    """A box with a 32-bit size around the given payload parts."""
    size = 8 + sum(len(part) for part in payload)
    return b"".join((struct.pack(">I4s", size, box_type), *payload))


def full_box(box_type: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    """A FullBox (ISO/IEC 14496-12 4.2): version and 24-bit flags before the payload."""
    return box(box_type, struct.pack(">I", (version << 24) | flags), *payload)
