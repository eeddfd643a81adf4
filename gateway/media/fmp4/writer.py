"""fMP4 (CMAF) writer: an init segment for a set of tracks, then one moof+mdat per call.

Runs per frame per camera on the event loop, so a fragment is built from a handful of
struct calls and one join; sample bytes are copied once, into the output.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from .boxes import box, full_box
from .model import Sample, TrackInfo
from .sample_entry import build_sample_entry

_MATRIX = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)
_LANGUAGE_UND = 0x55C4  # ISO 639-2 "und", three 5-bit letters (14496-12 8.4.2.3)
_HANDLERS = {"video": (b"vide", b"VideoHandler\x00"), "audio": (b"soun", b"SoundHandler\x00")}

# Sample flags (14496-12 8.8.3.1) as ffmpeg and CMAF writers set them: a sync sample
# depends on nothing; any other sample depends on others and is non-sync.
KEYFRAME_FLAGS = 0x02000000
NON_KEYFRAME_FLAGS = 0x01010000

_TFHD_DEFAULT_BASE_IS_MOOF = 0x020000
# trun: data-offset, sample duration, size, flags and composition offset present (8.8.8.1)
_TRUN_FLAGS = 0x000F01
_TRUN_ENTRY = struct.Struct(">IIIi")
_TRAF_HEAD = struct.Struct(">I4sI4sIII4sIQI4sIIi")  # traf header, tfhd, tfdt v1, trun head
_TRAF_HEAD_SIZE = _TRAF_HEAD.size  # 64: traf header, tfhd 16, tfdt 20, trun without entries 20
_MOOF_HEAD = struct.Struct(">I4sI4sII")  # moof header, mfhd
_MDAT_HEAD = struct.Struct(">I4s")


def write_init_segment(tracks: Sequence[TrackInfo]) -> bytes:
    """ftyp + moov for these tracks, with empty sample tables and a trex per track."""
    if not tracks:
        raise ValueError("an init segment needs at least one track")
    ids = [track.track_id for track in tracks]
    if len(set(ids)) != len(ids) or min(ids) < 1:
        raise ValueError(f"track IDs must be unique and positive, got {ids}")
    ftyp = box(b"ftyp", b"iso6", struct.pack(">I", 0), b"iso6", b"cmfc")
    mvhd = full_box(
        b"mvhd",
        0,
        0,
        struct.pack(">IIIIIH10x", 0, 0, 1000, 0, 0x00010000, 0x0100),
        _MATRIX,
        bytes(24),
        struct.pack(">I", max(ids) + 1),
    )
    mvex = box(b"mvex", *(full_box(b"trex", 0, 0, struct.pack(">5I", track.track_id, 1, 0, 0, 0)) for track in tracks))
    return ftyp + box(b"moov", mvhd, *(_trak(track) for track in tracks), mvex)


def _trak(track: TrackInfo) -> bytes:
    if track.kind not in _HANDLERS:
        raise ValueError(f"track {track.track_id} kind {track.kind!r} is neither video nor audio")
    if track.timescale <= 0:
        raise ValueError(f"track {track.track_id} needs a positive timescale")
    entry = build_sample_entry(
        track.kind, track.codec, track.width, track.height, track.sample_rate, track.channels, track.codec_config
    )
    is_video = track.kind == "video"
    width, height = _entry_dimensions(entry) if is_video else (0, 0)
    tkhd = full_box(
        b"tkhd",
        0,
        0x000003,  # track_enabled | track_in_movie
        struct.pack(">IIIII8xhhH2x", 0, 0, track.track_id, 0, 0, 0, 0, 0 if is_video else 0x0100),
        _MATRIX,
        struct.pack(">II", width << 16, height << 16),
    )
    mdhd = full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, track.timescale, 0, _LANGUAGE_UND, 0))
    handler_type, name = _HANDLERS[track.kind]
    hdlr = full_box(b"hdlr", 0, 0, struct.pack(">I4s12x", 0, handler_type), name)
    media_header = full_box(b"vmhd", 0, 1, bytes(8)) if is_video else full_box(b"smhd", 0, 0, bytes(4))
    dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1)))
    stbl = box(
        b"stbl",
        full_box(b"stsd", 0, 0, struct.pack(">I", 1), entry),
        full_box(b"stts", 0, 0, bytes(4)),
        full_box(b"stsc", 0, 0, bytes(4)),
        full_box(b"stsz", 0, 0, bytes(8)),
        full_box(b"stco", 0, 0, bytes(4)),
    )
    return box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, box(b"minf", media_header, dinf, stbl)))


def _entry_dimensions(entry: bytes) -> tuple[int, int]:
    # The visual sample entry has the final width/height (taken from the SPS if the track had none).
    return struct.unpack_from(">HH", entry, 8 + 24)


class FragmentWriter:
    """moof+mdat per call, sequence numbers counting up from first_sequence_number."""

    def __init__(self, first_sequence_number: int = 1) -> None:
        self._sequence_number = first_sequence_number

    @property
    def next_sequence_number(self) -> int:
        return self._sequence_number

    def write(self, samples: Sequence[Sample]) -> bytes:
        """One moof+mdat holding these samples: a traf per track (in order of first
        appearance), its samples in the given order, the mdat in the same order."""
        if not samples:
            raise ValueError("a fragment needs at least one sample")
        runs = _runs(samples)
        moof_size = _MOOF_HEAD.size + sum(_TRAF_HEAD_SIZE + 16 * len(run) for run in runs)
        data_offset = moof_size + _MDAT_HEAD.size  # default-base-is-moof: offsets count from the moof
        parts = [b""]  # the moof header goes here once the size is known
        payload = []
        try:
            for run in runs:
                first = run[0]
                run_size = 0
                traf_size = _TRAF_HEAD_SIZE + 16 * len(run)
                parts.append(
                    _TRAF_HEAD.pack(
                        traf_size,
                        b"traf",
                        16,
                        b"tfhd",
                        _TFHD_DEFAULT_BASE_IS_MOOF,
                        first.track_id,
                        20,
                        b"tfdt",
                        0x01000000,
                        first.decode_time,
                        20 + 16 * len(run),
                        b"trun",
                        0x01000000 | _TRUN_FLAGS,
                        len(run),
                        data_offset,
                    )
                )
                pack = _TRUN_ENTRY.pack
                for sample in run:
                    size = len(sample.data)
                    parts.append(
                        pack(
                            sample.duration,
                            size,
                            KEYFRAME_FLAGS if sample.is_keyframe else NON_KEYFRAME_FLAGS,
                            sample.composition_offset,
                        )
                    )
                    payload.append(sample.data)
                    run_size += size
                data_offset += run_size
            mdat_size = data_offset - moof_size
            parts[0] = _MOOF_HEAD.pack(moof_size, b"moof", 16, b"mfhd", 0, self._sequence_number & 0xFFFFFFFF)
            parts.append(_MDAT_HEAD.pack(mdat_size, b"mdat"))
        except struct.error as exc:
            raise ValueError(f"sample does not fit a trun v1 field: {exc}") from None
        self._sequence_number += 1
        return b"".join(parts + payload)


def _runs(samples: Sequence[Sample]) -> list[list[Sample]]:
    """Samples grouped per track in order of first appearance, split where decode times
    do not chain (tfdt + durations must give each sample's decode time)."""
    by_track: dict[int, list[list[Sample]]] = {}
    for sample in samples:
        track_runs = by_track.get(sample.track_id)
        if track_runs is None:
            by_track[sample.track_id] = [[sample]]
            continue
        last = track_runs[-1][-1]
        if last.decode_time + last.duration == sample.decode_time:
            track_runs[-1].append(sample)
        else:
            track_runs.append([sample])
    return [run for track_runs in by_track.values() for run in track_runs]
