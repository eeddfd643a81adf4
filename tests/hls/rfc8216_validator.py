"""An HLS playlist validator written from the RFC's rules, for the tests. Sans-IO: text and
bytes in, findings out; it never fetches anything.

Sources, cited per rule (`Finding.rule` names the clause):
- RFC 8216 (HLS): playlist syntax (4.1, 4.2 attribute lists), the tags (4.3), version
  compatibility (7), server responsibilities across reloads (6.2.1, 6.2.2).
- draft-pantos-hls-rfc8216bis (LL-HLS and later additions): EXT-X-PART-INF (4.4.3.7),
  EXT-X-SERVER-CONTROL (4.4.3.8), EXT-X-PART (4.4.4.9), EXT-X-SKIP (4.4.5.2),
  EXT-X-PRELOAD-HINT (4.4.5.3), EXT-X-RENDITION-REPORT (4.4.5.4), delta updates (6.2.5.1),
  blocking reloads (6.2.5.2), the version table (8).

Three levels:
- `check_multivariant(text)` / `check_media(text, request=...)`: one playlist alone,
  `request` being the delivery directives it answered (_HLS_msn, _HLS_part, _HLS_skip);
- `MediaHistory.add(text, request)`: every answer for one rendition, in the order they
  were given, checked against the ones before (constant targets, numbering, sequences,
  delta updates merged with the last full playlist, preload hints kept);
- `check_media_bytes(playlist, init, media)`: claims about the media (INDEPENDENT=YES,
  EXT-X-INDEPENDENT-SEGMENTS, EXTINF against the samples), given the fetched bytes.

Where the RFC says SHOULD and the gateway promises it, the rule is checked too and says so
(PART-HOLD-BACK >= 3 x PART-TARGET). Unknown attributes are not findings: clients must
ignore them (4.2).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime

from gateway.media.fmp4 import Fmp4Reader, Fragment, InitSegment

# 4.2: attribute values.
_INTEGER = re.compile(r"[0-9]{1,20}")
_FLOAT = re.compile(r"[0-9]+(\.[0-9]+)?")
_RESOLUTION = re.compile(r"[0-9]+x[0-9]+")
_QUOTED = re.compile(r'"[^"\r\n]*"')
_ENUM = re.compile(r'[^",\s]+')
_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"\r\n]*"|[^",]*)')
# 4.3.2.6: ISO/IEC 8601:2004 with a time zone.
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})")

# Attribute types of the tags checked here: name -> (type, required).
ATTRIBUTES: dict[str, dict[str, tuple[str, bool]]] = {
    "EXT-X-MAP": {"URI": ("quoted", True), "BYTERANGE": ("quoted", False)},
    "EXT-X-PART": {
        "URI": ("quoted", True),
        "DURATION": ("float", True),
        "INDEPENDENT": ("YES", False),
        "BYTERANGE": ("quoted", False),
        "GAP": ("YES", False),
    },
    "EXT-X-PART-INF": {"PART-TARGET": ("float", True)},
    "EXT-X-SERVER-CONTROL": {
        "CAN-SKIP-UNTIL": ("float", False),
        "CAN-SKIP-DATERANGES": ("YES", False),
        "HOLD-BACK": ("float", False),
        "PART-HOLD-BACK": ("float", False),
        "CAN-BLOCK-RELOAD": ("YES", False),
    },
    "EXT-X-SKIP": {"SKIPPED-SEGMENTS": ("integer", True), "RECENTLY-REMOVED-DATERANGES": ("quoted", False)},
    "EXT-X-PRELOAD-HINT": {
        "TYPE": ("PART|MAP", True),
        "URI": ("quoted", True),
        "BYTERANGE-START": ("integer", False),
        "BYTERANGE-LENGTH": ("integer", False),
    },
    "EXT-X-RENDITION-REPORT": {
        "URI": ("quoted", True),
        "LAST-MSN": ("integer", False),
        "LAST-PART": ("integer", False),
    },
    "EXT-X-STREAM-INF": {
        "BANDWIDTH": ("integer", True),
        "AVERAGE-BANDWIDTH": ("integer", False),
        "CODECS": ("quoted", False),
        "RESOLUTION": ("resolution", False),
        "FRAME-RATE": ("float", False),
        "AUDIO": ("quoted", False),
        "VIDEO": ("quoted", False),
        "SUBTITLES": ("quoted", False),
    },
}
VALUELESS = {
    "EXTM3U",
    "EXT-X-DISCONTINUITY",
    "EXT-X-ENDLIST",
    "EXT-X-INDEPENDENT-SEGMENTS",
    "EXT-X-I-FRAMES-ONLY",
    "EXT-X-GAP",
}
SCALAR = {
    "EXT-X-VERSION": "integer",
    "EXT-X-TARGETDURATION": "integer",
    "EXT-X-MEDIA-SEQUENCE": "integer",
    "EXT-X-DISCONTINUITY-SEQUENCE": "integer",
    "EXT-X-PLAYLIST-TYPE": "EVENT|VOD",
    "EXT-X-PROGRAM-DATE-TIME": "date",
    "EXTINF": "extinf",
    "EXT-X-BYTERANGE": "byterange",
    "EXT-X-BITRATE": "integer",
}
MEDIA_ONLY = {
    "EXTINF",
    "EXT-X-TARGETDURATION",
    "EXT-X-MEDIA-SEQUENCE",
    "EXT-X-DISCONTINUITY-SEQUENCE",
    "EXT-X-ENDLIST",
    "EXT-X-PLAYLIST-TYPE",
    "EXT-X-I-FRAMES-ONLY",
    "EXT-X-MAP",
    "EXT-X-PART",
    "EXT-X-PART-INF",
    "EXT-X-SERVER-CONTROL",
    "EXT-X-SKIP",
    "EXT-X-PRELOAD-HINT",
    "EXT-X-RENDITION-REPORT",
    "EXT-X-DISCONTINUITY",
    "EXT-X-PROGRAM-DATE-TIME",
    "EXT-X-BYTERANGE",
    "EXT-X-GAP",
    "EXT-X-BITRATE",
    "EXT-X-KEY",
    "EXT-X-DATERANGE",
}
MULTIVARIANT_ONLY = {
    "EXT-X-STREAM-INF",
    "EXT-X-I-FRAME-STREAM-INF",
    "EXT-X-MEDIA",
    "EXT-X-SESSION-DATA",
    "EXT-X-SESSION-KEY",
    "EXT-X-CONTENT-STEERING",
}
KNOWN = VALUELESS | set(SCALAR) | set(ATTRIBUTES) | MEDIA_ONLY | MULTIVARIANT_ONLY | {"EXT-X-START", "EXT-X-DEFINE"}
# Tags that apply to the next segment (4.3.2) and so may not be left dangling at the end.
SEGMENT_TAGS = {
    "EXTINF",
    "EXT-X-BYTERANGE",
    "EXT-X-DISCONTINUITY",
    "EXT-X-KEY",
    "EXT-X-MAP",
    "EXT-X-PROGRAM-DATE-TIME",
    "EXT-X-GAP",
    "EXT-X-BITRATE",
}
# Seconds: durations are written to the millisecond, dates too.
TIME_TOLERANCE = 0.0015


@dataclass(frozen=True)
class Finding:
    rule: str  # the clause: "RFC 8216 4.3.3.1", "RFC 8216bis 4.4.4.9"...
    message: str
    line: int = 0  # 1-based; 0: the playlist as a whole


class PlaylistInvalid(AssertionError):
    pass


def assert_valid(findings: list[Finding], text: str = "") -> None:
    if findings:
        listed = "\n".join(f"  [{f.rule}] line {f.line}: {f.message}" for f in findings)
        raise PlaylistInvalid(f"{len(findings)} finding(s):\n{listed}\n--- playlist ---\n{text}")


@dataclass
class Part:
    uri: str
    duration: float
    independent: bool
    gap: bool
    line: int


@dataclass
class Segment:
    msn: int
    uri: str
    duration: float
    line: int
    discontinuity: bool = False
    map_uri: str | None = None
    date: float | None = None
    parts: list[Part] = field(default_factory=list)
    cc: int = 0  # discontinuity sequence number (4.3.3.3), counted as clients count it
    gap: bool = False


@dataclass
class MediaPlaylist:
    version: int = 1
    target: int | None = None
    media_sequence: int = 0
    discontinuity_sequence: int = 0
    playlist_type: str | None = None
    endlist: bool = False
    independent_segments: bool = False
    part_target: float | None = None
    control: dict[str, str] = field(default_factory=dict)
    skipped: int = 0
    segments: list[Segment] = field(default_factory=list)
    open_parts: list[Part] = field(default_factory=list)  # parts after the last segment: the next one
    open_map_uri: str | None = None
    open_discontinuity: bool = False
    hints: list[tuple[str, str]] = field(default_factory=list)  # (TYPE, URI)
    reports: list[dict[str, str]] = field(default_factory=list)

    @property
    def all_parts(self) -> list[Part]:
        return [part for segment in self.segments for part in segment.parts] + self.open_parts

    @property
    def duration(self) -> float:
        return sum(segment.duration for segment in self.segments) + sum(part.duration for part in self.open_parts)

    @property
    def next_msn(self) -> int:
        return self.media_sequence + self.skipped + len(self.segments)


@dataclass
class Variant:
    uri: str
    attributes: dict[str, str]


@dataclass
class MultivariantPlaylist:
    version: int = 1
    independent_segments: bool = False
    variants: list[Variant] = field(default_factory=list)


# -- syntax (RFC 8216 4.1, 4.2) -------------------------------------------------------------------


def _lines(text: str, findings: list[Finding]) -> list[tuple[int, str]]:
    if text.startswith("\ufeff"):
        findings.append(Finding("RFC 8216 4.1", "a playlist MUST NOT have a byte order mark", 1))
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    numbered = [(n, line.removesuffix("\r")) for n, line in enumerate(lines, 1)]
    if not numbered or numbered[0][1] != "#EXTM3U":
        findings.append(Finding("RFC 8216 4.3.1.1", "the first line MUST be #EXTM3U", 1))
    for n, line in numbered:
        if any(ord(c) < 0x20 and c != "\t" for c in line):
            findings.append(Finding("RFC 8216 4.1", "control characters in a line", n))
    return numbered


def parse_attributes(value: str, line: int, findings: list[Finding]) -> dict[str, str]:
    """4.2: AttributeName=AttributeValue, comma separated, each name once."""
    found: dict[str, str] = {}
    at = 0
    while at < len(value):
        match = _ATTRIBUTE.match(value, at)
        if match is None:
            findings.append(Finding("RFC 8216 4.2", f"malformed attribute list at {value[at:]!r}", line))
            return found
        name, raw = match.groups()
        if name in found:
            findings.append(Finding("RFC 8216 4.2", f"attribute {name} appears twice", line))
        found[name] = raw
        at = match.end()
        if at < len(value):
            if value[at] != ",":
                findings.append(Finding("RFC 8216 4.2", f"expected a comma after {name}", line))
                return found
            at += 1
            if at == len(value):
                findings.append(Finding("RFC 8216 4.2", "attribute list ends with a comma", line))
    return found


def _value_ok(kind: str, raw: str) -> bool:
    if kind == "quoted":
        return bool(_QUOTED.fullmatch(raw))
    if kind == "integer":
        return bool(_INTEGER.fullmatch(raw)) and int(raw) < 2**64
    if kind == "float":
        return bool(_FLOAT.fullmatch(raw))
    if kind == "resolution":
        return bool(_RESOLUTION.fullmatch(raw))
    return raw in kind.split("|")  # an enumerated-string with these values


def _typed(tag: str, value: str, line: int, findings: list[Finding]) -> dict[str, str]:
    attributes = parse_attributes(value, line, findings)
    for name, (kind, required) in ATTRIBUTES[tag].items():
        if name not in attributes:
            if required:
                findings.append(Finding("RFC 8216 4.3", f"{tag} needs {name}", line))
        elif not _value_ok(kind, attributes[name]):
            findings.append(Finding("RFC 8216 4.2", f"{tag} {name}={attributes[name]} is not a {kind}", line))
    return {name: raw[1:-1] if raw.startswith('"') else raw for name, raw in attributes.items()}


def _scalar_ok(kind: str, value: str) -> bool:
    if kind == "date":
        return bool(_DATE.fullmatch(value))
    if kind == "extinf":
        duration = value.split(",", 1)[0]
        return "," in value and bool(_FLOAT.fullmatch(duration))
    if kind == "byterange":
        return bool(re.fullmatch(r"[0-9]+(@[0-9]+)?", value))
    return _value_ok(kind, value)


def _tags(numbered: list[tuple[int, str]], findings: list[Finding]) -> list[tuple[int, str, str | None]]:
    """(line, tag, value) for tags, (line, "", uri) for URI lines; comments and blanks dropped."""
    out: list[tuple[int, str, str | None]] = []
    seen_once: set[str] = set()
    for n, line in numbered:
        if not line or (line.startswith("#") and not line.startswith("#EXT")):
            continue  # 4.1: blank lines and comments
        if not line.startswith("#"):
            if line != line.strip():
                findings.append(Finding("RFC 8216 4.1", "a URI line has surrounding whitespace", n))
            out.append((n, "", line))
            continue
        tag, colon, value = line[1:].partition(":")
        if tag not in KNOWN:
            findings.append(Finding("RFC 8216 4.1", f"unknown tag #{tag}", n))
            continue
        if tag in VALUELESS:
            if colon:
                findings.append(Finding("RFC 8216 4.3", f"#{tag} takes no value", n))
        elif not colon:
            findings.append(Finding("RFC 8216 4.3", f"#{tag} needs a value", n))
        elif tag in SCALAR and not _scalar_ok(SCALAR[tag], value):
            findings.append(Finding("RFC 8216 4.3", f"#{tag}:{value} is not a valid {SCALAR[tag]}", n))
        if tag in (
            "EXT-X-VERSION",
            "EXT-X-TARGETDURATION",
            "EXT-X-MEDIA-SEQUENCE",
            "EXT-X-DISCONTINUITY-SEQUENCE",
            "EXT-X-PLAYLIST-TYPE",
            "EXT-X-ENDLIST",
            "EXT-X-PART-INF",
            "EXT-X-SERVER-CONTROL",
            "EXT-X-INDEPENDENT-SEGMENTS",
            "EXT-X-SKIP",
        ):
            if tag in seen_once:
                findings.append(Finding("RFC 8216 4.3", f"#{tag} appears more than once", n))
            seen_once.add(tag)
        out.append((n, tag, value if colon else None))
    return out


def _version_needs(playlist_tags: list[tuple[int, str, str | None]], version: int, findings: list[Finding]) -> None:
    """RFC 8216 7 / RFC 8216bis 8: the lowest EXT-X-VERSION each feature needs."""
    i_frames = any(tag == "EXT-X-I-FRAMES-ONLY" for _, tag, _ in playlist_tags)
    for n, tag, value in playlist_tags:
        needed = 1
        if tag == "EXTINF" and value and "." in value.split(",", 1)[0]:
            needed = 3  # floating-point EXTINF
        elif tag in ("EXT-X-BYTERANGE", "EXT-X-I-FRAMES-ONLY"):
            needed = 4
        elif tag == "EXT-X-MAP":
            needed = 5 if i_frames else 6
        elif tag == "EXT-X-DEFINE":
            needed = 8
        elif tag == "EXT-X-SKIP":
            needed = 10 if value and "RECENTLY-REMOVED-DATERANGES" in value else 9
        if needed > version:
            findings.append(
                Finding("RFC 8216bis 8", f"#{tag} needs EXT-X-VERSION {needed} or higher, not {version}", n)
            )


# -- one playlist ------------------------------------------------------------------------------------


def check_multivariant(text: str) -> tuple[MultivariantPlaylist, list[Finding]]:
    findings: list[Finding] = []
    tags = _tags(_lines(text, findings), findings)
    playlist = MultivariantPlaylist()
    pending: dict[str, str] | None = None
    for n, tag, value in tags:
        if tag in MEDIA_ONLY:
            findings.append(Finding("RFC 8216 4.3.4", f"#{tag} belongs in a media playlist", n))
        elif tag == "EXT-X-VERSION":
            playlist.version = int(value or 1)
        elif tag == "EXT-X-INDEPENDENT-SEGMENTS":
            playlist.independent_segments = True
        elif tag == "EXT-X-STREAM-INF":
            pending = _typed(tag, value or "", n, findings)
        elif tag == "":
            if pending is None:
                findings.append(Finding("RFC 8216 4.3.4.2", "a URI line not after EXT-X-STREAM-INF", n))
            else:
                playlist.variants.append(Variant(value or "", pending))
            pending = None
    if pending is not None:
        findings.append(Finding("RFC 8216 4.3.4.2", "EXT-X-STREAM-INF without the URI line after it"))
    if not playlist.variants:
        findings.append(Finding("RFC 8216 4.3.4.2", "a multivariant playlist lists no variant"))
    _version_needs(tags, playlist.version, findings)
    return playlist, findings


@dataclass
class _Pending:
    """Tags read since the last URI line: they apply to the next segment (or its first part)."""

    duration: float | None = None
    discontinuity: bool = False
    date: float | None = None
    gap: bool = False
    parts: list[Part] = field(default_factory=list)
    parent_tags_after_part: list[str] = field(default_factory=list)


def check_media(text: str, request: dict[str, str] | None = None) -> tuple[MediaPlaylist, list[Finding]]:
    """One media playlist; `request`: the delivery directives it answered (RFC 8216bis 6.2.5)."""
    findings: list[Finding] = []
    tags = _tags(_lines(text, findings), findings)
    playlist = MediaPlaylist()
    pending = _Pending()
    map_uri: str | None = None
    cc = 0
    seen_segment = False
    for n, tag, value in tags:
        value = value or ""
        if tag in MULTIVARIANT_ONLY:
            findings.append(Finding("RFC 8216 4.3.4", f"#{tag} belongs in a multivariant playlist", n))
        elif tag == "EXT-X-VERSION":
            playlist.version = int(value) if value.isdigit() else 1
        elif tag == "EXT-X-TARGETDURATION":
            playlist.target = int(value) if value.isdigit() else None
        elif tag in ("EXT-X-MEDIA-SEQUENCE", "EXT-X-DISCONTINUITY-SEQUENCE", "EXT-X-SKIP"):
            if seen_segment or pending.parts:
                findings.append(Finding("RFC 8216 4.3.3.2", f"#{tag} MUST appear before the first segment", n))
            if tag == "EXT-X-MEDIA-SEQUENCE":
                playlist.media_sequence = int(value) if value.isdigit() else 0
            elif tag == "EXT-X-DISCONTINUITY-SEQUENCE":
                playlist.discontinuity_sequence = cc = int(value) if value.isdigit() else 0
            else:
                skip = _typed(tag, value, n, findings)
                playlist.skipped = int(skip.get("SKIPPED-SEGMENTS", "0") or 0)
        elif tag == "EXT-X-PLAYLIST-TYPE":
            playlist.playlist_type = value
        elif tag == "EXT-X-ENDLIST":
            playlist.endlist = True
        elif tag == "EXT-X-INDEPENDENT-SEGMENTS":
            playlist.independent_segments = True
        elif tag == "EXT-X-PART-INF":
            part_target = _typed(tag, value, n, findings).get("PART-TARGET")
            playlist.part_target = float(part_target) if part_target and _FLOAT.fullmatch(part_target) else None
        elif tag == "EXT-X-SERVER-CONTROL":
            playlist.control = _typed(tag, value, n, findings)
        elif tag == "EXT-X-PRELOAD-HINT":
            hint = _typed(tag, value, n, findings)
            playlist.hints.append((hint.get("TYPE", ""), hint.get("URI", "")))
        elif tag == "EXT-X-RENDITION-REPORT":
            report = _typed(tag, value, n, findings)
            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^/", report.get("URI", "")):
                findings.append(Finding("RFC 8216bis 4.4.5.4", "a rendition report's URI MUST be relative", n))
            playlist.reports.append(report)
        elif tag == "EXT-X-MAP":
            map_uri = _typed(tag, value, n, findings).get("URI")
            if pending.parts:
                pending.parent_tags_after_part.append(tag)
        elif tag == "EXT-X-DISCONTINUITY":
            if pending.parts:
                pending.parent_tags_after_part.append(tag)
            pending.discontinuity = True
            cc += 1
        elif tag == "EXT-X-PROGRAM-DATE-TIME":
            if pending.parts:
                pending.parent_tags_after_part.append(tag)
            if _DATE.fullmatch(value):
                pending.date = datetime.fromisoformat(value).timestamp()
        elif tag == "EXT-X-GAP":
            pending.gap = True
        elif tag == "EXT-X-PART":
            attributes = _typed(tag, value, n, findings)
            duration = attributes.get("DURATION", "")
            pending.parts.append(
                Part(
                    attributes.get("URI", ""),
                    float(duration) if _FLOAT.fullmatch(duration) else 0.0,
                    attributes.get("INDEPENDENT") == "YES",
                    attributes.get("GAP") == "YES",
                    n,
                )
            )
        elif tag == "EXTINF":
            if pending.duration is not None:
                findings.append(Finding("RFC 8216 4.3.2.1", "two EXTINF tags for one segment", n))
            duration = value.split(",", 1)[0]
            pending.duration = float(duration) if _FLOAT.fullmatch(duration) else 0.0
        elif tag == "":
            seen_segment = True
            if pending.duration is None:
                findings.append(Finding("RFC 8216 4.3.2.1", "a segment without EXTINF", n))
            segment = Segment(
                playlist.next_msn,
                value,
                pending.duration or 0.0,
                n,
                pending.discontinuity,
                map_uri,
                pending.date,
                pending.parts,
                cc,
                pending.gap,
            )
            _check_parent_tags(pending, n, findings)
            playlist.segments.append(segment)
            pending = _Pending()
    playlist.open_parts = pending.parts
    playlist.open_map_uri = map_uri
    playlist.open_discontinuity = pending.discontinuity
    if pending.parts:
        _check_parent_tags(pending, pending.parts[0].line, findings)
    elif pending.duration is not None or pending.discontinuity or pending.date is not None:
        findings.append(Finding("RFC 8216 4.3.2", "segment tags at the end apply to no segment"))
    _check_media_rules(playlist, tags, findings)
    if request:
        _check_directives(playlist, request, findings)
    return playlist, findings


def _check_parent_tags(pending: _Pending, line: int, findings: list[Finding]) -> None:
    # 8216bis 4.4.4.9: they apply to the first part too, so they come before it.
    findings.extend(
        Finding("RFC 8216bis 4.4.4.9", f"#{tag} after the first EXT-X-PART of its segment", line)
        for tag in pending.parent_tags_after_part
    )


def _check_media_rules(playlist: MediaPlaylist, tags: list, findings: list[Finding]) -> None:
    _version_needs(tags, playlist.version, findings)
    target = playlist.target
    if target is None:
        findings.append(Finding("RFC 8216 4.3.3.1", "EXT-X-TARGETDURATION is REQUIRED"))
        target = 0
    findings.extend(
        Finding(
            "RFC 8216 4.3.3.1", f"EXTINF {segment.duration} rounds above the target duration {target}", segment.line
        )
        for segment in playlist.segments
        if math.floor(segment.duration + 0.5) > target
    )
    if playlist.playlist_type not in (None, "EVENT", "VOD"):
        findings.append(Finding("RFC 8216 4.3.3.5", f"EXT-X-PLAYLIST-TYPE {playlist.playlist_type}"))
    if playlist.skipped and "CAN-SKIP-UNTIL" not in playlist.control:
        findings.append(Finding("RFC 8216bis 6.2.5.1", "EXT-X-SKIP in a playlist that offers no CAN-SKIP-UNTIL"))
    fmp4 = any(segment.uri.split("?")[0].endswith((".m4s", ".mp4")) for segment in playlist.segments)
    if fmp4 and playlist.segments and playlist.segments[0].map_uri is None:
        findings.append(
            Finding("RFC 8216 4.3.2.5", "fMP4 segments need EXT-X-MAP before the first one", playlist.segments[0].line)
        )
    _check_dates(playlist, findings)
    _check_parts(playlist, target, findings)
    _check_control(playlist, target, findings)
    _check_hints(playlist, findings)


def _check_dates(playlist: MediaPlaylist, findings: list[Finding]) -> None:
    previous: Segment | None = None
    for segment in playlist.segments:
        if previous is not None and segment.date is not None and previous.date is not None:
            if segment.date <= previous.date:
                findings.append(Finding("RFC 8216 4.3.2.6", "EXT-X-PROGRAM-DATE-TIME goes backwards", segment.line))
            elif not segment.discontinuity and abs(segment.date - (previous.date + previous.duration)) > TIME_TOLERANCE:
                # 4.3.2.6: the date of a segment's first sample; without a discontinuity the
                # next segment's follows from the duration of this one.
                findings.append(
                    Finding(
                        "RFC 8216 4.3.2.6",
                        f"EXT-X-PROGRAM-DATE-TIME is {segment.date - previous.date:.3f}"
                        f" s after the last, whose EXTINF is {previous.duration}",
                        segment.line,
                    )
                )
        previous = segment


def _check_parts(playlist: MediaPlaylist, target: int, findings: list[Finding]) -> None:
    parts = playlist.all_parts
    if not parts:
        return
    if playlist.part_target is None:
        findings.append(Finding("RFC 8216bis 4.4.3.7", "EXT-X-PART-INF is REQUIRED with EXT-X-PART tags"))
        return
    part_target = playlist.part_target
    parents = [segment.parts for segment in playlist.segments] + [playlist.open_parts]
    for index, run in enumerate(parents):
        complete = index < len(parents) - 1  # the open segment's last part is not its final one
        for position, part in enumerate(run):
            if part.duration > part_target + 1e-9:
                findings.append(
                    Finding(
                        "RFC 8216bis 4.4.4.9",
                        f"part of {part.duration} s is longer than PART-TARGET {part_target}",
                        part.line,
                    )
                )
            final = complete and position == len(run) - 1
            before_gap = position + 1 < len(run) and run[position + 1].gap
            if part.duration < 0.85 * part_target - 1e-9 and not (part.independent or part.gap or final or before_gap):
                findings.append(
                    Finding(
                        "RFC 8216bis 4.4.4.9",
                        f"part of {part.duration} s is under 85 % of PART-TARGET {part_target}",
                        part.line,
                    )
                )
    for position, segment in enumerate(playlist.segments):
        listed = sum(part.duration for part in segment.parts)
        # The oldest segment with parts may have lost its first ones (6.2.2 removes in order).
        whole = segment.parts and position > 0 and playlist.segments[position - 1].parts
        if whole and abs(listed - segment.duration) > TIME_TOLERANCE * len(segment.parts):
            findings.append(
                Finding(
                    "RFC 8216bis 3.2", f"parts add up to {listed:.3f} s, EXTINF says {segment.duration}", segment.line
                )
            )
    if not playlist.endlist and target:
        # 6.2.2: parts SHOULD go once more than three target durations from the end.
        distance = playlist.duration
        for segment in playlist.segments:
            if segment.parts and distance - segment.duration > 3 * target + TIME_TOLERANCE:
                findings.append(
                    Finding(
                        "RFC 8216bis 6.2.2", "parts listed more than three target durations from the end", segment.line
                    )
                )
            distance -= segment.duration


def _check_control(playlist: MediaPlaylist, target: int, findings: list[Finding]) -> None:
    control = {
        name: float(value)
        for name, value in playlist.control.items()
        if name in ("CAN-SKIP-UNTIL", "HOLD-BACK", "PART-HOLD-BACK") and _FLOAT.fullmatch(value)
    }
    if playlist.part_target is not None:
        hold_back = control.get("PART-HOLD-BACK")
        if hold_back is None:
            findings.append(Finding("RFC 8216bis 4.4.3.8", "PART-HOLD-BACK is REQUIRED with EXT-X-PART-INF"))
        elif hold_back < 3 * playlist.part_target - 1e-9:
            # MUST be >= 2x, SHOULD be >= 3x: the gateway promises the SHOULD.
            findings.append(
                Finding(
                    "RFC 8216bis 4.4.3.8",
                    f"PART-HOLD-BACK {hold_back} is under three times PART-TARGET {playlist.part_target}",
                )
            )
    if "HOLD-BACK" in control and control["HOLD-BACK"] < 3 * target:
        findings.append(Finding("RFC 8216bis 4.4.3.8", "HOLD-BACK under three target durations"))
    if "CAN-SKIP-UNTIL" in control and control["CAN-SKIP-UNTIL"] < 6 * target:
        findings.append(Finding("RFC 8216bis 4.4.3.8", "CAN-SKIP-UNTIL under six target durations"))
    if "CAN-SKIP-DATERANGES" in playlist.control and "CAN-SKIP-UNTIL" not in playlist.control:
        findings.append(Finding("RFC 8216bis 4.4.3.8", "CAN-SKIP-DATERANGES needs CAN-SKIP-UNTIL"))


def _check_hints(playlist: MediaPlaylist, findings: list[Finding]) -> None:
    if playlist.hints and playlist.endlist:
        findings.append(Finding("RFC 8216bis 4.4.5.3", "EXT-X-PRELOAD-HINT in a playlist with EXT-X-ENDLIST"))
    types = [kind for kind, _ in playlist.hints]
    if len(types) != len(set(types)):
        findings.append(Finding("RFC 8216bis 6.2.6", "more than one EXT-X-PRELOAD-HINT of a TYPE"))
    listed = {part.uri for part in playlist.all_parts}
    for kind, uri in playlist.hints:
        if kind == "PART" and uri in listed:
            findings.append(Finding("RFC 8216bis 4.4.5.3", f"the preload hint {uri} is already a listed part"))


def _check_directives(playlist: MediaPlaylist, request: dict[str, str], findings: list[Finding]) -> None:
    """RFC 8216bis 6.2.5: what an answer to these delivery directives must hold."""
    if playlist.endlist:
        return  # 6.2.5.2 / 6.2.5.1: directives are ignored once the playlist has ENDLIST
    msn = request.get("_HLS_msn")
    if msn is not None and not _holds(playlist, int(msn), request.get("_HLS_part")):
        findings.append(
            Finding(
                "RFC 8216bis 6.2.5.2",
                f"answered _HLS_msn={msn} _HLS_part={request.get('_HLS_part')} without what it asked for",
            )
        )
    if request.get("_HLS_skip") in ("YES", "v2") and "CAN-SKIP-UNTIL" in playlist.control and playlist.segments:
        # 6.2.5.1: every segment further from the end than the skip boundary is replaced;
        # the first one left must be within it (or carry parts, which are never skipped).
        first = playlist.segments[0]
        if not first.parts and playlist.duration > float(playlist.control["CAN-SKIP-UNTIL"]) + TIME_TOLERANCE:
            findings.append(
                Finding("RFC 8216bis 6.2.5.1", "a delta update kept a segment beyond the skip boundary", first.line)
            )


def _holds(playlist: MediaPlaylist, msn: int, part: str | None) -> bool:
    last_closed = playlist.next_msn - 1
    if part is None:
        return last_closed >= msn
    index = int(part)
    if msn < last_closed:
        return True  # a later segment is complete: the part, or part 0 after it, is there
    if msn == last_closed:
        # 6.2.5.2: a part index past the segment's last part means part 0 of the next.
        return index < len(playlist.segments[-1].parts) or bool(playlist.open_parts)
    return msn == playlist.next_msn and len(playlist.open_parts) > index


# -- across reloads (RFC 8216 6.2.1, 6.2.2) ------------------------------------------------------------


@dataclass
class _Known:
    uri: str
    duration: float
    date: float | None
    discontinuity: bool
    map_uri: str | None
    cc: int


class MediaHistory:
    """Every answer of one rendition, in order: each is checked alone and against the last."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.full: MediaPlaylist | None = None  # the last playlist without EXT-X-SKIP
        self.last: MediaPlaylist | None = None
        self.known: dict[int, _Known] = {}  # every segment seen, by media sequence number
        self.parts: dict[tuple[int, int], tuple[str, float, bool]] = {}
        self.hinted: str | None = None
        self.findings: list[Finding] = []
        self.answers = 0

    def add(self, text: str, request: dict[str, str] | None = None) -> MediaPlaylist:
        playlist, findings = check_media(text, request)
        self.findings += findings
        self._against_last(playlist)
        self.answers += 1
        self.last = playlist
        if not playlist.skipped:
            self.full = playlist
        return playlist

    def finish(self, *, ended: bool = False) -> list[Finding]:
        """All findings; `ended`: the stream is over, so the playlist must say EXT-X-ENDLIST."""
        if ended and (self.last is None or not self.last.endlist):
            self.findings.append(Finding("RFC 8216 4.3.3.4", "a finished playlist without EXT-X-ENDLIST"))
        return self.findings

    def _note(self, rule: str, message: str) -> None:
        self.findings.append(Finding(rule, f"{self.name} answer {self.answers + 1}: {message}"))

    def _against_last(self, new: MediaPlaylist) -> None:
        last = self.last
        if last is not None:
            if new.target != last.target:
                self._note("RFC 8216 6.2.1", f"EXT-X-TARGETDURATION changed from {last.target} to {new.target}")
            if new.part_target != last.part_target:
                self._note("RFC 8216 6.2.1", f"PART-TARGET changed from {last.part_target} to {new.part_target}")
            if new.media_sequence < last.media_sequence:
                self._note("RFC 8216 6.2.1", "EXT-X-MEDIA-SEQUENCE went down")
            if new.discontinuity_sequence < last.discontinuity_sequence:
                self._note("RFC 8216 6.2.2", "EXT-X-DISCONTINUITY-SEQUENCE went down")
            if last.endlist and (new.next_msn != last.next_msn or not new.endlist):
                self._note("RFC 8216 6.2.1", "the playlist changed after EXT-X-ENDLIST")
            if new.playlist_type == "EVENT" and new.media_sequence != last.media_sequence:
                self._note("RFC 8216 6.2.1", "an EVENT playlist removed segments")
            if new.next_msn < last.next_msn:
                self._note("RFC 8216 6.2.1", "segments disappeared from the end")
            if last.hints and self._hint_broken(last, new):
                self._note("RFC 8216bis 4.4.5.3", f"the part after the hint {last.hints[0][1]} has another URI")
        if new.skipped:
            self._merge_delta(new)
        self._compare_segments(new)

    def _restore_cc(self, delta: MediaPlaylist) -> None:
        """4.4.5.2: skipping keeps EXT-X-DISCONTINUITY-SEQUENCE, so the skipped segments'
        discontinuities still count toward the ones shown, as a client merging counts them."""
        hidden = sum(
            self.known[msn].discontinuity for msn in range(delta.media_sequence, delta.media_sequence + delta.skipped)
        )
        for segment in delta.segments:
            segment.cc += hidden

    def _hint_broken(self, last: MediaPlaylist, new: MediaPlaylist) -> bool:
        hinted = next((uri for kind, uri in last.hints if kind == "PART"), None)
        last_parts = last.all_parts
        if hinted is None or not last_parts:
            return False
        new_parts = [part.uri for part in new.all_parts]
        if last_parts[-1].uri not in new_parts:
            return False  # slid out of the part window: nothing to compare
        after = new_parts.index(last_parts[-1].uri) + 1
        return after < len(new_parts) and new_parts[after] != hinted

    def _merge_delta(self, delta: MediaPlaylist) -> None:
        """6.2.5.1: the skipped segments are the oldest of the full playlist a client holds,
        and each of them is further from the end than the skip boundary."""
        skipped = range(delta.media_sequence, delta.media_sequence + delta.skipped)
        missing = [msn for msn in skipped if msn not in self.known]
        if missing:
            self._note("RFC 8216bis 6.2.5.1", f"skipped segments {missing} were never in a full playlist")
            return
        self._restore_cc(delta)
        skip_until = float(delta.control.get("CAN-SKIP-UNTIL", "0") or 0)
        distance = delta.duration + sum(self.known[msn].duration for msn in skipped)
        for msn in skipped:
            if distance <= skip_until - TIME_TOLERANCE:
                self._note("RFC 8216bis 6.2.5.1", f"segment {msn} was skipped though within the skip boundary")
            distance -= self.known[msn].duration

    def _compare_segments(self, new: MediaPlaylist) -> None:
        for segment in new.segments:
            seen = _Known(
                segment.uri, segment.duration, segment.date, segment.discontinuity, segment.map_uri, segment.cc
            )
            before = self.known.get(segment.msn)
            if before is not None and before != seen:
                self._note("RFC 8216 6.2.1", f"segment {segment.msn} changed: {before} -> {seen}")
            self.known[segment.msn] = seen
            for index, part in enumerate(segment.parts):
                self._compare_part(segment.msn, len(segment.parts), index, part)
        for index, part in enumerate(new.open_parts):
            self._compare_part(new.next_msn, len(new.open_parts), index, part)

    def _compare_part(self, msn: int, listed: int, index: int, part: Part) -> None:
        value = (part.uri, round(part.duration, 3), part.independent)
        key = (msn, index)
        before = self.parts.get(key)
        if before is not None and before != value:
            self._note("RFC 8216 6.2.1", f"part {index} of segment {msn} changed: {before} -> {value}")
        self.parts[key] = value


