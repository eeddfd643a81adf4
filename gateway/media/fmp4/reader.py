"""A sans-IO fMP4 stream reader: bytes in, InitSegment and Fragment events out.

Feed it upstream chunks as they arrive, in any size: a box may span many chunks and a
chunk may hold many boxes. It buffers only what it must (the moof+mdat being received);
boxes it does not need (styp, sidx, free, emsg, an mdat without moof, ...) are dropped
as they stream past, however large. A `prft` (the producer's clock, prft.py) stamps the
samples of the fragments after it with the instant the camera took them.
"""

from __future__ import annotations

import struct

from .boxes import MAX_BOX_SIZE, BoxError, BoxHeader, Fmp4Error, parse_box_header
from .model import Fragment, InitSegment
from .moof import FragmentParser
from .moov import parse_moov
from .prft import ProducerTime, parse_prft, stamp

__all__ = ["MAX_BUFFER", "Fmp4Error", "Fmp4Reader"]

# A moof and its mdat, both at the box limit, plus slack for boxes between them.
MAX_BUFFER = 2 * MAX_BOX_SIZE + 64 * 1024
# Consumed bytes at the front of the buffer are dropped once there are this many, so a
# fragment arriving in small chunks is not copied once per chunk.
_COMPACT_AFTER = 256 * 1024


class Fmp4Reader:
    def __init__(self, max_box_size: int = MAX_BOX_SIZE, max_buffer: int = MAX_BUFFER) -> None:
        self._max_box_size = max_box_size
        self._max_buffer = max_buffer
        self._buf = bytearray()
        self._pos = 0  # next box starts here in _buf
        self._need = 8  # no point looking again until _buf holds this many bytes
        self._stream_offset = 0  # stream position of _buf[0]
        self._skip = 0  # bytes of an unwanted box still to drop as they arrive
        self._ftyp = b""
        self._init: InitSegment | None = None
        self._fragments: FragmentParser | None = None
        self._moof: BoxHeader | None = None  # a moof waiting for its mdat
        self._producer: ProducerTime | None = None  # the last prft: applies until the next
        self._timescales: dict[int, int] = {}
        self._error: Fmp4Error | None = None

    @property
    def init_segment(self) -> InitSegment | None:
        """The last init segment read, if any."""
        return self._init

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the rest of a box."""
        return len(self._buf) - self._pos if self._moof is None else len(self._buf) - self._moof.offset

    def feed(self, chunk: bytes | memoryview) -> list[InitSegment | Fragment]:
        """Events completed by this chunk, in stream order. Raises Fmp4Error on bad input;
        after that the reader is finished and every later call raises it again."""
        if self._error is not None:
            raise Fmp4Error(f"reader stopped after an earlier error: {self._error}")
        if self._skip:
            dropped = min(self._skip, len(chunk))
            self._skip -= dropped
            self._stream_offset += dropped
            chunk = memoryview(chunk)[dropped:]
        self._buf += chunk
        if len(self._buf) < self._need:
            return []
        try:
            events = self._parse()
        except BoxError as exc:
            self._error = exc if isinstance(exc, Fmp4Error) else Fmp4Error(str(exc))
            raise self._error from None
        except struct.error as exc:  # a bound check missed: still corrupt input, never a crash
            self._error = Fmp4Error(f"truncated box: {exc}")
            raise self._error from None
        self._compact()
        return events

    def _parse(self) -> list[InitSegment | Fragment]:
        events: list[InitSegment | Fragment] = []
        buf = self._buf
        while True:
            header = parse_box_header(buf, self._pos, self._max_box_size)
            if header is None:  # 8 bytes, or 16 for a largesize header, are not here yet
                self._need = self._pos + (16 if len(buf) - self._pos >= 8 else 8)
                return events
            wanted = (
                header.type in (b"ftyp", b"moov", b"moof")
                or (header.type == b"mdat" and self._moof)
                or (header.type == b"prft" and not self._moof)
            )  # 8.16.5: before the moof it refers to
            held_from = self._pos if self._moof is None else self._moof.offset
            if (wanted or self._moof) and header.end - held_from > self._max_buffer:
                raise Fmp4Error(
                    f"{header.type.decode()} box would need {header.end - held_from} bytes buffered,"
                    f" over the limit of {self._max_buffer}"
                )
            if header.end > len(buf):
                if not wanted and self._moof is None:
                    # Drop what is here of an unwanted box and the rest as it arrives.
                    self._skip = header.end - len(buf)
                    self._pos = len(buf)
                    self._need = 8
                else:
                    self._need = header.end
                return events
            self._pos = header.end
            if wanted:
                event = self._complete(header)
                if event is not None:
                    events.append(event)

    def _complete(self, header: BoxHeader) -> InitSegment | Fragment | None:
        kind = header.type
        if kind == b"mdat":
            moof, self._moof = self._moof, None
            assert moof is not None and self._fragments is not None
            with memoryview(self._buf) as view:
                fragment = self._fragments.parse(view, moof, header, self._stream_offset)
            return fragment if self._producer is None else stamp(fragment, self._producer, self._timescales)
        if self._moof is not None:
            raise Fmp4Error(f"{kind.decode()} box between a moof and its mdat")
        if kind == b"prft":
            self._producer = parse_prft(bytes(self._buf[header.payload_offset : header.end]))
            return None
        if kind == b"moof":
            if self._fragments is None:
                raise Fmp4Error("moof before any init segment (moov)")
            self._moof = header
            return None
        raw = bytes(self._buf[header.offset : header.end])
        if kind == b"ftyp":
            self._ftyp = raw
            return None
        with memoryview(raw) as view:  # moov: a new one (upstream reconnect) replaces the last
            movie = parse_moov(view, BoxHeader(header.type, 0, header.header_size, header.size))
        self._init = InitSegment(self._ftyp + raw, movie.tracks)
        self._timescales = {track.track_id: track.timescale for track in movie.tracks}
        self._producer = None  # a new movie: its clock is told anew
        self._ftyp = b""
        self._fragments = FragmentParser(movie)
        return self._init

    def _compact(self) -> None:
        keep_from = self._pos if self._moof is None else self._moof.offset
        if keep_from == len(self._buf):
            self._buf.clear()
        elif keep_from >= _COMPACT_AFTER or (keep_from and keep_from * 2 >= len(self._buf)):
            del self._buf[:keep_from]
        else:
            return
        self._stream_offset += keep_from
        self._pos -= keep_from
        self._need = max(self._need - keep_from, 8)
        if self._moof is not None:
            moof = self._moof
            self._moof = BoxHeader(moof.type, moof.offset - keep_from, moof.header_size, moof.size)
