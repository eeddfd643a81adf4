"""GET /timeline's range arithmetic, sans-IO: recorded spans less gaps, motion pairs, and
clipping and merging at a scope."""

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from gateway.emulator.recording_timeline import SCOPES, at_scope, paired, recorded


def test_scopes_are_the_guides_values_as_bucket_lengths():
    assert list(SCOPES) == ["TENTH_SECOND", "1_SECOND", "10_SECONDS", "100_SECONDS", "1000_SECONDS",
                            "10000_SECONDS", "100000_SECONDS", "1000000_SECONDS"]  # fmt: skip
    assert SCOPES["TENTH_SECOND"] == 100 and SCOPES["1000000_SECONDS"] == 1_000_000_000


def test_recorded_is_start_to_now_less_the_gaps():
    assert recorded(1000, 9000, []) == [(1000, 9000)]
    assert recorded(1000, 9000, [(2000, 3000), (5000, 6000)]) == [(1000, 2000), (3000, 5000), (6000, 9000)]
    assert recorded(1000, 9000, [(2000, 4000), (3000, 5000)]) == [(1000, 2000), (5000, 9000)]  # overlapping gaps
    assert recorded(1000, 9000, [(1000, 2000)]) == [(2000, 9000)]  # a gap at the very start
    assert recorded(1000, 9000, [(8000, 20000)]) == [(1000, 8000)]  # a gap running past now
    assert recorded(1000, 9000, [(10000, 20000)]) == [(1000, 9000)]  # a gap still to come
    assert recorded(1000, 1000, []) == []


def test_paired_opens_closes_and_runs_an_open_span_to_now():
    marks = [(100, False), (200, True), (250, True), (300, False), (400, False), (500, True)]
    # The STOP at 100 has no START (it left the log); the START at 250 repeats an open one.
    assert paired(marks, now_ms=900) == [(200, 300), (500, 900)]
    assert paired([], 900) == []
    assert paired([(100, True), (100, False)], 900) == [(100, 100)]


def test_at_scope_clips_to_the_window():
    spans = [(1_000, 5_000), (8_000, 20_000)]
    assert at_scope(spans, (2_000, 12_000), 100) == [(2_000, 5_000), (8_000, 12_000)]
    assert at_scope(spans, (5_000, 8_000), 100) == []  # touching the window is not being in it
    assert at_scope(spans, (30_000, 40_000), 100) == []


def test_at_scope_widens_to_whole_buckets_and_merges_what_touches():
    # Buckets are aligned to the Unix epoch, not to the window.
    assert at_scope([(1_234, 1_250)], (0, 10_000), 100) == [(1_200, 1_300)]
    assert at_scope([(1_234, 1_234)], (0, 10_000), 1_000) == [(1_000, 2_000)]  # an instant fills its bucket
    spans = [(1_050, 1_150), (1_250, 1_350), (1_600, 1_700)]
    assert at_scope(spans, (0, 10_000), 100) == [(1_000, 1_400), (1_600, 1_700)]  # adjacent buckets merge
    assert at_scope(spans, (0, 10_000), 1_000) == [(1_000, 2_000)]  # a gap under the scope disappears
    assert at_scope(spans, (1_100, 1_620), 1_000) == [(1_100, 1_620)]  # clipped again after widening
    assert at_scope([(5_000, 5_000)], (0, 5_000), 1_000) == []  # an instant at the end, on the grid


@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 2_000)), max_size=12),
       st.integers(0, 12_000), st.integers(1, 5_000), st.sampled_from([100, 1_000, 10_000]))  # fmt: skip
def test_at_scope_answers_disjoint_ordered_ranges_inside_the_window(raw, lo, length, scope):
    spans = [(start, start + extra) for start, extra in raw]
    window = (lo, lo + length)
    ranges = at_scope(spans, window, scope)
    assert all(lo <= start < end <= lo + length for start, end in ranges)
    assert all(a_end < b_start for (_, a_end), (b_start, _) in pairwise(ranges))
    # Everything recorded inside the window is covered.
    for start, end in spans:
        start, end = max(start, lo), min(end, lo + length)
        if start < end:
            assert any(r_start <= start and end <= r_end for r_start, r_end in ranges)
