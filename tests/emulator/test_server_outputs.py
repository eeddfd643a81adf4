"""Digital outputs through real HTTP: GET /entities and /entity, and
PUT /camera/commands/trigger-digital-output with toggles, pulses and the trigger log."""

import time

import pytest

from gateway.emulator import outputs
from gateway.emulator.outputs import output_id
from tests.emulator.conftest import api, assert_envelope, login, until


async def trigger(http, emulator, session: str, **body) -> tuple[int, dict]:
    async with http.put(api(emulator, "camera/commands/trigger-digital-output"),
                        json={"session": session, **body}) as resp:  # fmt: skip
        return resp.status, await resp.json()


async def entities(http, emulator, session: str, path: str = "entities", **params) -> list[dict]:
    async with http.get(api(emulator, path), params={"session": session, **params}) as resp:
        body = await resp.json()
        assert resp.status == 200, body
    return body["result"]["entities"]


def states(emulator, camera: int) -> list[str]:
    return [o["state"] for o in emulator.output_entities(camera)]


async def test_entities_list_two_outputs_per_camera(emulator, http):
    session = await login(http, emulator)
    cam1, cam2 = emulator.camera_ids
    listed = await entities(http, emulator, session)
    assert [(e["cameraId"], e["type"], e["state"]) for e in listed] == [
        (cam1, "DIGITAL_OUTPUT", "OFF"), (cam1, "DIGITAL_OUTPUT", "OFF"),
        (cam2, "DIGITAL_OUTPUT", "OFF"), (cam2, "DIGITAL_OUTPUT", "OFF")]  # fmt: skip
    assert listed[0]["linkedCameraIds"] == [cam1] and listed[0]["name"] == "Emulated camera 1 output 1"
    wanted = f"{output_id(cam2, 1)},{output_id(cam1, 2)}"
    assert [e["id"] for e in await entities(http, emulator, session, "entity", ids=wanted)] == wanted.split(",")
    assert [e["id"] for e in await entities(http, emulator, session, "entity", id=output_id(cam1, 1))] == [
        output_id(cam1, 1)]  # fmt: skip
    async with http.get(api(emulator, "entity"), params={"session": session, "ids": "nope"}) as resp:
        assert_envelope(await resp.json(), 404, "NOT_FOUND")
    async with http.get(api(emulator, "entities")) as resp:
        assert resp.status == 401


async def test_a_toggle_flips_one_output_and_stays(emulator, http):
    session = await login(http, emulator)
    cam1 = emulator.camera_ids[0]
    sent = time.time()
    status, body = await trigger(http, emulator, session, entityId=output_id(cam1, 2), isToggle=True)
    assert status == 200 and body == {"status": "success"}
    assert states(emulator, 1) == ["OFF", "ON"]
    listed = await entities(http, emulator, session, "entity", ids=output_id(cam1, 2))
    assert listed[0]["state"] == "ON"
    await trigger(http, emulator, session, entityId=output_id(cam1, 2), isToggle=True)
    assert states(emulator, 1) == ["OFF", "OFF"]
    on, off = emulator.output_log(1)
    assert (on["entityId"], on["isToggle"], on["state"], off["state"]) == (output_id(cam1, 2), True, "ON", "OFF")
    assert sent <= on["time"] <= off["time"] and on["sessionGid"]


async def test_a_camera_id_pulses_all_its_outputs_and_wins_over_entity_id(emulator, http, monkeypatch):
    monkeypatch.setattr(outputs, "PULSE_SECONDS", 0.3)
    session = await login(http, emulator)
    cam1, cam2 = emulator.camera_ids
    # Guide: "If both parameters are provided, then id will take precedence over entityId."
    status, _ = await trigger(http, emulator, session, id=cam2, entityId=output_id(cam1, 1), isToggle=False)
    assert status == 200
    assert states(emulator, 2) == ["ON", "ON"] and states(emulator, 1) == ["OFF", "OFF"]
    await until(lambda: states(emulator, 2) == ["OFF", "OFF"], timeout=2)
    assert [(e["cameraId"], e["pulseSeconds"]) for e in emulator.output_log()] == [(cam2, 0.3), (cam2, 0.3)]
    await trigger(http, emulator, session, id=cam1)  # isToggle absent: a pulse
    assert emulator.output_log(1)[0]["isToggle"] is False
    async with http.get(f"{emulator.url}/_emulator/outputs") as resp:
        shown = await resp.json()
    assert [o["id"] for o in shown["outputs"]] == [o["id"] for o in emulator.output_entities()]
    assert shown["log"] == emulator.output_log() and len(shown["log"]) == 4


@pytest.mark.parametrize(
    "body, status, message",
    [
        ({"id": "nope"}, 404, "camera not found."),
        ({"entityId": "nope", "isToggle": True}, 404, "entity not found."),
        ({"isToggle": True}, 400, "id (a camera) or entityId (a digital output) is required"),
        ({"entityId": 5}, 400, "id and entityId must be strings"),
        ({"entityId": "x", "isToggle": "yes"}, 400, "isToggle must be true or false"),
    ],
)
async def test_bad_triggers(emulator, http, body, status, message):
    session = await login(http, emulator)
    answer_status, answer = await trigger(http, emulator, session, **body)
    assert answer_status == status and answer["message"] == message
    assert emulator.output_log() == []
