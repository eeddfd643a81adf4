"""The push state machine, backoff and bitrate meter (sans-IO)."""

import random

import pytest

from gateway.rtmp.state import TRANSITIONS, Backoff, BitrateMeter, IllegalTransition, PushState, PushStatus


def test_a_push_goes_live_retries_and_comes_back():
    status = PushStatus()
    status.enter(PushState.STARTING, 1.0)
    status.enter(PushState.LIVE, 2.0)
    status.enter(PushState.RETRYING, 3.0, "destination dropped the connection", retry_at=4.0)
    assert (status.state, status.since, status.retry_at) == (PushState.RETRYING, 3.0, 4.0)
    status.enter(PushState.STARTING, 4.0)
    status.enter(PushState.LIVE, 5.0)
    assert status.states_seen == ["starting", "live", "retrying", "starting", "live"]
    assert status.last_error == "destination dropped the connection"  # kept for the operator
    assert status.attempts == 2


@pytest.mark.parametrize("before", list(PushState))
def test_only_the_drawn_transitions_are_allowed(before):
    for after in PushState:
        status = PushStatus()
        status.enter(PushState.STARTING, 0.0)
        status.state = before
        if after in TRANSITIONS[before]:
            status.enter(after, 1.0)
            assert status.state is after
        else:
            with pytest.raises(IllegalTransition, match=f"push cannot go from {before.value} to {after.value}"):
                status.enter(after, 1.0)


def test_failed_and_stopped_are_final():
    assert TRANSITIONS[PushState.FAILED] == {PushState.STOPPED}
    assert TRANSITIONS[PushState.STOPPED] == set()


def test_history_is_bounded():
    status = PushStatus()
    status.enter(PushState.STARTING, 0.0)
    for i in range(100):
        status.enter(PushState.RETRYING, i, "x")
        status.enter(PushState.STARTING, i)
    assert len(status.history) == 32


def test_backoff_doubles_with_jitter_and_caps():
    backoff = Backoff(initial=1.0, maximum=30.0)
    rng = random.Random(7)
    for attempt, ceiling in [(0, 1), (1, 2), (2, 4), (3, 8), (4, 16), (5, 30), (50, 30)]:
        for _ in range(20):
            assert ceiling / 2 <= backoff.delay(attempt, rng) <= ceiling


def test_bitrate_over_whole_windows():
    meter = BitrateMeter(window=1.0)
    assert meter.sample(0.0, 0) == 0.0
    assert meter.sample(0.5, 50_000) == 0.0  # window not complete yet
    assert meter.sample(1.0, 250_000) == 2_000_000.0
    assert meter.sample(2.0, 250_000) == 0.0
