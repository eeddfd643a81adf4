"""Fuzz Fmp4Reader: mutated, truncated and random bytes only ever give events or Fmp4Error.

Mutations aim mostly at the box structure (moov and moof bytes), where a random flip in a
size, count, flag or offset reaches the parser's checks; flips in mdat payload only change
sample bytes. Limits are small so a hostile size is caught quickly and memory stays bounded.
"""

from __future__ import annotations

import re
import struct
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gateway.media.fmp4 import Fmp4Error, Fmp4Reader, Fragment
from gateway.media.fmp4.boxes import box, full_box, iter_boxes

if TYPE_CHECKING:
    from conftest import Fmp4Fixture

MAX_BOX = 256 << 10
MAX_BUFFER = 512 << 10
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def structure_positions(data: bytes) -> list[int]:
    """Offsets of every byte outside mdat payloads (box headers, moov, moof)."""
    positions: list[int] = []
    for header in iter_boxes(data):
        end = header.payload_offset if header.type == b"mdat" else header.end
        positions.extend(range(header.offset, end))
    return positions


def feed_everything(data: bytes, chunk_size: int) -> None:
    reader = Fmp4Reader(max_box_size=MAX_BOX, max_buffer=MAX_BUFFER)
    try:
        for offset in range(0, len(data), chunk_size):
            chunk = data[offset : offset + chunk_size]
            for item in reader.feed(chunk):
                if isinstance(item, Fragment):
                    assert len(item.samples) <= 1 << 16
            assert reader.buffered <= MAX_BUFFER + len(chunk)
        event("read to the end")
    except Fmp4Error as exc:
        message = str(exc)
        assert message and "\n" not in message
        event("Fmp4Error: " + re.sub(r"b'.*?'|b\".*?\"|-?\d+", "_", message)[:48])  # --hypothesis-show-statistics


@pytest.fixture(scope="module")
def seed(aac_fixture: Fmp4Fixture) -> tuple[bytes, list[int]]:
    # The init segment and the first fragments are enough to reach every parser branch.
    boxes = list(iter_boxes(aac_fixture.data))
    cut = boxes[min(6, len(boxes) - 1)].offset
    data = aac_fixture.data[:cut]
    return data, structure_positions(data)


@FUZZ
@given(
    picks=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8),
    chunk_size=st.sampled_from([1, 5, 64, 4096, 1 << 20]),
    truncate=st.none() | st.floats(0, 1),
)
def test_mutated_structure(seed: tuple[bytes, list[int]], picks, chunk_size: int, truncate) -> None:
    data, positions = seed
    mutated = bytearray(data)
    for where, value in picks:
        mutated[positions[int(where * len(positions))]] = value
    if truncate is not None:
        del mutated[int(truncate * len(mutated)) :]
    feed_everything(bytes(mutated), chunk_size)


@FUZZ
@given(
    start=st.floats(0, 1, exclude_max=True),
    length=st.integers(1, 64),
    insert=st.binary(max_size=64),
    chunk_size=st.sampled_from([7, 4096]),
)
def test_spliced_bytes(
    seed: tuple[bytes, list[int]], start: float, length: int, insert: bytes, chunk_size: int
) -> None:
    data, positions = seed
    at = positions[int(start * len(positions))]
    feed_everything(data[:at] + insert + data[at + length :], chunk_size)


@FUZZ
@given(data=st.binary(max_size=2048), chunk_size=st.sampled_from([1, 13, 4096]))
def test_random_bytes(data: bytes, chunk_size: int) -> None:
    feed_everything(data, chunk_size)


@FUZZ
@given(traf=st.binary(max_size=512), mdat=st.binary(max_size=256))
def test_random_traf_after_valid_init(seed: tuple[bytes, list[int]], traf: bytes, mdat: bytes) -> None:
    # Past the init segment, so random bytes reach the fragment parser.
    data, _ = seed
    init_end = next(header.offset for header in iter_boxes(data) if header.type == b"moof")
    moof = box(b"moof", full_box(b"mfhd", 0, 0, struct.pack(">I", 1)), box(b"traf", traf))
    feed_everything(data[:init_end] + moof + box(b"mdat", mdat), 64)


# Replaced by an offset into the generated mdat once the moof size is known.
_DATA_OFFSET_HERE = b"\xde\xad\xbe\xef"


def _traf(draw: st.DrawFn) -> bytes:
    # Every tfhd/trun flag combination, with field values from edge cases to random.
    tfhd_flags = draw(st.integers(0, 0x3F)) & draw(st.sampled_from([0x3E, 0x3E, 0x3F]))  # base-data-offset: rarely
    tfhd_flags |= draw(st.sampled_from([0, 0x010000, 0x020000]))
    fields = b"".join(
        draw(st.binary(min_size=width, max_size=width))
        for bit, width in ((0x01, 8), (0x02, 4), (0x08, 4), (0x10, 4), (0x20, 4))
        if tfhd_flags & bit
    )
    tfhd = full_box(b"tfhd", 0, tfhd_flags, struct.pack(">I", draw(st.sampled_from([1, 2, 1, 2, 3]))), fields)
    parts = [tfhd]
    if draw(st.booleans()):
        version = draw(st.integers(0, 1))
        parts.append(full_box(b"tfdt", version, 0, draw(st.binary(min_size=4 + 4 * version, max_size=8))))
    for _ in range(draw(st.integers(0, 3))):
        trun_flags = draw(st.sampled_from([0, 0x001, 0x004, 0x005])) | (draw(st.integers(0, 15)) << 8)
        head = b"".join(
            draw(st.binary(min_size=4, max_size=4) | st.sampled_from([bytes(4), _DATA_OFFSET_HERE, _DATA_OFFSET_HERE]))
            for bit in (0x001, 0x004)
            if trun_flags & bit
        )
        if draw(st.integers(0, 3)):  # mostly well-formed entries with small sizes, so samples come out
            count = draw(st.integers(0, 12))
            entry = [
                st.integers(0, 20) if bit == 0x200 else st.integers(0, (1 << 32) - 1)
                for bit in (0x100, 0x200, 0x400, 0x800)
                if trun_flags & bit
            ]
            entries = b"".join(struct.pack(">I", draw(field)) for _ in range(count) for field in entry)
        else:
            count = draw(st.sampled_from([0xFFFF, 0x10001, 0xFFFFFFFF]) | st.integers(0, 40))
            entries = draw(st.binary(max_size=160))
        parts.append(full_box(b"trun", draw(st.integers(0, 1)), trun_flags, struct.pack(">I", count), head, entries))
    return box(b"traf", *parts)


@st.composite
def _fragment(draw: st.DrawFn) -> bytes:
    trafs = [_traf(draw) for _ in range(draw(st.integers(1, 3)))]
    moof = box(b"moof", full_box(b"mfhd", 0, 0, struct.pack(">I", 1)), *trafs)
    while _DATA_OFFSET_HERE in moof:
        moof = moof.replace(_DATA_OFFSET_HERE, struct.pack(">i", len(moof) + 8 + draw(st.integers(0, 40))), 1)
    return moof + box(b"mdat", draw(st.binary(min_size=200, max_size=300)))


@FUZZ
@given(fragments=st.lists(_fragment(), min_size=1, max_size=3), chunk_size=st.sampled_from([3, 4096]))
def test_generated_fragments(seed: tuple[bytes, list[int]], fragments: list[bytes], chunk_size: int) -> None:
    data, _ = seed
    init_end = next(header.offset for header in iter_boxes(data) if header.type == b"moof")
    feed_everything(data[:init_end] + b"".join(fragments), chunk_size)
