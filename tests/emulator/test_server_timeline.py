"""GET /timeline through real HTTP: recordings with a gap, motion from injected events,
clipping, scope merging, validation; recording gaps from Python and /_emulator."""

import asyncio
import time

import pytest

from gateway.emulator.event_log import iso_ms, parse_iso_ms
from gateway.emulator.settings import SettingsError
from tests.emulator.conftest import api, assert_envelope, login, small_settings

GAP = (0.2, 0.4)  # seconds after the start


@pytest.fixture
async def emulator(make_emulator):
    emulator = await make_emulator(recording_gaps=(GAP,))
    # Wait until the gap and some recording after it are in the past.
    await asyncio.sleep(max(0.0, emulator.epoch_wall + 0.7 - time.time()))
    return emulator


def down(ms: int, scope_ms: int = 100) -> int:
    return ms // scope_ms * scope_ms


def up(ms: int, scope_ms: int = 100) -> int:
    return -(-ms // scope_ms) * scope_ms


async def get_timeline(http, emulator, session: str, params) -> tuple[int, dict]:
    params = [("session", session), *(params.items() if isinstance(params, dict) else params)]
    async with http.get(api(emulator, "timeline"), params=params) as resp:
        return resp.status, await resp.json()


async def timeline(http, emulator, session: str, **params) -> list[dict]:
    params = {"cameraIds": emulator.camera_ids[0], "scope": "TENTH_SECOND", "storage": "ALL", **params}
    status, body = await get_timeline(http, emulator, session, params)
    assert status == 200, body
    return body["result"]["timelines"]


def ranges(entry: dict, key: str) -> list[tuple[int, int]]:
    return [(parse_iso_ms(r["start"]), parse_iso_ms(r["end"])) for r in entry[key]]


async def test_recordings_show_the_gap_at_a_fine_scope_and_merge_at_a_coarse_one(emulator, http):
    session = await login(http, emulator)
    start_ms = int(emulator.epoch_wall * 1000)
    gap_start, gap_end = (start_ms + round(s * 1000) for s in GAP)
    window = {"start": iso_ms(start_ms - 5000), "end": iso_ms(start_ms + 600)}
    [entry] = await timeline(http, emulator, session, **window)
    assert entry["cameraId"] == emulator.camera_ids[0] and entry["scope"] == "TENTH_SECOND"
    assert ranges(entry, "recordings") == [(down(start_ms), up(gap_start)), (down(gap_end), start_ms + 600)]
    assert entry["motion"] == []
    assert entry["recordings"][0]["start"].endswith("Z")
    # At 1 s the 200 ms gap is inside one bucket or two adjacent ones: one range.
    [entry] = await timeline(http, emulator, session, scope="1_SECOND", **window)
    assert ranges(entry, "recordings") == [(down(start_ms, 1000), start_ms + 600)]
    # Clipped to the window on both sides.
    [entry] = await timeline(http, emulator, session, start=iso_ms(start_ms + 50), end=iso_ms(start_ms + 150))
    assert ranges(entry, "recordings") == [(start_ms + 50, start_ms + 150)]
    [entry] = await timeline(http, emulator, session, start=iso_ms(start_ms - 5000), end=iso_ms(start_ms - 1000))
    assert entry["recordings"] == []
    # LAYER_2 holds nothing; LAYER_1 (the default) holds what ALL does.
    [entry] = await timeline(http, emulator, session, storage="LAYER_2", **window)
    assert entry["recordings"] == []
    params = {"cameraIds": emulator.camera_ids[0], "scope": "TENTH_SECOND", **window}
    status, body = await get_timeline(http, emulator, session, params)
    assert status == 200 and len(body["result"]["timelines"][0]["recordings"]) == 2


async def test_motion_comes_from_the_event_log_and_an_open_start_runs_to_now(emulator, http):
    session = await login(http, emulator)
    cam1, cam2 = emulator.camera_ids
    first = parse_iso_ms(emulator.inject_event(cam1, "DEVICE_MOTION_START")["timestamp"])
    await asyncio.sleep(0.15)
    stop = parse_iso_ms(emulator.inject_event(cam1, "DEVICE_MOTION_STOP")["timestamp"])
    emulator.inject_event(cam2, "DEVICE_DIGITAL_INPUT_ON")
    await asyncio.sleep(0.3)
    again = parse_iso_ms(emulator.inject_event(cam1, "DEVICE_MOTION_START")["timestamp"])
    await asyncio.sleep(0.15)
    # Both cameras, one repeated parameter and one comma-separated list.
    params = [("cameraIds", cam1), ("cameraIds", f"{cam2},{cam1}"), ("scope", "TENTH_SECOND")]
    status, body = await get_timeline(http, emulator, session, params)
    assert status == 200, body
    one, two = body["result"]["timelines"]  # a repeated camera is answered once
    assert (one["cameraId"], two["cameraId"]) == (cam1, cam2) and two["motion"] == []
    [closed, still_open] = ranges(one, "motion")
    assert closed == (down(first), up(stop))
    assert still_open[0] == down(again) and still_open[1] >= again + 100
    assert still_open[1] <= int(time.time() * 1000)
    # Recordings run to now when end is left out (default: now), from a week ago.
    assert ranges(one, "recordings")[-1][1] >= again
    # Clipped: a window inside the closed motion span.
    [entry] = await timeline(http, emulator, session, start=iso_ms(first + 10), end=iso_ms(first + 20))
    assert ranges(entry, "motion") == [(first + 10, first + 20)]


@pytest.mark.parametrize(
    ("params", "status", "name", "words"),
    [
        ({"scope": "1_SECOND"}, 400, "BAD_REQUEST", "cameraIds"),
        ({"cameraIds": "CAM"}, 400, "BAD_REQUEST", "scope is required"),
        ({"cameraIds": "CAM", "scope": "2_SECONDS"}, 400, "BAD_REQUEST", "scope must be one of"),
        ({"cameraIds": "CAM", "scope": "1_SECOND", "start": "yesterday"}, 400, "BAD_REQUEST", "start"),
        ({"cameraIds": "CAM", "scope": "1_SECOND", "end": "2020-13-01T00:00:00Z"}, 400, "BAD_REQUEST", "end"),
        ({"cameraIds": "CAM", "scope": "1_SECOND", "start": "2024-01-02T00:00:00Z", "end": "2024-01-01T00:00:00Z"},
         400, "BAD_REQUEST", "start must be earlier than end"),
        ({"cameraIds": "CAM", "scope": "1_SECOND", "start": "2024-01-01T00:00:00Z", "end": "2024-01-01T00:00:00Z"},
         400, "BAD_REQUEST", "start must be earlier than end"),
        ({"cameraIds": "CAM", "scope": "1_SECOND", "storage": "LAYER_3"}, 400, "BAD_REQUEST", "storage"),
        ({"cameraIds": "CAM", "scope": "1_SECOND", "umdRange": "-1"}, 400, "BAD_REQUEST", "umdRange"),
        ({"cameraIds": "CAM", "scope": "1_SECOND", "rareness": "101"}, 400, "BAD_REQUEST", "rareness"),
        ({"cameraIds": "nope", "scope": "1_SECOND"}, 404, "NOT_FOUND", "camera"),
        ({"cameraIds": "CAM,nope", "scope": "1_SECOND"}, 404, "NOT_FOUND", "camera"),
    ],
)  # fmt: skip
async def test_timeline_validation(emulator, http, params, status, name, words):
    session = await login(http, emulator)
    params = {k: v.replace("CAM", emulator.camera_ids[0]) for k, v in params.items()}
    got, body = await get_timeline(http, emulator, session, params)
    assert got == status, body
    assert_envelope(body, status, name)
    assert words in body["message"]


async def test_timeline_needs_a_session_and_accepts_the_guides_other_forms(emulator, http):
    params = {"cameraIds": emulator.camera_ids[0], "scope": "1_SECOND"}
    async with http.get(api(emulator, "timeline"), params=params) as resp:
        assert resp.status == 401
    session = await login(http, emulator)
    # The guide's own example form (no zone: UTC), and UMD filters that change nothing.
    [entry] = await timeline(http, emulator, session, start="2024-01-01T00:00:00.000000", umdRange="1500",
                             rareness="50", scope="1000000_SECONDS")  # fmt: skip
    assert len(entry["recordings"]) == 1


async def test_gaps_from_python_and_control_route(emulator, http):
    start_ms = int(emulator.epoch_wall * 1000)
    emulator.add_recording_gap(0.0, 0.1)  # recording began late
    with pytest.raises(ValueError, match="0 <= start < end"):
        emulator.add_recording_gap(0.3, 0.3)
    async with http.post(f"{emulator.url}/_emulator/recording/gaps", json={"start": 0.5, "end": 0.7}) as resp:
        assert resp.status == 200
        assert (await resp.json())["gaps"] == [list(GAP), [0.0, 0.1], [0.5, 0.7]]
    async with http.post(f"{emulator.url}/_emulator/recording/gaps", json={"start": "a"}) as resp:
        assert resp.status == 400
    async with http.post(f"{emulator.url}/_emulator/recording/gaps", json={"start": -1, "end": 1}) as resp:
        assert resp.status == 400 and "0 <= start < end" in await resp.text()
    session = await login(http, emulator)
    await asyncio.sleep(max(0.0, emulator.epoch_wall + 0.9 - time.time()))
    [entry] = await timeline(http, emulator, session, start=iso_ms(start_ms), end=iso_ms(start_ms + 900))
    assert ranges(entry, "recordings") == [(down(start_ms + 100), up(start_ms + 200)),
                                           (down(start_ms + 400), up(start_ms + 500)),
                                           (down(start_ms + 700), start_ms + 900)]  # fmt: skip
    async with http.get(f"{emulator.url}/_emulator/recording") as resp:
        state = await resp.json()
    assert state == {"gaps": [list(GAP), [0.0, 0.1], [0.5, 0.7]], "manual": [], "bookmarks": []}


def test_settings_reject_a_backwards_gap(media_cache):
    with pytest.raises(SettingsError, match="recording gap"):
        small_settings(media_cache, recording_gaps=((2.0, 1.0),)).validate()
