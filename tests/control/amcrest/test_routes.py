"""The camera control API on an Amcrest/Dahua PTZ camera (the emulator's ptz.cgi log):
moves, the dead-man stop, the operator lock, presets, and refusals before anything is sent."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.backends.amcrest.conftest import ADMIN_KEY

PTZ = "/api/v1/cameras/porch/ptz"


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def _post(http, url, body=None, operator="tab-1", **headers):
    async with http.post(url, json=body, headers={"X-Operator-Id": operator, **headers}) as response:
        return response.status, await response.json()


async def test_a_move_reaches_the_camera_and_stops_by_itself(porch_ready, gateway_url, amcrest, http):
    status, answer = await _post(http, gateway_url + PTZ, {"pan": -0.5})
    assert (status, answer) == (200, {"moving": True, "stops_after_s": 1.0})
    started = time.monotonic()
    while not any(entry["action"] == "stop" for entry in amcrest.ptz_log):
        assert time.monotonic() - started < 3, amcrest.ptz_log
        await asyncio.sleep(0.05)
    stopped_after = amcrest.ptz_log[-1]["time"] - amcrest.ptz_log[0]["time"]
    assert 0.9 <= stopped_after <= 1.6, stopped_after  # the dead man: 1 s after the last command
    assert [(e["action"], e["code"]) for e in amcrest.ptz_log] == [("start", "Left"), ("stop", "Left")]


async def test_a_second_operator_gets_409_naming_the_holder_and_the_admin_takes_over(
    porch_ready, gateway_url, amcrest, http
):
    assert (await _post(http, gateway_url + PTZ, {"tilt": 0.3}, operator="tab-1"))[0] == 200
    status, answer = await _post(http, gateway_url + PTZ, {"tilt": -0.3}, operator="tab-2")
    assert status == 409
    assert "is being steered by another operator since" in answer["error"]["message"]
    status, _ = await _post(http, gateway_url + PTZ + "/stop", operator="tab-3", Authorization=f"Bearer {ADMIN_KEY}")
    assert status == 200  # the admin key takes the camera over
    assert (await _post(http, gateway_url + PTZ, {"tilt": 0.3}, operator="tab-1"))[0] == 409
    assert [e["action"] for e in amcrest.ptz_log] == ["start", "stop"]  # nothing sent for the refused ones


async def test_presets_are_listed_and_gone_to(porch_ready, gateway_url, amcrest, http):
    async with http.get(gateway_url + "/api/v1/cameras/porch/presets") as response:
        presets = (await response.json())["presets"]
    assert presets[0] == {"number": 1, "name": "Preset 1"} and len(presets) == 16
    assert (await _post(http, gateway_url + "/api/v1/cameras/porch/presets/3/goto"))[0] == 200
    assert [(e["code"], e["arg2"]) for e in amcrest.ptz_log] == [("GotoPreset", 3)]
    status, answer = await _post(http, gateway_url + "/api/v1/cameras/porch/presets/40/goto")
    assert status == 404 and "has no preset 40 (it has 1, 2, 3" in answer["error"]["message"]


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        (PTZ, {"pan": 2}, 400, "pan must be a number from -1 to 1"),
        (PTZ, {"pan": "left"}, 400, "pan must be a number"),
        (PTZ, {"spin": 1}, 400, "unknown field(s): spin"),
        (PTZ, {}, 400, "give at least one of pan, tilt, zoom"),
        (PTZ + "/center", {"x": 0.5, "y": 0.5}, 501, "no field-of-view command"),
        (PTZ + "/zoom-to", {"roi": [0.1, 0.1, 0.2]}, 400, "roi must be [left, top, right, bottom]"),
        (PTZ + "/zoom-to", {"roi": [0.5, 0.1, 0.2, 0.4]}, 400, "left < right"),
        (PTZ + "/home", None, 501, "no home command"),
        ("/api/v1/cameras/porch/presets/x/goto", None, 400, "n must be a whole number"),
        ("/api/v1/cameras/porch/outputs/1", {"state": "on"}, 400, "has no outputs"),
        ("/api/v1/cameras/nope/ptz", {"pan": 1}, 404, "no camera"),
    ],
)
async def test_bad_commands_are_refused_with_the_reason_and_nothing_is_sent(
    porch_ready, gateway_url, amcrest, http, path, body, status, words
):
    got, answer = await _post(http, gateway_url + path, body)
    assert got == status, answer
    assert words in answer["error"]["message"]
    assert amcrest.ptz_log == []


async def test_a_camera_without_ptz_is_refused(porch_ready, gateway_url, emulator, http):
    wep_camera = emulator.camera_ids[0]
    status, answer = await _post(http, f"{gateway_url}/api/v1/cameras/{wep_camera}/ptz", {"pan": 1})
    assert status == 400 and "has no ptz" in answer["error"]["message"]


async def test_a_command_older_than_one_already_taken_is_not_sent(porch_ready, gateway_url, amcrest, http):
    """Requests on parallel connections can arrive out of order; with `seq` the older one
    is answered as stale and never reaches the camera (an old move after the release would
    turn it again)."""
    assert (await _post(http, gateway_url + PTZ, {"pan": 0.5, "seq": 7}))[0] == 200
    assert (await _post(http, gateway_url + PTZ + "/stop", {"seq": 9}))[0] == 200
    status, answer = await _post(http, gateway_url + PTZ, {"pan": 0.25, "seq": 8})  # overtaken by the stop
    assert status == 200 and answer["stale"] is True and answer["moving"] is False
    assert [e["action"] for e in amcrest.ptz_log] == ["start", "stop"]
    status, answer = await _post(http, gateway_url + PTZ, {"pan": 0.25, "seq": -1})
    assert status == 400 and "seq must be a whole number" in answer["error"]["message"]
