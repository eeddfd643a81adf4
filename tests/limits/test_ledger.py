"""The viewer ledger (sans-IO): slots per camera and in total, sessions, HLS players."""

from __future__ import annotations

import pytest

from gateway.limits.ledger import OverLimit, ViewerLedger


def test_per_camera_and_total_limits():
    ledger = ViewerLedger(per_camera=2, total=3, hls_window=10, clock=lambda: 0.0)
    a1, a2 = ledger.take("a", "live"), ledger.take("a", "webrtc")
    with pytest.raises(OverLimit, match="this camera has 2"):
        ledger.take("a", "live")
    ledger.take("b", "live")
    with pytest.raises(OverLimit, match="serves 3"):
        ledger.take("c", "live")
    ledger.give_back(a1)
    ledger.give_back(a1)  # twice is once
    ledger.take("a", "talk")
    assert ledger.viewers() == {("a", "webrtc"): 1, ("a", "talk"): 1, ("b", "live"): 1}
    assert ledger.refused == {"live": 2} and ledger.count == 3
    ledger.give_back(a2)
    assert ledger.count == 2


def test_sessions_end_by_location_once():
    ledger = ViewerLedger(5, 5, 10, clock=lambda: 0.0)
    slot = ledger.take("a", "webrtc")
    ledger.bind(slot, "/whep/a/s1")
    assert [location for location, _ in ledger.sessions()] == ["/whep/a/s1"]
    ledger.end_session("/whep/a/s1")
    ledger.end_session("/whep/a/s1")
    ledger.give_back(slot)
    assert ledger.count == 0 and not list(ledger.sessions())


def test_hls_players_are_counted_while_they_poll():
    now = [0.0]
    ledger = ViewerLedger(per_camera=2, total=10, hls_window=5, clock=lambda: now[0])
    assert ledger.player_seen("a", "token-1") is True
    assert ledger.player_seen("a", "token-1") is False  # the same player polling
    assert ledger.player_seen("a", "10.0.0.2") is True
    with pytest.raises(OverLimit):
        ledger.player_seen("a", "token-3")
    now[0] = 4.0
    ledger.player_seen("a", "token-1")  # still polling
    now[0] = 8.0  # 10.0.0.2 stopped at 0.0: forgotten after the window
    assert ledger.player_seen("a", "token-3") is True
    assert ledger.viewers() == {("a", "hls"): 2}
    ledger.forget_player("a", "token-3")
    assert ledger.viewers() == {("a", "hls"): 1}