# -- the media behind the playlist ----------------------------------------------------------------------


def first_video_keyframe(init: bytes, media: bytes) -> bool | None:
    """Does the media's first video sample start a GOP? None when it has no video."""
    events = Fmp4Reader().feed(init + media)
    video = next((event.track("video") for event in events if isinstance(event, InitSegment)), None)
    for event in events:
        if isinstance(event, Fragment):
            for sample in event.samples:
                if video is not None and sample.track_id == video.track_id:
                    return sample.is_keyframe
    return None


def video_seconds(init: bytes, media: bytes) -> float:
    events = Fmp4Reader().feed(init + media)
    video = next(event.track("video") for event in events if isinstance(event, InitSegment))
    ticks = sum(
        s.duration for e in events if isinstance(e, Fragment) for s in e.samples if s.track_id == video.track_id
    )
    return ticks / video.timescale


def check_media_bytes(
    playlist: MediaPlaylist, inits: dict[str, bytes], media: dict[str, bytes], *, claimed_independent: bool = False
) -> list[Finding]:
    """Claims against the bytes: INDEPENDENT=YES parts and (EXT-X-INDEPENDENT-SEGMENTS, here
    or in the multivariant playlist: `claimed_independent`) segments start with a keyframe
    (RFC 8216bis 4.4.4.9, RFC 8216 4.3.5.1); EXTINF and part DURATION are the media's.
    `inits` and `media` map URIs to bytes; what is missing is not checked."""
    findings: list[Finding] = []
    independent = claimed_independent or playlist.independent_segments
    map_uri = playlist.open_map_uri
    for segment in playlist.segments:
        init = inits.get(segment.map_uri or "")
        if init is None:
            continue
        body = media.get(segment.uri)
        if body is not None:
            if independent and first_video_keyframe(init, body) is False:
                findings.append(
                    Finding(
                        "RFC 8216 4.3.5.1",
                        f"{segment.uri} does not start with a keyframe though EXT-X-INDEPENDENT-SEGMENTS says so",
                        segment.line,
                    )
                )
            if abs(video_seconds(init, body) - segment.duration) > TIME_TOLERANCE:
                findings.append(
                    Finding(
                        "RFC 8216 4.3.2.1",
                        f"{segment.uri} holds {video_seconds(init, body):.4f} s, EXTINF says {segment.duration}",
                        segment.line,
                    )
                )
        findings += _check_part_bytes(segment.parts, init, media)
    if map_uri in inits:
        findings += _check_part_bytes(playlist.open_parts, inits[map_uri], media)
    return findings


def _check_part_bytes(parts: list[Part], init: bytes, media: dict[str, bytes]) -> list[Finding]:
    findings = []
    for part in parts:
        body = media.get(part.uri)
        if body is None:
            continue
        starts = first_video_keyframe(init, body)
        if part.independent and starts is False:
            findings.append(
                Finding("RFC 8216bis 4.4.4.9", f"{part.uri} says INDEPENDENT=YES without a keyframe first", part.line)
            )
        if starts and not part.independent:
            # SHOULD: a part with an independent frame says so, for joining and switching.
            findings.append(Finding("RFC 8216bis 4.4.4.9", f"{part.uri} starts with a keyframe, not marked", part.line))
        if abs(video_seconds(init, body) - part.duration) > TIME_TOLERANCE:
            findings.append(
                Finding(
                    "RFC 8216bis 4.4.4.9",
                    f"{part.uri} holds {video_seconds(init, body):.4f} s, DURATION says {part.duration}",
                    part.line,
                )
            )
    return findings
