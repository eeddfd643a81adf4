"""SendBacklog with plain numbers: delay behind live, the viewer's rate, admission, stalls."""

import pytest

from gateway.live.backlog import SendBacklog


def test_a_viewer_that_keeps_up_is_never_held_and_is_not_behind():
    backlog = SendBacklog(max_delay=2.0, now=0.0)
    for index in range(100):
        now = index / 15
        assert backlog.admits(now, since=now, size=5000)
        backlog.wrote(5000, since=now)
        backlog.measured(now + 0.01, unsent=0)
        assert backlog.delay(now + 0.01) == 0.0
        assert backlog.stalled(now + 0.01) == 0.0
    assert backlog.rate() == pytest.approx(5000 * 15, rel=0.05)


def test_delay_is_the_age_of_the_oldest_frame_not_yet_delivered():
    backlog = SendBacklog(max_delay=2.0, now=0.0)
    backlog.wrote(1000, since=0.0)
    backlog.wrote(1000, since=0.5)
    backlog.wrote(1000, since=1.0)
    backlog.measured(1.0, unsent=3000)
    assert backlog.delay(1.0) == 1.0
    backlog.measured(1.5, unsent=1500)  # the first frame and half the second are through
    assert backlog.delay(1.5) == 1.0  # the second, the viewer's since 0.5
    backlog.measured(2.0, unsent=0)
    assert backlog.delay(2.0) == 0.0


def test_a_slow_viewer_gets_a_frame_only_if_it_can_arrive_within_max_delay():
    backlog = SendBacklog(max_delay=2.0, now=0.0)
    now = 0.0
    # A viewer taking 1000 bytes a second, for longer than the rate window (4 s).
    while now < 6.0:
        backlog.wrote(1000, since=now)
        now += 1.0
        backlog.measured(now, unsent=500)
    assert backlog.rate() == pytest.approx(1000)
    assert backlog.pending == 500
    # 500 ahead + 1000 at 1000 B/s: 1.5 s; the frame may be 0.5 s old, no more.
    assert backlog.admits(now, since=now - 0.5, size=1000)
    assert not backlog.admits(now, since=now - 0.6, size=1000)
    assert not backlog.admits(now, since=now, size=2000)
    backlog.measured(now + 0.5, unsent=0)  # nothing pending: any frame goes, to be sent at all
    assert backlog.admits(now + 0.5, since=now - 1.9, size=50_000)


def test_a_young_connection_filling_the_viewers_receive_buffer_is_not_taken_for_speed():
    backlog = SendBacklog(max_delay=2.0, now=0.0)
    backlog.wrote(20_000, since=0.0)
    backlog.measured(0.1, unsent=12_000)  # 8 kB went at once, into the viewer's kernel
    assert backlog.rate() == pytest.approx(8000 / 2.0)  # not 80 kB/s
    assert not backlog.admits(0.1, since=0.1, size=1000)


def test_the_rate_forgets_what_is_older_than_its_window():
    backlog = SendBacklog(max_delay=1.0, now=0.0)  # window 2 s
    backlog.wrote(100_000, since=0.0)
    backlog.measured(1.0, unsent=0)  # fast at first
    for step in range(1, 31):
        backlog.wrote(1000, since=1.0 + step / 10)
        backlog.measured(1.0 + step / 10, unsent=1000 * step)  # then nothing more for 3 s
    assert backlog.rate() == 0.0
    assert not backlog.admits(4.0, since=4.0, size=1)


def test_stalled_counts_from_the_last_progress_while_bytes_wait():
    backlog = SendBacklog(max_delay=2.0, now=0.0)
    backlog.wrote(10_000, since=0.0)
    backlog.measured(1.0, unsent=4000)
    backlog.measured(5.0, unsent=4000)
    assert backlog.stalled(5.0) == 4.0
    backlog.measured(6.0, unsent=3999)
    assert backlog.stalled(6.5) == 0.5
    backlog.measured(7.0, unsent=0)
    assert backlog.stalled(20.0) == 0.0


def test_nothing_more_goes_while_what_is_on_its_way_is_late_already():
    backlog = SendBacklog(max_delay=2.0, now=0.0)
    backlog.wrote(100_000, since=0.0)
    backlog.measured(1.0, unsent=0)  # a fast viewer: 100 kB/s over its first window
    backlog.wrote(1000, since=1.0)
    backlog.measured(2.9, unsent=1000)
    assert backlog.admits(2.9, since=2.9, size=1000)
    backlog.measured(3.0, unsent=1000)  # the frame of 1.0 is 2 s on its way
    assert backlog.rate() > 10_000
    assert not backlog.admits(3.0, since=3.0, size=1000)
