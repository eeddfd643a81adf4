"""The ranges GET /timeline answers (guide, /timeline): when a camera recorded and when it saw
motion, clipped to the asked window and merged at the asked scope. Sans-IO: times are Unix
milliseconds and "now" is passed in.

Guide, scope: "The returned intervals will have a representative length of at least
X_SECONDS". Here a scope is a grid of X-second buckets aligned to the Unix epoch (so two
pages of a longer window agree): a range covers every bucket it touches, ranges whose
buckets touch or overlap become one, and the result is clipped to the window again.
"""

from __future__ import annotations

from collections.abc import Iterable

Span = tuple[int, int]  # [start, end] in Unix ms

SCOPES: dict[str, int] = {  # guide, scope "Available values", as bucket lengths in ms
    "TENTH_SECOND": 100,
    "1_SECOND": 1_000,
    "10_SECONDS": 10_000,
    "100_SECONDS": 100_000,
    "1000_SECONDS": 1_000_000,
    "10000_SECONDS": 10_000_000,
    "100000_SECONDS": 100_000_000,
    "1000000_SECONDS": 1_000_000_000,
}
STORAGES = ("LAYER_1", "LAYER_2", "ALL")  # guide, storage; default LAYER_1


def recorded(start_ms: int, now_ms: int, gaps: Iterable[Span]) -> list[Span]:
    """[start, now] less the gaps, oldest first: the emulator records continuously from its
    start except where a gap says it did not."""
    spans = [(start_ms, now_ms)] if now_ms > start_ms else []
    for gap_start, gap_end in gaps:
        kept: list[Span] = []
        for start, end in spans:
            if gap_end <= start or gap_start >= end:
                kept.append((start, end))
                continue
            if start < gap_start:
                kept.append((start, gap_start))
            if gap_end < end:
                kept.append((gap_end, end))
        spans = kept
    return spans


def paired(marks: Iterable[tuple[int, bool]], now_ms: int) -> list[Span]:
    """Spans from (ms, opens) marks of one camera, oldest first: a START opens a span (another
    START while one is open changes nothing), a STOP closes it, a STOP with nothing open (its
    START has left the bounded log) is ignored, and a span still open runs to now."""
    spans: list[Span] = []
    opened: int | None = None
    for ms, opens in marks:
        if opens:
            opened = ms if opened is None else opened
        elif opened is not None:
            spans.append((opened, ms))
            opened = None
    if opened is not None:
        spans.append((opened, max(opened, now_ms)))
    return spans


def _inside(span: Span, window: Span) -> bool:
    """A span with length must overlap the window; an instant must lie in it."""
    (start, end), (lo, hi) = span, window
    if start == end:
        return lo <= start <= hi
    return start < hi and end > lo


def at_scope(spans: Iterable[Span], window: Span, scope_ms: int) -> list[Span]:
    """The spans inside `window`, widened to whole `scope_ms` buckets, merged, and clipped."""
    lo, hi = window
    merged: list[Span] = []
    for start, end in sorted(s for s in spans if _inside(s, window)):
        start, end = max(start, lo), min(end, hi)
        first = start // scope_ms * scope_ms
        last = max(-(-end // scope_ms) * scope_ms, first + scope_ms)  # an instant fills its bucket
        if merged and first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    clipped = ((max(start, lo), min(end, hi)) for start, end in merged)
    return [(start, end) for start, end in clipped if end > start]
