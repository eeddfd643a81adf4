"""One operator steers a camera at a time (sans-IO, a fake clock)."""

from __future__ import annotations

import pytest

from gateway.control.locks import Held, Operator, OperatorLocks

ALICE, BOB, ADMIN = Operator("a", "alice"), Operator("b", "bob"), Operator("admin", "the admin", admin=True)


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def locks(clock: Clock) -> OperatorLocks:
    return OperatorLocks(lapse=10.0, clock=clock, wall=lambda: 1_714_564_800.0)


def test_a_second_operator_is_told_who_holds_the_camera_and_since_when():
    clock = Clock()
    book = locks(clock)
    book.take("cam", ALICE)
    with pytest.raises(Held) as refused:
        book.take("cam", BOB)
    assert str(refused.value) == "camera 'cam' is being steered by alice since 2024-05-01T12:00:00Z"
    assert book.holder("cam").operator == ALICE


def test_the_hold_lapses_ten_seconds_after_the_last_command_and_renews_with_each():
    clock = Clock()
    book = locks(clock)
    book.take("cam", ALICE)
    clock.now += 9
    book.take("cam", ALICE)  # renewed
    clock.now += 9
    with pytest.raises(Held):
        book.take("cam", BOB)
    clock.now += 1
    book.take("cam", BOB)  # 10 s after alice's last command
    assert book.holder("cam").operator == BOB


def test_the_admin_takes_over_and_cameras_are_independent():
    clock = Clock()
    book = locks(clock)
    book.take("cam", ALICE)
    book.take("other", BOB)
    book.take("cam", ADMIN)
    assert book.holder("cam").operator == ADMIN
    with pytest.raises(Held, match="by the admin"):
        book.take("cam", ALICE)
    clock.now += 10
    assert book.holder("cam") is None
