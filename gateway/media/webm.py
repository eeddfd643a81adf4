"""Sans-IO reader for the live WebM (Matroska/EBML) opus audio of WEP `GET /media?format=webm`.

Fed arbitrary byte chunks, `WebmReader.feed()` returns `AudioTrack` (once per EBML stream,
so again after an upstream splice) and `AudioFrame` (one opus packet each).

References: RFC 8794 (EBML), RFC 9559 (Matroska), the WebM byte-stream subset. What it
handles and why:
- Segment and Cluster of unknown size (RFC 8794 6.2): a live muxer cannot know them. An
  unknown-size element ends at the first *known* element that cannot be its child
  (RFC 8794 6.2); an unknown ID inside it is taken as a child and skipped.
- SimpleBlock, and BlockGroup/Block (a BlockGroup without ReferenceBlock is a keyframe,
  RFC 9559 5.1.3.5.2). Xiph, EBML and fixed lacing (RFC 9559 10.3).
- Anything else (SeekHead, Cues, Tags, Void, Chapters, CRC-32...) is skipped without being
  buffered.
- A new EBML header closes everything that is open and starts a new stream: a new
  AudioTrack follows. This only works on an element boundary; a connection that died in
  the middle of an element needs a fresh reader.

Bounds: every element we buffer or skip is at most `max_element_size` (Segment and Cluster
are walked into, not buffered); the bytes held between feeds never exceed `max_buffer`.
Each step consumes input or closes one of at most two open containers, so a feed always
ends. Anything malformed raises WebmError with a one-line message.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

# A live opus stream has blocks of a few hundred bytes; 4 MiB leaves room for Tracks with
# a large CodecPrivate or a file's Cues, and bounds what a hostile stream can make us hold.
MAX_ELEMENT_SIZE = 4 * 1024 * 1024
# Bytes appended per parse step when a caller hands us one large chunk.
_FEED_STEP = 64 * 1024
# Worst-case EBML element header: 4-byte ID + 8-byte size (WebM: EBMLMaxIDLength 4,
# EBMLMaxSizeLength 8).
_MAX_HEADER = 12

DEFAULT_TIMECODE_SCALE_NS = 1_000_000  # RFC 9559 5.1.2.1: default TimestampScale

# Element IDs (RFC 8794 11, RFC 9559 5.1), with their marker bits as they appear on the wire.
EBML = 0x1A45DFA3
EBML_READ_VERSION = 0x42F7
EBML_MAX_ID_LENGTH = 0x42F2
EBML_MAX_SIZE_LENGTH = 0x42F3
DOC_TYPE = 0x4282
SEGMENT = 0x18538067
SEEK_HEAD = 0x114D9B74
INFO = 0x1549A966
TIMECODE_SCALE = 0x2AD7B1
TRACKS = 0x1654AE6B
TRACK_ENTRY = 0xAE
TRACK_NUMBER = 0xD7
TRACK_TYPE = 0x83
CODEC_ID = 0x86
CODEC_PRIVATE = 0x63A2
AUDIO = 0xE1
SAMPLING_FREQUENCY = 0xB5
CHANNELS = 0x9F
CLUSTER = 0x1F43B675
TIMECODE = 0xE7
SIMPLE_BLOCK = 0xA3
BLOCK_GROUP = 0xA0
BLOCK = 0xA1
REFERENCE_BLOCK = 0xFB
CUES = 0x1C53BB6B
TAGS = 0x1254C367
CHAPTERS = 0x1043A770
ATTACHMENTS = 0x1941A469
VOID = 0xEC
CRC32 = 0xBF

TRACK_TYPE_AUDIO = 2
_UNKNOWN = -1  # size value of an unknown-size element

_SEGMENT_CHILDREN = frozenset({SEEK_HEAD, INFO, TRACKS, CLUSTER, CUES, TAGS, CHAPTERS, ATTACHMENTS})
_CLUSTER_CHILDREN = frozenset({TIMECODE, SIMPLE_BLOCK, BLOCK_GROUP, 0xA7, 0xAB, 0x5854, 0xAF})
_GLOBAL = frozenset({VOID, CRC32})
# Known elements that end an unknown-size Cluster: anything at Segment level or above.
_ENDS_CLUSTER = _SEGMENT_CHILDREN | {EBML, SEGMENT}


class WebmError(ValueError):
    """The bytes are not a WebM opus stream this reader accepts (corrupt, truncated or hostile)."""


@dataclass(frozen=True, slots=True)
class AudioTrack:
    codec: str  # "opus"
    sample_rate: int
    channels: int
    codec_private: bytes  # OpusHead (RFC 7845 5.1)
    timescale_ns: int  # TimecodeScale: nanoseconds per timecode tick


@dataclass(frozen=True, slots=True)
class AudioFrame:
    pts_ms: float  # (Cluster Timecode + Block relative timecode) * TimecodeScale
    data: bytes  # one opus packet
    keyframe: bool


@dataclass(slots=True)
class _Open:
    """An element we walked into (Segment or Cluster)."""

    id: int
    end: int | None  # absolute stream offset, None for unknown size


def read_vint(buf: bytes | bytearray | memoryview, pos: int, keep_marker: bool) -> tuple[int, int] | None:
    """(value, length) of the EBML variable-size integer at pos, or None if incomplete.

    RFC 8794 4: the count of leading zero bits of the first byte gives the length. IDs keep
    the marker bit; sizes drop it, and all value bits set means "unknown" (_UNKNOWN).
    """
    if pos >= len(buf):
        return None
    first = buf[pos]
    if first == 0:
        raise WebmError("EBML variable-size integer longer than 8 bytes")
    length = 9 - first.bit_length()
    if pos + length > len(buf):
        return None
    value = first if keep_marker else first & (0xFF >> length)
    for i in range(1, length):
        value = (value << 8) | buf[pos + i]
    if not keep_marker and value == (1 << (7 * length)) - 1:
        return _UNKNOWN, length
    return value, length


def _uint(payload: bytes, name: str) -> int:
    if len(payload) > 8:
        raise WebmError(f"{name} is a {len(payload)}-byte unsigned integer, at most 8 allowed")
    return int.from_bytes(payload, "big")


def _float(payload: bytes, name: str) -> float:
    if len(payload) == 4:
        return struct.unpack(">f", payload)[0]
    if len(payload) == 8:
        return struct.unpack(">d", payload)[0]
    if not payload:
        return 0.0
    raise WebmError(f"{name} is a {len(payload)}-byte float, must be 4 or 8")


def iter_children(payload: bytes, name: str) -> Iterator[tuple[int, bytes]]:
    """(id, child payload) for the complete children laid end to end in a buffered master."""
    pos = 0
    while pos < len(payload):
        got_id = read_vint(payload, pos, keep_marker=True)
        got_size = got_id and read_vint(payload, pos + got_id[1], keep_marker=False)
        if not got_id or not got_size:
            raise WebmError(f"truncated child element header in {name}")
        start = pos + got_id[1] + got_size[1]
        if got_size[0] == _UNKNOWN or start + got_size[0] > len(payload):
            raise WebmError(f"child element {got_id[0]:#x} overruns {name}")
        yield got_id[0], payload[start : start + got_size[0]]
        pos = start + got_size[0]


def _check_ebml_header(payload: bytes) -> None:
    doc_type = b""
    for child_id, value in iter_children(payload, "EBML header"):
        if child_id == DOC_TYPE:
            doc_type = value.rstrip(b"\0")
        elif child_id == EBML_READ_VERSION and _uint(value, "EBMLReadVersion") > 1:
            raise WebmError(f"EBMLReadVersion {_uint(value, 'EBMLReadVersion')} not supported")
        elif child_id == EBML_MAX_ID_LENGTH and _uint(value, "EBMLMaxIDLength") > 4:
            raise WebmError("EBMLMaxIDLength over 4 is not WebM")
        elif child_id == EBML_MAX_SIZE_LENGTH and _uint(value, "EBMLMaxSizeLength") > 8:
            raise WebmError("EBMLMaxSizeLength over 8 is not WebM")
    if doc_type not in (b"webm", b"matroska"):
        raise WebmError(f"EBML DocType {doc_type!r} is not webm or matroska")


def _timecode_scale(payload: bytes) -> int:
    for child_id, value in iter_children(payload, "Info"):
        if child_id == TIMECODE_SCALE:
            scale = _uint(value, "TimecodeScale")
            if scale == 0:
                raise WebmError("TimecodeScale is 0")
            return scale
    return DEFAULT_TIMECODE_SCALE_NS


def _opus_track(payload: bytes, timescale_ns: int) -> tuple[int, AudioTrack]:
    """(track number, AudioTrack) of the first audio track in Tracks, which must be opus."""
    found = []
    for child_id, entry in iter_children(payload, "Tracks"):
        if child_id != TRACK_ENTRY:
            continue
        fields: dict[int, bytes] = dict(iter_children(entry, "TrackEntry"))
        codec_id = fields.get(CODEC_ID, b"").rstrip(b"\0").decode("ascii", "replace")
        found.append(codec_id)
        if _uint(fields.get(TRACK_TYPE, b""), "TrackType") != TRACK_TYPE_AUDIO:
            continue
        if codec_id != "A_OPUS":
            raise WebmError(f"audio track codec {codec_id!r} is not supported, only A_OPUS")
        number = _uint(fields.get(TRACK_NUMBER, b""), "TrackNumber")
        if number == 0:
            raise WebmError("audio TrackEntry without a TrackNumber")
        audio = dict(iter_children(fields.get(AUDIO, b""), "Audio"))
        rate = _float(audio[SAMPLING_FREQUENCY], "SamplingFrequency") if SAMPLING_FREQUENCY in audio else 8000.0
        channels = _uint(audio[CHANNELS], "Channels") if CHANNELS in audio else 1
        if not 0 < rate <= 768_000 or not 0 < channels <= 255:
            raise WebmError(f"audio track has an impossible format: {rate} Hz, {channels} channels")
        private = fields.get(CODEC_PRIVATE, b"")
        if not private.startswith(b"OpusHead"):
            raise WebmError("opus track CodecPrivate is not an OpusHead")
        return number, AudioTrack("opus", int(rate), channels, bytes(private), timescale_ns)
    raise WebmError(f"no audio track in Tracks (codecs: {', '.join(found) or 'none'})")


def split_laces(body: bytes, lacing: int) -> list[bytes]:
    """The frames of a block body after its header (RFC 9559 10.3); lacing is flags bits 1-2."""
    if lacing == 0:
        return [body]
    if not body:
        raise WebmError("laced block has no frame count")
    count = body[0] + 1
    pos = 1
    sizes: list[int] = []
    if lacing == 1:  # Xiph: each size is a run of 255s plus a final byte
        for _ in range(count - 1):
            size = 0
            while True:
                if pos >= len(body):
                    raise WebmError("Xiph lace sizes run past the block")
                size += body[pos]
                pos += 1
                if body[pos - 1] != 255:
                    break
            sizes.append(size)
    elif lacing == 3:  # EBML: first size, then signed differences
        got = read_vint(body, pos, keep_marker=False)
        if got is None or got[0] == _UNKNOWN:
            raise WebmError("bad EBML lace size")
        sizes.append(got[0])
        pos += got[1]
        for _ in range(count - 2):
            got = read_vint(body, pos, keep_marker=False)
            if got is None or got[0] == _UNKNOWN:
                raise WebmError("bad EBML lace size difference")
            sizes.append(sizes[-1] + got[0] - ((1 << (7 * got[1] - 1)) - 1))
            pos += got[1]
    else:  # fixed: equal sizes
        if (len(body) - pos) % count:
            raise WebmError(f"fixed-size lacing: {len(body) - pos} bytes do not split into {count} frames")
        sizes = [(len(body) - pos) // count] * (count - 1)
    rest = len(body) - pos - sum(sizes)
    if rest < 0 or any(size < 0 for size in sizes):
        raise WebmError("lace sizes exceed the block")
    sizes.append(rest)
    frames = []
    for size in sizes:
        frames.append(body[pos : pos + size])
        pos += size
    return frames


def opus_packet_samples(packet: bytes) -> int:
    """Samples at 48 kHz in one opus packet, from its TOC byte (RFC 6716 3.1); 0 if unreadable."""
    if not packet:
        return 0
    toc = packet[0]
    config = toc >> 3
    if config < 12:  # SILK: 10, 20, 40, 60 ms
        per_frame = (480, 960, 1920, 2880)[config & 3]
    elif config < 16:  # hybrid: 10, 20 ms
        per_frame = (480, 960)[config & 1]
    else:  # CELT: 2.5, 5, 10, 20 ms
        per_frame = (120, 240, 480, 960)[config & 3]
    code = toc & 3
    if code == 0:
        frames = 1
    elif code in (1, 2):
        frames = 2
    else:
        frames = packet[1] & 0x3F if len(packet) > 1 else 0
    return per_frame * frames


class WebmReader:
    def __init__(self, max_element_size: int = MAX_ELEMENT_SIZE, max_buffer: int | None = None) -> None:
        if max_buffer is None:
            max_buffer = max_element_size + _MAX_HEADER + _FEED_STEP
        if max_buffer < max_element_size + _MAX_HEADER + 1:
            raise ValueError("max_buffer must hold a whole element of max_element_size plus its header")
        self.max_element_size = max_element_size
        self.max_buffer = max_buffer
        self._buf = bytearray()
        self._base = 0  # absolute stream offset of _buf[0]
        self._skip = 0  # bytes of a skipped element still to drop from the input
        self._stack: list[_Open] = []
        self._started = False
        self._reset_stream()

    def _reset_stream(self) -> None:
        self._timescale_ns = DEFAULT_TIMECODE_SCALE_NS
        self._track_number: int | None = None
        self._track: AudioTrack | None = None
        self._cluster_timecode: int | None = None

    @property
    def track(self) -> AudioTrack | None:
        return self._track

    def feed(self, chunk: bytes) -> list[AudioTrack | AudioFrame]:
        out: list[AudioTrack | AudioFrame] = []
        view = memoryview(chunk)
        while view:
            if self._skip:
                dropped = min(self._skip, len(view))
                self._skip -= dropped
                self._base += dropped
                view = view[dropped:]
                continue
            room = self.max_buffer - len(self._buf)
            self._buf += view[:room]
            view = view[room:]
            consumed = self._parse(out)
            del self._buf[:consumed]
            self._base += consumed
            if view and not self._skip and len(self._buf) >= self.max_buffer:
                raise WebmError(f"{len(self._buf)} bytes buffered without a complete element")
        return out

    def _parse(self, out: list[AudioTrack | AudioFrame]) -> int:
        """Consume whole elements from _buf; returns how many bytes were used."""
        buf = self._buf
        pos = 0
        while True:
            here = self._base + pos
            self._close_ended(here)
            got_id = read_vint(buf, pos, keep_marker=True)
            if got_id is None:
                return pos
            element_id, id_len = got_id
            if id_len > 4:
                raise WebmError(f"element ID of {id_len} bytes at offset {here}, WebM allows 4")
            got_size = read_vint(buf, pos + id_len, keep_marker=False)
            if got_size is None:
                return pos
            size, size_len = got_size
            header = id_len + size_len
            if not self._started and element_id != EBML:
                raise WebmError(f"stream does not start with an EBML header (element {element_id:#x})")
            self._started = True
            self._close_for(element_id)
            if element_id in (SEGMENT, CLUSTER) and self._enter(element_id, size, here + header):
                pos += header
                continue
            if size == _UNKNOWN:
                raise WebmError(
                    f"element {element_id:#x} at offset {here} has unknown size, only Segment and Cluster may"
                )
            if size > self.max_element_size:
                raise WebmError(
                    f"element {element_id:#x} at offset {here} is {size} bytes, over the limit of {self.max_element_size}"
                )
            limit = self._known_end()
            if limit is not None and here + header + size > limit:
                raise WebmError(f"element {element_id:#x} at offset {here} overruns its parent")
            if not self._wanted(element_id):
                available = len(buf) - pos
                if header + size > available:
                    self._skip = header + size - available
                    return len(buf)
                pos += header + size
                continue
            if pos + header + size > len(buf):
                return pos
            self._element(element_id, bytes(buf[pos + header : pos + header + size]), here, out)
            pos += header + size

    def _close_for(self, element_id: int) -> None:
        """Close unknown-size containers that `element_id` cannot be a child of (RFC 8794 6.2)."""
        if element_id == EBML:  # a new stream: whatever was open is over
            self._stack.clear()
            return
        while self._stack and self._stack[-1].end is None:
            top = self._stack[-1].id
            if (top == CLUSTER and element_id in _ENDS_CLUSTER) or (top == SEGMENT and element_id == SEGMENT):
                self._close()
            else:
                return

    def _enter(self, element_id: int, size: int, payload_start: int) -> bool:
        """Walk into a Segment (at root) or Cluster (in a Segment); False if it is misplaced."""
        parent = self._stack[-1].id if self._stack else None
        expected_parent = None if element_id == SEGMENT else SEGMENT
        if parent != expected_parent:
            return False
        end = None if size == _UNKNOWN else payload_start + size
        enclosing = self._known_end()
        if end is not None and enclosing is not None and end > enclosing:
            raise WebmError(f"element {element_id:#x} at offset {payload_start} overruns its parent")
        self._stack.append(_Open(element_id, end))
        if element_id == SEGMENT:
            self._reset_stream()
        else:
            self._cluster_timecode = None
        return True

    def _known_end(self) -> int | None:
        """The nearest end that an open container declared: nothing may run past it."""
        for open_ in reversed(self._stack):
            if open_.end is not None:
                return open_.end
        return None

    def _close_ended(self, here: int) -> None:
        """Close every container whose declared end is reached, and all open inside it."""
        for depth, open_ in enumerate(self._stack):
            if open_.end is not None and here >= open_.end:
                while len(self._stack) > depth:
                    self._close()
                return

    def _close(self) -> None:
        closed = self._stack.pop()
        if closed.id == CLUSTER:
            self._cluster_timecode = None

    def _wanted(self, element_id: int) -> bool:
        if element_id == EBML:
            return True
        top = self._stack[-1].id if self._stack else None
        if top == SEGMENT:
            return element_id in (INFO, TRACKS)
        if top == CLUSTER:
            return element_id in (TIMECODE, SIMPLE_BLOCK, BLOCK_GROUP)
        return False

    def _element(self, element_id: int, payload: bytes, offset: int, out: list) -> None:
        if element_id == EBML:
            _check_ebml_header(payload)
            self._reset_stream()
        elif element_id == INFO:
            self._timescale_ns = _timecode_scale(payload)
        elif element_id == TRACKS:
            self._track_number, self._track = _opus_track(payload, self._timescale_ns)
            out.append(self._track)
        elif element_id == TIMECODE:
            self._cluster_timecode = _uint(payload, "Cluster Timecode")
        elif element_id == SIMPLE_BLOCK:
            self._block(payload, None, offset, out)
        elif element_id == BLOCK_GROUP:
            block = None
            referenced = False
            for child_id, value in iter_children(payload, "BlockGroup"):
                if child_id == BLOCK:
                    block = value
                elif child_id == REFERENCE_BLOCK:
                    referenced = True
            if block is None:
                raise WebmError(f"BlockGroup at offset {offset} has no Block")
            self._block(block, not referenced, offset, out)

    def _block(self, block: bytes, keyframe: bool | None, offset: int, out: list) -> None:
        """RFC 9559 10.1: track number (vint), int16 relative timecode, flags, frames."""
        got = read_vint(block, 0, keep_marker=False)
        if got is None or got[0] == _UNKNOWN or len(block) < got[1] + 3:
            raise WebmError(f"block at offset {offset} is too short for its header")
        track, n = got
        if track != self._track_number:
            return
        if self._cluster_timecode is None:
            raise WebmError(f"block at offset {offset} comes before its Cluster Timecode")
        relative, flags = struct.unpack_from(">hB", block, n)
        if keyframe is None:
            keyframe = bool(flags & 0x80)
        frames = split_laces(block[n + 3 :], (flags >> 1) & 3)
        scale_ms = self._timescale_ns / 1e6
        pts_ms = (self._cluster_timecode + relative) * scale_ms
        for frame in frames:
            out.append(AudioFrame(pts_ms, frame, keyframe))
            # Laced frames share the block timestamp (RFC 9559 10.3); opus packets carry
            # their own duration in the TOC byte, which places the ones that follow.
            pts_ms += opus_packet_samples(frame) / 48.0
