"""Digital outputs: toggles, pulses that end by themselves, and the trigger log (hand-driven clock)."""

import pytest

from gateway.emulator.cameras import make_cameras
from gateway.emulator.outputs import OUTPUTS_PER_CAMERA, PULSE_SECONDS, OutputBank, UnknownEntity, output_id


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def bank_and_clock():
    cameras = {c.id: c for c in make_cameras(2)}
    clock = Clock(50.0)
    return OutputBank(cameras, clock, Clock(1_700_000_000.0), log_size=3), clock, list(cameras)


def test_every_camera_has_its_outputs_as_entities(bank_and_clock):
    bank, _, (cam1, cam2) = bank_and_clock
    entities = bank.entities()
    assert len(entities) == 2 * OUTPUTS_PER_CAMERA
    first = bank.entities(cam1)[0]
    assert first == {"id": output_id(cam1, 1), "type": "DIGITAL_OUTPUT", "name": "Emulated camera 1 output 1",
                     "cameraId": cam1, "linkedCameraIds": [cam1], "state": "OFF"}  # fmt: skip
    assert output_id(cam1, 1) == output_id(cam1, 1) != output_id(cam2, 1)  # stable, and distinct
    with pytest.raises(UnknownEntity):
        bank.get("nope")


def test_a_toggle_flips_and_stays(bank_and_clock):
    bank, clock, (cam1, _) = bank_and_clock
    output = bank.of_camera(cam1)[0]
    (entry,) = bank.trigger([output], toggle=True, by="s")
    assert entry["state"] == "ON" and "pulseSeconds" not in entry
    clock.now += 60
    assert bank.entity(output.id)["state"] == "ON"
    bank.trigger([output], toggle=True, by="s")
    assert bank.entity(output.id)["state"] == "OFF"


def test_a_pulse_is_on_then_off_by_itself_and_a_toggle_during_it_turns_it_off(bank_and_clock):
    bank, clock, (cam1, _) = bank_and_clock
    first, second = bank.of_camera(cam1)
    bank.trigger([first, second], toggle=False, by="s")
    assert [e["state"] for e in bank.entities(cam1)] == ["ON", "ON"]
    clock.now += PULSE_SECONDS - 0.01
    assert bank.entity(first.id)["state"] == "ON"
    bank.trigger([second], toggle=True, by="s")
    clock.now += 0.02
    assert [e["state"] for e in bank.entities(cam1)] == ["OFF", "OFF"]


def test_the_log_is_bounded_and_filtered_by_camera(bank_and_clock):
    bank, _, (cam1, cam2) = bank_and_clock
    bank.trigger(bank.of_camera(cam1), toggle=False, by="s1")
    bank.trigger(bank.of_camera(cam2), toggle=True, by="s2")  # 4 entries, 3 kept
    log = bank.log()
    assert [e["cameraId"] for e in log] == [cam1, cam2, cam2]
    assert log[0] == {"time": 1_700_000_000.0, "entityId": output_id(cam1, 2), "cameraId": cam1, "isToggle": False,
                      "state": "ON", "sessionGid": "s1", "pulseSeconds": PULSE_SECONDS}  # fmt: skip
    assert [e["entityId"] for e in bank.log(cam2)] == [output_id(cam2, 1), output_id(cam2, 2)]
