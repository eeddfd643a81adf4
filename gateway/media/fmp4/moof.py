"""One moof and its mdat read into samples (ISO/IEC 14496-12 8.8.4-8.8.12).

The hot path of the gateway: it runs for every fragment of every camera. Per-sample
fields are unpacked in one struct call per trun and sliced into columns, so the only
per-sample Python objects are the Sample and its bytes.
"""

from __future__ import annotations

import struct
from itertools import repeat
from typing import Any

from .boxes import BoxHeader, Fmp4Error, iter_boxes
from .model import Fragment, Sample
from .moov import Movie, TrackDefaults

# A fragment holds a GOP at most (a few hundred samples); this bounds the work a hostile
# trun with tiny or zero-size samples can cause.
MAX_SAMPLES_PER_FRAGMENT = 1 << 16

# tfhd flags (8.8.7.1)
_BASE_DATA_OFFSET = 0x000001
_SAMPLE_DESCRIPTION_INDEX = 0x000002
_DEFAULT_DURATION = 0x000008
_DEFAULT_SIZE = 0x000010
_DEFAULT_FLAGS = 0x000020
_DEFAULT_BASE_IS_MOOF = 0x020000
_TFHD_OPTIONAL_FIELDS = (
    (_BASE_DATA_OFFSET, ">Q", 8),
    (_SAMPLE_DESCRIPTION_INDEX, ">I", 4),
    (_DEFAULT_DURATION, ">I", 4),
    (_DEFAULT_SIZE, ">I", 4),
    (_DEFAULT_FLAGS, ">I", 4),
)
# trun flags (8.8.8.1)
_DATA_OFFSET = 0x001
_FIRST_SAMPLE_FLAGS = 0x004
_SAMPLE_DURATION = 0x100
_SAMPLE_SIZE = 0x200
_SAMPLE_FLAGS = 0x400
_SAMPLE_CTS = 0x800
# sample flags (8.8.3.1): sample_is_non_sync_sample
NON_SYNC = 0x00010000


