"""M3U8 rendering (RFC 8216bis), sans-IO: plain values in, playlist text out.

No playlist claims EXT-X-INDEPENDENT-SEGMENTS: in a multivariant playlist it would speak
for every segment of every variant (RFC 8216 4.3.5.1), and a segment cut at the target
duration starts mid-GOP (gateway/hls/segmenter.py). Parts say INDEPENDENT=YES where a
keyframe starts them, which is what LL-HLS players join and switch on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

# EXT-X-SKIP / CAN-SKIP-UNTIL need version 9 (RFC 8216bis 7); fMP4 with EXT-X-MAP needs 6+.
VERSION = 9
# Stands where a URI's query goes in a playlist shared by viewers: replaced by each one's
# own (the muxer, for its players; the edge tier's sub_filter, deploy/nginx/edge.conf).
TOKEN_SLOT = "__wepgw_token__"


@dataclass(frozen=True, slots=True)
class Variant:
    uri: str
    bandwidth: int
    width: int
    height: int
    codecs: str


@dataclass(frozen=True, slots=True)
class PlaylistPart:
    uri: str
    duration: float
    independent: bool


@dataclass(frozen=True, slots=True)
class PlaylistSegment:
    uri: str
    duration: float
    program_date_time: float  # unix seconds
    discontinuity: bool
    map_uri: str  # the init segment it needs
    parts: tuple[PlaylistPart, ...] = ()  # listed only near the live edge


@dataclass(frozen=True, slots=True)
class MediaPlaylist:
    target_duration: int
    part_target: float
    media_sequence: int
    discontinuity_sequence: int
    segments: tuple[PlaylistSegment, ...]
    open_parts: tuple[PlaylistPart, ...]  # parts of the segment being written
    open_map_uri: str
    open_discontinuity: bool
    preload_hint_uri: str
    skip_until: float = 0.0  # CAN-SKIP-UNTIL; 0 = delta updates not offered
    skipped_segments: int = 0  # >0 renders a delta update (EXT-X-SKIP)
    part_hold_back: float = field(default=0.0)


def with_query(uri: str, query: str) -> str:
    """Carry the request's own query (the viewer token) onto every URI we list."""
    return f"{uri}?{query}" if query else uri


def render_multivariant(variants: list[Variant]) -> str:
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{VERSION}"]
    for variant in variants:
        attributes = [f"BANDWIDTH={variant.bandwidth}"]
        if variant.width and variant.height:
            attributes.append(f"RESOLUTION={variant.width}x{variant.height}")
        if variant.codecs:
            attributes.append(f'CODECS="{variant.codecs}"')
        lines.append("#EXT-X-STREAM-INF:" + ",".join(attributes))
        lines.append(variant.uri)
    return "\n".join(lines) + "\n"


def _date(unix: float) -> str:
    moment = datetime.fromtimestamp(unix, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _seconds(value: float) -> str:
    # Millisecond precision; trailing zeros trimmed so "1.000" reads "1".
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def _part_line(part: PlaylistPart) -> str:
    line = f'#EXT-X-PART:DURATION={_seconds(part.duration)},URI="{part.uri}"'
    return line + ",INDEPENDENT=YES" if part.independent else line


def segment_lines(segments) -> list[str]:
    """The lines of a run of segments: map changes, discontinuities, dates, parts, EXTINF.
    Shared by the live (LL-HLS) and the recorded (EVENT) media playlists."""
    lines: list[str] = []
    current_map = None
    for segment in segments:
        if segment.map_uri != current_map:
            lines.append(f'#EXT-X-MAP:URI="{segment.map_uri}"')
            current_map = segment.map_uri
        if segment.discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_date(segment.program_date_time)}")
        lines.extend(_part_line(part) for part in segment.parts)
        lines.append(f"#EXTINF:{_seconds(segment.duration)},")
        lines.append(segment.uri)
    return lines


def render_media(playlist: MediaPlaylist) -> str:
    part_hold_back = playlist.part_hold_back or 3 * playlist.part_target
    control = f"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={_seconds(part_hold_back)}"
    if playlist.skip_until:
        control += f",CAN-SKIP-UNTIL={_seconds(playlist.skip_until)}"
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{VERSION}",
        f"#EXT-X-TARGETDURATION:{playlist.target_duration}",
        control,
        f"#EXT-X-PART-INF:PART-TARGET={_seconds(playlist.part_target)}",
        f"#EXT-X-MEDIA-SEQUENCE:{playlist.media_sequence}",
        f"#EXT-X-DISCONTINUITY-SEQUENCE:{playlist.discontinuity_sequence}",
    ]
    shown = playlist.segments[playlist.skipped_segments :]
    if playlist.skipped_segments:
        # RFC 8216bis 4.4.5.2: replaces the oldest segments of a delta update.
        lines.append(f"#EXT-X-SKIP:SKIPPED-SEGMENTS={playlist.skipped_segments}")
    lines.extend(segment_lines(shown))
    current_map = shown[-1].map_uri if shown else None
    if playlist.open_parts:
        # Only once it has a part: a tag must be followed by the segment it applies to.
        if playlist.open_map_uri != current_map:
            lines.append(f'#EXT-X-MAP:URI="{playlist.open_map_uri}"')
        if playlist.open_discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")
    lines.extend(_part_line(part) for part in playlist.open_parts)
    # RFC 8216bis 4.4.5.3: the part being written; hls.js loops without one (gohlslib note).
    lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{playlist.preload_hint_uri}"')
    return "\n".join(lines) + "\n"
