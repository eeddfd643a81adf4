from dataclasses import dataclass

from gateway.emulator.timeline import LoopCursor, join_index


@dataclass
class P:
    start: int
    duration: int
    keyframe: bool


@dataclass
class L:
    fragments: list
    timescale: int = 10
    loop_ticks: int = 40


# Four pieces of 10 ticks; keyframes at 0 and 20.
LOOP = L([P(0, 10, True), P(10, 10, False), P(20, 10, True), P(30, 10, False)])


def test_join_at_latest_keyframe_on_the_endless_timeline():
    assert join_index(LOOP, 0) == 0
    assert join_index(LOOP, 15) == 0
    assert join_index(LOOP, 25) == 2
    assert join_index(LOOP, 45) == 4  # second pass, first keyframe
    assert join_index(LOOP, 15, after=True) == 2
    assert join_index(LOOP, 35, after=True) == 4
    assert join_index(LOOP, -5) == 2 - 4  # before zero: the previous pass


def test_cursor_times_increase_across_the_loop_point():
    cursor = LoopCursor(LOOP, 2)
    got = [next(cursor) for _ in range(4)]
    assert [s.piece_index for s in got] == [2, 3, 0, 1]
    assert [s.decode_time for s in got] == [20, 30, 40, 50]
    assert [s.due for s in got] == [3.0, 4.0, 5.0, 6.0]  # live: due when complete


def test_recorded_cursor_starts_at_zero_and_is_due_at_start():
    cursor = LoopCursor(LOOP, 6, origin=60, due_at_start=True)
    first, second = next(cursor), next(cursor)
    assert (first.decode_time, first.due) == (0, 6.0)
    assert (second.decode_time, second.due) == (10, 7.0)
