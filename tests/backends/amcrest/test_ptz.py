"""Continuous PTZ vectors as Dahua ptz.cgi commands (sans-IO)."""

from __future__ import annotations

import pytest

from gateway.backends.amcrest.ptz import ptz_command
from gateway.backends.base import PtzVector


@pytest.mark.parametrize(
    ("vector", "command"),
    [
        (PtzVector(pan=1), ("Right", 0, 8)),
        (PtzVector(pan=-0.5), ("Left", 0, 4)),
        (PtzVector(tilt=0.3), ("Up", 0, 2)),
        (PtzVector(tilt=-0.01), ("Down", 0, 1)),  # the slowest speed, never 0
        (PtzVector(pan=0.8, tilt=0.5), ("RightUp", 4, 6)),  # vertical speed in arg1, horizontal in arg2
        (PtzVector(pan=-0.6, tilt=-0.6), ("LeftDown", 5, 5)),
        (PtzVector(pan=0.8, tilt=0.3), ("Right", 0, 6)),  # the smaller part under half: straight
        (PtzVector(zoom=0.5), ("ZoomTele", 0, 4)),
        (PtzVector(pan=0.2, zoom=-0.9), ("ZoomWide", 0, 7)),
    ],
)
def test_vectors_become_dahua_codes(vector, command):
    assert ptz_command(vector) == command