class FragmentParser:
    """Reads moof+mdat pairs for one movie; remembers where each track's time got to."""

    def __init__(self, movie: Movie) -> None:
        self._movie = movie
        self._track_ids = frozenset(track.track_id for track in movie.tracks)
        # tfdt is optional (8.8.12): without it a fragment continues where the last ended.
        self._next_decode_time: dict[int, int] = {}

    def parse(self, buf: memoryview, moof: BoxHeader, mdat: BoxHeader, stream_offset: int) -> Fragment:
        """buf holds moof..mdat; stream_offset is buf[0]'s position in the stream (for tfhd
        base-data-offset, which counts from the first byte this reader was fed)."""
        sequence_number = -1
        runs: list[tuple[int, list[Sample]]] = []
        total = 0
        data_end = moof.offset  # 8.8.7.1: base of a traf with neither flag is the end of the previous one
        for child in iter_boxes(buf, moof.payload_offset, moof.end):
            if child.type == b"mfhd":
                _require(child, 8)
                (sequence_number,) = struct.unpack_from(">I", buf, child.payload_offset + 4)
            elif child.type == b"traf":
                data_end, total = self._parse_traf(buf, child, moof, mdat, stream_offset, data_end, runs, total)
        if sequence_number < 0:
            raise Fmp4Error("moof has no mfhd box")
        if len(runs) == 1:
            samples = tuple(runs[0][1])
        else:
            runs.sort(key=lambda run: run[0])  # file order: where each run's data lies in mdat
            samples = tuple(sample for _, run in runs for sample in run)
        return Fragment(sequence_number, samples, mdat.end - moof.offset)

    def _parse_traf(
        self,
        buf: memoryview,
        traf: BoxHeader,
        moof: BoxHeader,
        mdat: BoxHeader,
        stream_offset: int,
        previous_end: int,
        runs: list[tuple[int, list[Sample]]],
        total: int,
    ) -> tuple[int, int]:
        tfhd = tfdt = None
        truns = []
        for child in iter_boxes(buf, traf.payload_offset, traf.end):
            if child.type == b"trun":
                truns.append(child)
            elif child.type == b"tfhd":
                tfhd = tfhd or child
            elif child.type == b"tfdt":
                tfdt = tfdt or child
        if tfhd is None:
            raise Fmp4Error("traf has no tfhd box")
        _require(tfhd, 8)
        (flags, track_id) = struct.unpack_from(">II", buf, tfhd.payload_offset)
        flags &= 0xFFFFFF
        if track_id not in self._track_ids:
            if track_id in self._movie.ignored_track_ids:
                return previous_end, total
            raise Fmp4Error(f"traf for track {track_id}, which the init segment does not have")
        trex = self._movie.defaults.get(track_id, TrackDefaults())
        duration, size, sample_flags = trex.duration, trex.size, trex.flags
        offset = tfhd.payload_offset + 8
        values = {}
        for flag, fmt, width in _TFHD_OPTIONAL_FIELDS:
            if flags & flag:
                _require(tfhd, offset + width - tfhd.payload_offset)
                (values[flag],) = struct.unpack_from(fmt, buf, offset)
                offset += width
        duration = values.get(_DEFAULT_DURATION, duration)
        size = values.get(_DEFAULT_SIZE, size)
        sample_flags = values.get(_DEFAULT_FLAGS, sample_flags)
        if _BASE_DATA_OFFSET in values:
            base = values[_BASE_DATA_OFFSET] - stream_offset
        elif flags & _DEFAULT_BASE_IS_MOOF:
            base = moof.offset
        else:
            base = previous_end

        if tfdt is not None:
            _require(tfdt, 8)
            version = buf[tfdt.payload_offset]
            if version == 1:
                _require(tfdt, 12)
            (decode_time,) = struct.unpack_from(">Q" if version == 1 else ">I", buf, tfdt.payload_offset + 4)
        else:
            decode_time = self._next_decode_time.get(track_id, 0)

        data_offset = base
        for trun in truns:
            run_start, data_offset, decode_time, samples = self._parse_trun(
                buf,
                trun,
                track_id,
                base,
                data_offset,
                decode_time,
                duration,
                size,
                sample_flags,
                mdat,
                MAX_SAMPLES_PER_FRAGMENT - total,
            )
            if samples:
                runs.append((run_start, samples))
                total += len(samples)
        self._next_decode_time[track_id] = decode_time
        return data_offset, total

    @staticmethod
    def _parse_trun(
        buf: memoryview,
        trun: BoxHeader,
        track_id: int,
        base: int,
        data_offset: int,
        decode_time: int,
        default_duration: int,
        default_size: int,
        default_flags: int,
        mdat: BoxHeader,
        budget: int,
    ) -> tuple[int, int, int, list[Sample]]:
        """(start and end of this run's data, decode time after it, samples)."""
        _require(trun, 8)
        start = trun.payload_offset
        version_flags, count = struct.unpack_from(">II", buf, start)
        version, flags = version_flags >> 24, version_flags & 0xFFFFFF
        offset = start + 8
        if flags & _DATA_OFFSET:
            _require(trun, offset + 4 - start)
            (relative,) = struct.unpack_from(">i", buf, offset)
            data_offset = base + relative
            offset += 4
        first_flags = None
        if flags & _FIRST_SAMPLE_FLAGS:
            _require(trun, offset + 4 - start)
            (first_flags,) = struct.unpack_from(">I", buf, offset)
            offset += 4
        if count > budget:
            raise Fmp4Error(
                f"trun of track {track_id} has {count} samples, over the {MAX_SAMPLES_PER_FRAGMENT} per fragment limit"
            )
        if count == 0:
            return data_offset, data_offset, decode_time, []
        fields = [flags & bit != 0 for bit in (_SAMPLE_DURATION, _SAMPLE_SIZE, _SAMPLE_FLAGS, _SAMPLE_CTS)]
        width = sum(fields)
        if trun.end - offset < count * width * 4:
            raise Fmp4Error(f"trun of track {track_id} declares {count} samples, more than its {trun.size} bytes hold")
        if width:
            table = struct.unpack_from(f">{count * width}I", buf, offset)
        column = 0
        columns: list[Any] = []  # a tuple slice per present field, else repeat(default)
        for present, default in zip(fields, (default_duration, default_size, default_flags, 0)):
            if present:
                columns.append(table[column::width])
                column += 1
            else:
                columns.append(repeat(default, count))
        durations, sizes, sample_flags, offsets = columns
        if fields[1]:
            data_size = sum(sizes)
        else:
            data_size = default_size * count
        if data_offset < mdat.payload_offset or data_offset + data_size > mdat.end:
            raise Fmp4Error(
                f"trun of track {track_id} places {count} samples ({data_size} bytes) at {data_offset - mdat.payload_offset}"
                f" in the mdat, outside its {mdat.end - mdat.payload_offset} bytes"
            )
        if fields[3] and version == 1:
            # 8.8.8.2: version 1 composition offsets are signed.
            offsets = [value - 0x100000000 if value & 0x80000000 else value for value in offsets]
        if first_flags is not None:
            # 8.8.8.1: first-sample-flags overrides the flags of the first sample only.
            rest = sample_flags[1:] if fields[2] else repeat(default_flags, count - 1)
            sample_flags = [first_flags, *rest]
        samples: list[Sample] = []
        append = samples.append
        position = data_offset
        for duration, size, sample_flag, composition_offset in zip(durations, sizes, sample_flags, offsets):
            end = position + size
            append(
                Sample(
                    track_id,
                    decode_time,
                    duration,
                    composition_offset,
                    not sample_flag & NON_SYNC,
                    buf[position:end].tobytes(),
                )
            )
            position = end
            decode_time += duration
        return data_offset, position, decode_time, samples


def _require(header: BoxHeader, payload_size: int) -> None:
    if header.size - header.header_size < payload_size:
        raise Fmp4Error(f"{header.type.decode()} box of {header.size} bytes is truncated")
