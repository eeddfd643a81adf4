"""Snapshot and image-ref requests: parse, validate and normalise the query. Sans-IO.

Normalising matters twice: equal requests must make equal cache keys (`t=2016-03-10T21:01:00Z`
and `t=20160310T210100.000Z,c` are one snapshot), and only values WEP accepts may reach it.
Every failure is a ParameterError naming the parameter; the route answers it with 400.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TypedDict

from gateway.api.query import ParameterError, is_ascii_decimal
from transcoders.jpeg import Roi

MIN_SIDE, MAX_SIDE = 16, 4096
MATCH_CRITERIA = ("c", "l", "g", "e")  # guide, /media `t`: closest, before, after, exact
# A recorded time this far in the past is settled: the frame WEP picks for it (closest, before,
# after) can no longer change as recording catches up, so its snapshot is immutable. Closer to
# now, a later request may see a frame that had not been written yet.
SETTLED_AFTER = 30.0
MAX_IMAGE_REF_PATH = 1024
_BASIC_TIME = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})", re.ASCII)
_SIZE = re.compile(r"(\d{1,5})[x,](\d{1,5})", re.ASCII)
_REF_TYPE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_SHOWN = 60  # at most this much of a bad value is echoed back


class WepParams(TypedDict):
    """The query of WEP's /media snapshot call (guide, /media)."""

    t: str
    roi: str | None
    size: str | None


@dataclass(frozen=True, slots=True)
class SnapshotTime:
    at: datetime | None  # UTC, millisecond precision; None is live
    match: str = "c"

    @property
    def is_live(self) -> bool:
        return self.at is None

    def wep(self) -> str:
        """The `t` value for WEP, in the guide's basic form: `20160310T210100.057Z,c`."""
        if self.at is None:
            return "live"
        return self.at.strftime("%Y%m%dT%H%M%S.") + f"{self.at.microsecond // 1000:03d}Z,{self.match}"

    def settled(self, now: float) -> bool:
        return self.at is not None and self.at.timestamp() <= now - SETTLED_AFTER


LIVE = SnapshotTime(None)


@dataclass(frozen=True, slots=True)
class SnapshotRequest:
    """One snapshot, normalised; hashable, so it is its own cache key."""

    camera_id: str
    time: SnapshotTime
    roi: Roi | None = None  # None is the whole frame (a full roi normalises to None)
    size: tuple[int, int] | None = None  # exact W x H; None is WEP's native size

    @property
    def is_full_frame(self) -> bool:
        return self.roi is None and self.size is None

    def full_frame(self) -> SnapshotRequest:
        """The uncropped, unscaled snapshot of the same camera and instant."""
        return replace(self, roi=None, size=None)

    def wep_params(self) -> WepParams:
        roi = (
            None
            if self.roi is None
            else ",".join(repr(v) for v in (self.roi.left, self.roi.top, self.roi.right, self.roi.bottom))
        )
        size = None if self.size is None else f"{self.size[0]},{self.size[1]}"  # guide: size=640,480
        return {"t": self.time.wep(), "roi": roi, "size": size}


@dataclass(frozen=True, slots=True)
class ImageRefRequest:
    """An event image (`GET /media/imageRef`): what it shows was stored with the event."""

    camera_id: str
    path: str
    ref_type: str


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "...")


def _single(query: Iterable[tuple[str, str]], names: tuple[str, ...]) -> dict[str, str]:
    """The named parameters, each at most once; others (a cache-buster, a token) are ignored
    and so never split the cache."""
    found: dict[str, str] = {}
    for name, value in query:
        if name in names:
            if name in found:
                raise ParameterError(name, f"{name} is given more than once")
            found[name] = value
    return found


