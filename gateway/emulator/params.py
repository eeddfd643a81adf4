"""Parsing of GET /media query values (guide, /media parameters). Sans-IO.

Every failure raises ParamError with a one-line message; routes answer it as 400.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.api.query import is_ascii_digits

MATCH_CRITERIA = ("c", "l", "g", "e")  # closest (default), before, after, exact


class ParamError(ValueError):
    """A query parameter has a value the guide does not allow."""


@dataclass(frozen=True, slots=True)
class TimeRef:
    when: float | None  # Unix time; None for live
    match: str = "c"


_BASIC = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(?:\.(\d{1,6}))?Z", re.ASCII)


def parse_time(value: str | None) -> TimeRef:
    """`t`: "live", or an ISO 8601 UTC time, basic (20160310T210100.057Z) or extended
    (2016-03-10T21:01:00.057Z), optionally followed by ",c|l|g|e"."""
    if value is None or value == "live":
        return TimeRef(None)
    text, _, match = value.partition(",")
    match = match or "c"
    if match not in MATCH_CRITERIA:
        raise ParamError(f"t match criteria must be one of c, l, g, e, not {match!r}")
    m = _BASIC.fullmatch(text)
    if m:
        y, mo, d, h, mi, s, frac = m.groups()
        text = f"{y}-{mo}-{d}T{h}:{mi}:{s}" + (f".{frac}" if frac else "") + "Z"
    if not text.endswith("Z"):
        raise ParamError(f"t must be 'live' or an ISO 8601 UTC time ending in Z, not {value!r}")
    try:
        when = datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    except ValueError:
        raise ParamError(f"t must be 'live' or an ISO 8601 UTC time, not {value!r}") from None
    return TimeRef(when.timestamp(), match)


@dataclass(frozen=True, slots=True)
class Roi:
    left: float
    top: float
    right: float
    bottom: float


def parse_roi(value: str | None) -> Roi | None:
    """`roi`: normalized left,top,right,bottom."""
    if value is None:
        return None
    parts = value.split(",")
    try:
        if not value.isascii():  # float() reads Arabic-Indic digits too; the gateway sends repr() of floats (1e-05 too)
            raise ValueError(value)
        left, top, right, bottom = (float(p) for p in parts)
    except ValueError:
        raise ParamError(f"roi must be four numbers left,top,right,bottom, not {value!r}") from None
    if not (0 <= left < right <= 1 and 0 <= top < bottom <= 1):
        raise ParamError(f"roi must satisfy 0 <= left < right <= 1 and 0 <= top < bottom <= 1, not {value!r}")
    return Roi(left, top, right, bottom)


MAX_IMAGE_SIDE = 4096


def parse_size(value: str | None) -> tuple[int, int] | None:
    """`size`: "W,H" or "WxH", optionally followed by comma-separated match criteria
    (e.g. "640,480,le"), which the emulator accepts and ignores: it always returns W x H."""
    if value is None:
        return None
    parts = value.split(",")
    if "x" in parts[0]:
        parts = parts[0].split("x") + parts[1:]
    try:
        if not (is_ascii_digits(parts[0]) and is_ascii_digits(parts[1])) or len(parts[0] + parts[1]) > 10:
            raise ValueError(value)
        width, height = int(parts[0]), int(parts[1])
    except (ValueError, IndexError):
        raise ParamError(f"size must be W,H or WxH, not {value!r}") from None
    if any(not re.fullmatch(r"[a-z]{1,2}", p) for p in parts[2:]):
        raise ParamError(f"size match criteria must be letters, not {value!r}")
    if not (1 <= width <= MAX_IMAGE_SIDE and 1 <= height <= MAX_IMAGE_SIDE):
        raise ParamError(f"size must be between 1 and {MAX_IMAGE_SIDE} on each side, not {value!r}")
    return width, height
