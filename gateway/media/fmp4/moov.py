"""The moov box read into tracks and fragment defaults (ISO/IEC 14496-12 8.2-8.8)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .boxes import BoxHeader, Fmp4Error, iter_boxes
from .model import TrackInfo
from .sample_entry import parse_sample_entry

_HANDLER_KINDS = {b"vide": "video", b"soun": "audio"}


@dataclass(frozen=True, slots=True)
class TrackDefaults:
    """trex (8.8.3): what a track fragment uses when tfhd and trun say nothing."""

    duration: int = 0
    size: int = 0
    flags: int = 0


@dataclass(frozen=True, slots=True)
class Movie:
    tracks: tuple[TrackInfo, ...]
    defaults: dict[int, TrackDefaults]
    # Tracks that are neither video nor audio (timed metadata, text): their fragments are skipped.
    ignored_track_ids: frozenset[int]


def parse_moov(buf: memoryview, moov: BoxHeader) -> Movie:
    tracks: list[TrackInfo] = []
    ignored: set[int] = set()
    defaults: dict[int, TrackDefaults] = {}
    for child in iter_boxes(buf, moov.payload_offset, moov.end):
        if child.type == b"trak":
            track = _parse_trak(buf, child)
            if isinstance(track, int):
                ignored.add(track)
            else:
                tracks.append(track)
        elif child.type == b"mvex":
            for trex in iter_boxes(buf, child.payload_offset, child.end):
                if trex.type == b"trex":
                    _require(trex, 24)
                    track_id, _, duration, size, flags = struct.unpack_from(">5I", buf, trex.payload_offset + 4)
                    defaults[track_id] = TrackDefaults(duration, size, flags)
    ids = [track.track_id for track in tracks] + sorted(ignored)
    if len(set(ids)) != len(ids):
        raise Fmp4Error(f"moov has duplicate track IDs {ids}")
    return Movie(tuple(tracks), defaults, frozenset(ignored))


def _parse_trak(buf: memoryview, trak: BoxHeader) -> TrackInfo | int:
    """The track, or just its ID when it is neither video nor audio."""
    boxes = _collect(buf, trak, {b"tkhd", b"mdhd", b"hdlr", b"stsd"})
    for name in (b"tkhd", b"mdhd", b"hdlr"):
        if name not in boxes:
            raise Fmp4Error(f"trak has no {name.decode()} box")
    tkhd, mdhd, hdlr = boxes[b"tkhd"], boxes[b"mdhd"], boxes[b"hdlr"]
    _require(tkhd, 24)
    version = buf[tkhd.payload_offset]
    (track_id,) = struct.unpack_from(">I", buf, tkhd.payload_offset + (20 if version == 1 else 12))
    _require(hdlr, 12)
    kind = _HANDLER_KINDS.get(bytes(buf[hdlr.payload_offset + 8 : hdlr.payload_offset + 12]))
    if kind is None:
        return track_id
    _require(mdhd, 24)
    version = buf[mdhd.payload_offset]
    (timescale,) = struct.unpack_from(">I", buf, mdhd.payload_offset + (20 if version == 1 else 12))
    if timescale == 0:
        raise Fmp4Error(f"track {track_id} has timescale 0")
    stsd = boxes.get(b"stsd")
    if stsd is None:
        raise Fmp4Error(f"track {track_id} has no stsd box")
    entry = next(iter_boxes(buf, stsd.payload_offset + 8, stsd.end), None) if stsd.size >= 16 else None
    if entry is None:
        raise Fmp4Error(f"track {track_id} has no sample entry")
    info = parse_sample_entry(buf, entry.type, entry.payload_offset, entry.end)
    return TrackInfo(
        track_id=track_id,
        kind=kind,
        codec=info.codec,
        timescale=timescale,
        width=info.width,
        height=info.height,
        sample_rate=info.sample_rate,
        channels=info.channels,
        codec_config=info.codec_config,
    )


# The path to each box we want below trak; children of other boxes are never visited.
_TRAK_PATH = {b"trak", b"mdia", b"minf", b"stbl"}


def _collect(buf: memoryview, parent: BoxHeader, wanted: set[bytes], depth: int = 0) -> dict[bytes, BoxHeader]:
    if depth > len(_TRAK_PATH):  # a hostile trak nested in itself must not exhaust the stack
        raise Fmp4Error(f"{parent.type.decode()} boxes nested too deep")
    found: dict[bytes, BoxHeader] = {}
    for child in iter_boxes(buf, parent.payload_offset, parent.end):
        if child.type in wanted:
            found.setdefault(child.type, child)
        elif child.type in _TRAK_PATH:
            for name, header in _collect(buf, child, wanted, depth + 1).items():
                found.setdefault(name, header)
    return found


def _require(header: BoxHeader, payload_size: int) -> None:
    if header.size - header.header_size < payload_size:
        raise Fmp4Error(f"{header.type.decode()} box of {header.size} bytes is truncated")