def parse_time(value: str | None) -> SnapshotTime:
    """`t`: `live`, or an ISO 8601 time with a zone (basic or extended), then `,c|l|g|e`."""
    if value is None or value == "live":
        return LIVE
    # An unencoded `+02:00` in a query string arrives as ` 02:00` (form encoding): no time has
    # a space in it, so read it back as the offset the caller meant.
    text, comma, match = value.replace(" ", "+").partition(",")
    if comma and match not in MATCH_CRITERIA:
        raise ParameterError("t", f"t match criteria must be one of c, l, g, e, got {_shown(match)}")
    basic = _BASIC_TIME.fullmatch(text)
    if basic:
        y, mo, d, h, mi, s, fraction, zone = basic.groups()
        text = f"{y}-{mo}-{d}T{h}:{mi}:{s}{(fraction or '')[:7]}{zone}"
    try:
        at = datetime.fromisoformat(text) if "T" in text else None
    except ValueError:
        at = None
    if at is None:
        raise ParameterError(
            "t", f"t must be 'live' or an ISO 8601 time such as 2016-03-10T21:01:00.057Z, got {_shown(value)}"
        )
    if at.tzinfo is None:
        raise ParameterError("t", f"t needs a time zone (Z or +HH:MM), got {_shown(value)}")
    try:
        at = at.astimezone(UTC)
    except OverflowError:
        at = None
    if at is None or at.year < 1970:  # no video system recorded before the Unix epoch
        raise ParameterError("t", f"t is out of range, got {_shown(value)}")
    return SnapshotTime(at.replace(microsecond=at.microsecond // 1000 * 1000), match or "c")


def parse_roi(value: str | None) -> Roi | None:
    """`roi`: normalized left,top,right,bottom (guide, /media `roi`)."""
    if value is None:
        return None
    parts = value.split(",")
    numbers = [float(part) for part in parts] if all(is_ascii_decimal(part) for part in parts) else []
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise ParameterError("roi", f"roi must be four numbers left,top,right,bottom, got {_shown(value)}")
    left, top, right, bottom = (n + 0.0 for n in numbers)  # + 0.0 folds -0.0 into 0.0
    if not (0 <= left < right <= 1 and 0 <= top < bottom <= 1):
        raise ParameterError(
            "roi", f"roi must have 0 <= left < right <= 1 and 0 <= top < bottom <= 1, got {_shown(value)}"
        )
    roi = Roi(left, top, right, bottom)
    return None if roi.is_full else roi


def parse_size(value: str | None) -> tuple[int, int] | None:
    """`size`: WxH (W,H also accepted, as the guide writes it), each side MIN_SIDE..MAX_SIDE."""
    if value is None:
        return None
    m = _SIZE.fullmatch(value)
    if not m or not all(MIN_SIDE <= int(side) <= MAX_SIDE for side in m.groups()):
        raise ParameterError("size", f"size must be WxH with each side {MIN_SIDE}..{MAX_SIDE}, got {_shown(value)}")
    return int(m.group(1)), int(m.group(2))


def parse_snapshot(camera_id: str, query: Iterable[tuple[str, str]]) -> SnapshotRequest:
    given = _single(query, ("t", "roi", "size"))
    return SnapshotRequest(
        camera_id, parse_time(given.get("t")), parse_roi(given.get("roi")), parse_size(given.get("size"))
    )


def parse_image_ref(camera_id: str, query: Iterable[tuple[str, str]]) -> ImageRefRequest:
    """`path` and `type` as an event's imageRef gave them (guide, /media/imageRef)."""
    given = _single(query, ("path", "type"))
    path, ref_type = given.get("path", ""), given.get("type", "")
    if not path:
        raise ParameterError("path", "path is required: the imageRef path of an event")
    if len(path) > MAX_IMAGE_REF_PATH or not path.isprintable():
        raise ParameterError("path", f"path must be printable and at most {MAX_IMAGE_REF_PATH} characters")
    if not ref_type:
        raise ParameterError("type", "type is required: the imageRef type of an event")
    if not _REF_TYPE.fullmatch(ref_type):
        raise ParameterError("type", f"type must be 1..64 letters, digits or _.-, got {_shown(ref_type)}")
    return ImageRefRequest(camera_id, path, ref_type)


def none_match(if_none_match: str | None, etag: str) -> bool:
    """Whether `If-None-Match` names `etag`, so the answer is 304 (RFC 9110 13.1.2: weak
    comparison, a list of entity tags, or `*` for any current representation)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == opaque for tag in if_none_match.split(","))
