"""The PTZ head, field-of-view geometry, presets and the command log, with a hand-driven clock."""

import pytest

from gateway.emulator.ptz import (
    MAX_PRESET_ID,
    Amounts,
    Panel,
    PresetBook,
    PtzError,
    PtzHead,
    PtzPosition,
    UnknownPreset,
    centred_on,
    zoomed_to,
)
from gateway.emulator.ptz_camera import PtzCamera, PtzLocked


class Clock:
    def __init__(self, now: float = 100.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def close(position: PtzPosition, pan: float, tilt: float, zoom: float) -> bool:
    return all(abs(a - b) < 1e-9 for a, b in ((position.pan, pan), (position.tilt, tilt), (position.zoom, zoom)))


def test_a_continuous_move_runs_at_half_the_range_per_second_until_stopped():
    head = PtzHead(0.0)
    head.start(Amounts(pan=1.0, tilt=-0.5, zoom=1.0), 0.0)
    assert close(head.position(0.5), 0.5, -0.25, 1.75)  # pan and tilt span 2, zoom spans 3
    assert head.moving(0.5)
    head.stop(0.5)
    assert close(head.position(9.0), 0.5, -0.25, 1.75)
    assert not head.moving(9.0)


def test_a_new_start_replaces_the_last_and_the_range_ends_hold():
    head = PtzHead(0.0)
    head.start(Amounts(pan=1.0), 0.0)
    head.start(Amounts(pan=-1.0, zoom=-1.0), 0.25)  # from pan 0.25, back left; zoom already at 1
    assert close(head.position(0.5), 0.0, 0.0, 1.0)
    assert close(head.position(60.0), -1.0, 0.0, 1.0)  # "until the end of the camera range is reached"
    assert not head.moving(60.0)
    head.start(Amounts(zoom=1.0), 60.0)
    assert head.position(70.0).zoom == 4.0


@pytest.mark.parametrize("amounts", [{"pan": 1.01}, {"tilt": -2}, {"zoom": 1.5}])
def test_amounts_outside_minus_one_to_one_are_refused(amounts):
    with pytest.raises(PtzError, match="Amount must be between -1 and 1"):
        Amounts(**amounts)


def test_the_view_never_leaves_the_canvas():
    for position in (PtzPosition(1, 1, 1), PtzPosition(-1, -1, 1), PtzPosition(1, -1, 4)):
        left, top, width, height = position.view()
        assert 0 <= left and left + width <= 1 + 1e-12 and 0 <= top and top + height <= 1 + 1e-12
    assert PtzPosition(1, 0, 1).view()[0] + PtzPosition(1, 0, 1).view()[2] == 1.0
    assert PtzPosition(0, 1, 1).view()[1] == 0.0  # tilt up: the view's top is the canvas top


def test_a_point_recentres_by_its_offset_in_view_widths():
    panel = Panel(1920, 1080)  # any consistent unit (guide)
    assert close(centred_on(PtzPosition(), panel, 1440, 540), 0.5, 0.0, 1.0)
    assert close(centred_on(PtzPosition(), panel, 960, 0), 0.0, 1.0, 1.0)  # the top edge: look up
    assert close(centred_on(PtzPosition(0, 0, 2), panel, 1440, 540), 0.25, 0.0, 2.0)  # half as far zoomed in
    assert close(centred_on(PtzPosition(0.9, 0, 1), panel, 1920, 540), 1.0, 0.0, 1.0)  # clamped
    assert close(centred_on(PtzPosition(), Panel(1, 1), 0.75, 0.5), 0.5, 0.0, 1.0)


def test_a_roi_recentres_on_its_middle_and_zooms_to_fit_it():
    panel = Panel(100, 100)
    assert close(zoomed_to(PtzPosition(), panel, 25, 25, 50, 50), 0.0, 0.0, 2.0)
    assert close(zoomed_to(PtzPosition(), panel, 0, 0, 50, 50), -0.5, 0.5, 2.0)
    assert close(zoomed_to(PtzPosition(), panel, 0, 40, 50, 20), -0.5, 0.0, 2.0)  # the wider side decides
    assert zoomed_to(PtzPosition(0, 0, 3), panel, 45, 45, 10, 10).zoom == 4.0  # the zoom limit


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: Panel(0, 1080), "imagePanelSize must have a positive"),
        (lambda: Panel(1920, -1), "imagePanelSize must have a positive"),
        (lambda: centred_on(PtzPosition(), Panel(10, 10), 11, 5), "outside the imagePanelSize"),
        (lambda: zoomed_to(PtzPosition(), Panel(10, 10), 1, 1, 0, 5), "ROI must have a positive"),
        (lambda: zoomed_to(PtzPosition(), Panel(10, 10), 1, 1, -2, 5), "ROI must have a positive"),
        (lambda: zoomed_to(PtzPosition(), Panel(10, 10), 6, 1, 5, 5), "not inside the imagePanelSize"),
    ],
)
def test_bad_fields_of_view_are_refused(call, message):
    with pytest.raises(PtzError, match=message):
        call()


