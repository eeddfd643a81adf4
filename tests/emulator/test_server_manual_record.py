"""Manual recording through real HTTP (guide, POST /camera/record/manual, GET
/camera/manual-record-state): start, restart, stop, expiry and the state listing."""

import time

import pytest

from gateway.emulator.event_log import parse_iso_ms
from tests.emulator.conftest import api, assert_envelope, login, until


async def record(http, emulator, session: str, **body) -> tuple[int, dict]:
    async with http.post(api(emulator, "camera/record/manual"), json={"session": session, **body}) as resp:
        return resp.status, await resp.json()


async def states(http, emulator, session: str, camera_ids) -> list[dict]:
    params = [("session", session), *(("cameraIds", c) for c in camera_ids)]
    async with http.get(api(emulator, "camera/manual-record-state"), params=params) as resp:
        body = await resp.json()
        assert resp.status == 200, body
    return body["result"]["states"]


async def test_start_lists_the_camera_until_stop(emulator, http):
    session = await login(http, emulator)
    cam1, cam2 = emulator.camera_ids
    assert await states(http, emulator, session, [cam1, cam2]) == []
    before = int(time.time() * 1000)
    status, body = await record(http, emulator, session, cameraIds=[cam1], action="START", maxDurationSec=600)
    assert status == 200 and body == {"status": "success"}
    [state] = await states(http, emulator, session, [f"{cam1},{cam2}"])
    assert state["cameraId"] == cam1 and state["maxDurationSec"] == 600
    assert state["startTime"].endswith("Z") and before <= parse_iso_ms(state["startTime"]) <= time.time() * 1000
    assert emulator.manual_recording(1) == state and emulator.manual_recording(cam2) is None
    # START again restarts the clock, with the new duration; without one it is 24 h.
    status, _ = await record(http, emulator, session, cameraIds=[cam1, cam2], action="START")
    assert status == 200
    restarted = await states(http, emulator, session, [cam1, cam2])
    assert [(s["cameraId"], s["maxDurationSec"]) for s in restarted] == [(cam1, 86400), (cam2, 86400)]
    assert restarted[0]["startTime"] >= state["startTime"]
    status, _ = await record(http, emulator, session, cameraIds=[cam1], action="STOP")
    assert status == 200
    assert [s["cameraId"] for s in await states(http, emulator, session, [cam1, cam2])] == [cam2]
    status, _ = await record(http, emulator, session, cameraIds=[cam1], action="STOP")  # not recording: fine
    assert status == 200
    async with http.get(f"{emulator.url}/_emulator/recording") as resp:
        assert [s["cameraId"] for s in (await resp.json())["manual"]] == [cam2]


async def test_a_recording_ends_by_itself_after_max_duration(emulator, http):
    session = await login(http, emulator)
    cam1 = emulator.camera_ids[0]
    status, _ = await record(http, emulator, session, cameraIds=[cam1], action="START", maxDurationSec=1)
    assert status == 200
    assert len(await states(http, emulator, session, [cam1])) == 1
    await until(lambda: emulator.manual_recording(cam1) is None, timeout=3)
    assert await states(http, emulator, session, [cam1]) == []


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"action": "START"}, 400, "cameraIds"),
        ({"cameraIds": [], "action": "START"}, 400, "cameraIds"),
        ({"cameraIds": "CAM", "action": "START"}, 400, "cameraIds"),
        ({"cameraIds": ["CAM"], "action": "PAUSE"}, 400, "action"),
        ({"cameraIds": ["CAM"]}, 400, "action"),
        ({"cameraIds": ["CAM"], "action": "START", "maxDurationSec": 0}, 400, "maxDurationSec"),
        ({"cameraIds": ["CAM"], "action": "START", "maxDurationSec": 86401}, 400, "maxDurationSec"),
        ({"cameraIds": ["CAM"], "action": "START", "maxDurationSec": "60"}, 400, "maxDurationSec"),
        ({"cameraIds": ["CAM"], "action": "START", "maxDurationSec": 1.5}, 400, "maxDurationSec"),
        ({"cameraIds": ["CAM", "nope"], "action": "START"}, 404, "camera not found"),
    ],
)
async def test_record_validation(emulator, http, body, status, words):
    session = await login(http, emulator)
    cam1 = emulator.camera_ids[0]
    if isinstance(body.get("cameraIds"), list):
        body = {**body, "cameraIds": [cam1 if c == "CAM" else c for c in body["cameraIds"]]}
    elif body.get("cameraIds") == "CAM":
        body = {**body, "cameraIds": cam1}
    got, answer = await record(http, emulator, session, **body)
    assert got == status, answer
    assert_envelope(answer, status, "BAD_REQUEST" if status == 400 else "NOT_FOUND")
    assert words in answer["message"]
    assert emulator.manual_recording(cam1) is None  # nothing started, not even the known camera


async def test_state_validation(emulator, http):
    session = await login(http, emulator)
    for params, status, words in [({}, 400, "cameraIds is required"), ({"cameraIds": "nope"}, 404, "camera")]:
        async with http.get(api(emulator, "camera/manual-record-state"), params={"session": session, **params}) as resp:
            body = await resp.json()
            assert resp.status == status and words in body["message"], body
    async with http.post(api(emulator, "camera/record/manual"), json={"cameraIds": [], "action": "START"}) as resp:
        assert resp.status == 401
