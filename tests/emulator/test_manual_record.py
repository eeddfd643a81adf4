"""Manual recordings with a fake clock: start, restart, stop, expiry."""

import pytest

from gateway.emulator.manual_record import MAX_DURATION_S, ManualRecordings


class Clock:
    def __init__(self):
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_recording_runs_until_stop_or_its_duration():
    clock = Clock()
    book = ManualRecordings(clock)
    book.start(["cam1", "cam2"], 10)
    assert book.get("cam1").to_json() == {"cameraId": "cam1", "startTime": "2023-11-14T22:13:20.000Z",
                                          "maxDurationSec": 10}  # fmt: skip
    book.stop(["cam2", "cam3"])  # cam3 was never recording: no error
    assert book.get("cam2") is None
    clock.now += 9.999
    assert [r.camera_id for r in book.active()] == ["cam1"]
    clock.now += 0.001
    assert book.get("cam1") is None and book.active() == []


def test_start_again_restarts_the_clock_with_the_new_duration():
    clock = Clock()
    book = ManualRecordings(clock)
    book.start(["cam1"], 5)
    clock.now += 4
    book.start(["cam1"], 3)
    clock.now += 2.5
    recording = book.get("cam1")
    assert recording.max_duration_s == 3 and recording.start_ms == 1_700_000_004_000
    clock.now += 0.5
    assert book.get("cam1") is None


def test_duration_is_one_second_to_a_day():
    book = ManualRecordings(Clock())
    book.start(["cam1"])
    assert book.get("cam1").max_duration_s == MAX_DURATION_S == 86400
    for bad in (0, MAX_DURATION_S + 1):
        with pytest.raises(ValueError, match="maxDurationSec"):
            book.start(["cam1"], bad)