def test_presets_save_overwrite_and_delete():
    book = PresetBook()
    assert [(p.id, p.name) for p in book.all()] == [(1, "Gate"), (2, "Parking"), (3, "Door")]
    assert len({p.position for p in book.all()}) == 3
    book.save(0, None, PtzPosition(0.1, 0.2, 1.5))
    assert book.get(0).name == "Preset 0"
    book.save(2, None, PtzPosition())  # overwritten, the name kept
    assert book.get(2).name == "Parking" and book.get(2).position == PtzPosition()
    with pytest.raises(PtzError, match=f"between 0 and {MAX_PRESET_ID}"):
        book.save(MAX_PRESET_ID + 1, "x", PtzPosition())
    book.delete(3)
    with pytest.raises(UnknownPreset):
        book.get(3)
    with pytest.raises(UnknownPreset):
        book.delete(3)


def test_the_camera_logs_every_command_with_its_resulting_state():
    clock, wall = Clock(), Clock(1_700_000_000.0)
    camera = PtzCamera("cam", clock, wall, log_size=4)
    camera.start(Amounts(pan=0.5), by="s1")
    clock.now += 1.0
    wall.now += 1.0
    camera.stop(by="s1")
    camera.go_to_preset(1, by="s1")
    camera.go_home(by="s2")
    camera.point_at(Panel(4, 4), 3, 2, by="s2")  # the fifth: the first one drops out
    log = camera.log()
    assert [e["kind"] for e in log] == ["stop", "preset", "home", "fov"]
    assert log[0]["time"] == 1_700_000_001.0 and log[0]["state"]["pan"] == 0.5 and not log[0]["state"]["moving"]
    assert log[1]["params"] == {"presetId": 1, "name": "Gate"} and log[1]["state"]["zoom"] == 2.0
    assert log[3]["params"] == {"imagePanelSize": {"width": 4, "height": 4}, "point": {"x": 3, "y": 2}}
    assert log[3]["sessionGid"] == "s2" and camera.state()["pan"] == 0.5


def test_saving_a_preset_takes_the_current_position_and_may_set_home():
    clock = Clock()
    camera = PtzCamera("cam", clock)
    camera.start(Amounts(tilt=1.0), by="s")
    clock.now += 0.25
    camera.save_preset(7, "Roof", is_home=True, by="s")
    assert camera.presets.get(7).position == PtzPosition(0.0, 0.25, 1.0)
    camera.go_to_preset(1, by="s")
    camera.go_home(by="s")
    assert camera.position() == PtzPosition(0.0, 0.25, 1.0)
    assert camera.log()[-1]["kind"] == "home"


def test_the_lock_belongs_to_one_session_until_overridden():
    camera = PtzCamera("cam", Clock())
    camera.lock(True, by="s1")
    assert camera.state()["lockSessionGid"] == "s1"
    with pytest.raises(PtzLocked, match="locked by another session"):
        camera.lock(False, by="s2")
    camera.start(Amounts(pan=1), by="s2")  # the guide says nothing of moves under a lock: recorded only
    camera.override_lock(by="s2")
    camera.lock(False, by="s2")
    assert camera.state()["lockSessionGid"] == ""
    assert [e["kind"] for e in camera.log()] == ["lock", "continuous", "lock-override", "lock"]
