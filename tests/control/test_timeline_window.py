"""A timeline query's window: defaults, the scope chosen from the span, rounding, refusals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.api.errors import ApiError
from gateway.control.recordings import timeline_window

NOW = datetime(2026, 11, 30, 12, 34, 56, 789000, tzinfo=UTC)


def test_the_default_is_the_last_hour_at_a_scope_under_two_thousand_intervals():
    start, end, scope = timeline_window({}, NOW)
    assert scope == "10_SECONDS"  # 3600 s / 10 s = 360 intervals; 1 s would be 3600
    assert (start.isoformat(), end.isoformat()) == ("2026-11-30T11:34:50+00:00", "2026-11-30T12:35:00+00:00")


def test_a_given_window_and_scope_are_kept_and_rounded_outwards():
    start, end, scope = timeline_window(
        {"from": "2026-11-30T10:00:01Z", "to": "2026-11-30T10:00:59.5Z", "scope": "1_SECOND"}, NOW
    )
    assert (start.isoformat(), end.isoformat(), scope) == (
        "2026-11-30T10:00:01+00:00",
        "2026-11-30T10:01:00+00:00",
        "1_SECOND",
    )


def test_a_week_gets_a_coarse_scope():
    assert timeline_window({"from": "2026-11-23T12:00:00Z", "to": "2026-11-30T12:00:00Z"}, NOW)[2] == "1000_SECONDS"


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"from": "yesterday"}, "from must be an ISO 8601 time"),
        ({"from": "2026-11-30T13:00:00Z"}, "from must be before to"),
        ({"from": "2026-01-01T00:00:00Z"}, "at most 31 days"),
        ({"scope": "2_SECONDS"}, "scope must be one of"),
    ],
)
def test_bad_windows_are_refused_naming_the_problem(query, words):
    with pytest.raises(ApiError) as refused:
        timeline_window(query, NOW)
    assert refused.value.status == 400 and words in refused.value.message
