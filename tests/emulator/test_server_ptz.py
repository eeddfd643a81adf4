"""The PTZ camera through real HTTP: continuous moves over time, field of view, presets, the
lock, the command log, and a picture (JPEG and live H.264) that follows the head."""

import asyncio
import io
import time
from itertools import pairwise

import aiohttp
import av
import numpy as np
import pytest

from gateway.emulator.ptz import DEFAULT_PRESETS, MAX_PRESET_ID
from gateway.emulator.settings import SettingsError
from tests.emulator.conftest import api, assert_envelope, login, read_for, small_settings, until


@pytest.fixture
async def emulator(make_emulator):
    return await make_emulator(ptz_camera=1)


async def ptz(http, emulator, session: str, path: str = "camera/commands/pan-tilt-zoom", method: str = "PUT",
              camera: str | None = None, **body) -> tuple[int, dict]:  # fmt: skip
    body = {"session": session, "id": camera or emulator.camera_ids[0], **body}
    async with http.request(method, api(emulator, path), json=body) as resp:
        return resp.status, await resp.json()


async def move(http, emulator, session: str, **continuous) -> None:
    status, body = await ptz(http, emulator, session, continuous=continuous)
    assert status == 200 and body == {"status": "success"}, body


def pose(emulator) -> tuple[float, float, float]:
    state = emulator.ptz_state(1)
    return state["pan"], state["tilt"], state["zoom"]


async def jpeg(http, emulator, session: str, **extra) -> bytes:
    params = {"session": session, "cameraId": emulator.camera_ids[0], "format": "jpeg", **extra}
    async with http.get(api(emulator, "media"), params=params) as resp:
        assert resp.status == 200 and resp.content_type == "image/jpeg"
        return await resp.read()


def decode(data: bytes) -> np.ndarray:
    with av.open(io.BytesIO(data)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24").astype(np.int16)


def test_the_ptz_camera_must_exist(media_cache):
    with pytest.raises(SettingsError, match="ptz_camera must be 0"):
        small_settings(media_cache, ptz_camera=3).validate()


async def test_only_the_ptz_camera_says_so(emulator, http):
    session = await login(http, emulator)
    async with http.get(api(emulator, "cameras"), params={"session": session}) as resp:
        cameras = (await resp.json())["result"]["cameras"]
    assert [c["capabilities"]["ptz"] for c in cameras] == [True, False]
    # Guide, /ptz/lock/override: "If lockSessionGid is empty, the camera is unlocked."
    assert cameras[0]["lockSessionGid"] == "" and "lockSessionGid" not in cameras[1]


async def test_a_continuous_move_runs_until_stop(emulator, http):
    session = await login(http, emulator)
    sent = time.time()
    await move(http, emulator, session, action="START", panAmount=1, tiltAmount=0, zoomAmount=0.5)
    await asyncio.sleep(0.3)
    pan, tilt, zoom = pose(emulator)
    assert 0.25 < pan < 0.6 and tilt == 0 and 1.2 < zoom < 1.9  # 1 pan unit/s, 0.75 zoom/s
    assert emulator.ptz_state(1)["moving"]
    await move(http, emulator, session, action="STOP")
    stopped = pose(emulator)
    await asyncio.sleep(0.2)
    assert pose(emulator) == stopped and not emulator.ptz_state(1)["moving"]
    start, stop = emulator.ptz_log(1)
    assert start["kind"] == "continuous" and stop["kind"] == "stop"
    assert start["params"] == {"action": "START", "panAmount": 1.0, "tiltAmount": 0.0, "zoomAmount": 0.5}
    assert sent <= start["time"] <= stop["time"] - 0.25
    assert (stop["state"]["pan"], stop["state"]["tilt"], stop["state"]["zoom"]) == stopped


async def test_a_move_stops_at_the_end_of_the_range(emulator, http):
    session = await login(http, emulator)
    await ptz(http, emulator, session, "camera/commands/preset", presetId=2)  # Parking: pan 0.7, tilt -0.5
    await move(http, emulator, session, action="START", panAmount=1, tiltAmount=-1)
    await until(lambda: not emulator.ptz_state(1)["moving"], timeout=3)
    assert pose(emulator)[:2] == (1.0, -1.0)
    # A new START replaces the last one.
    await move(http, emulator, session, action="START", panAmount=-1)
    await asyncio.sleep(0.1)
    assert pose(emulator)[0] < 1.0 and emulator.ptz_state(1)["amounts"]["tiltAmount"] == 0


@pytest.mark.parametrize(
    "body, message",
    [
        ({"continuous": {"action": "START", "panAmount": 1.5}}, "panAmount must be between -1 and 1"),
        ({"continuous": {"action": "START", "zoomAmount": -3}}, "zoomAmount must be between -1 and 1"),
        ({"continuous": {"action": "START", "tiltAmount": "up"}}, "tiltAmount must be a number"),
        ({"continuous": {"action": "GO"}}, "continuous.action must be START or STOP"),
        ({}, "either continuous or fieldOfView"),
        ({"continuous": {"action": "STOP"}, "fieldOfView": {}}, "either continuous or fieldOfView"),
        ({"fieldOfView": {"imagePanelSize": {"width": 0, "height": 9}, "point": {"x": 0, "y": 0}}}, "positive"),
        ({"fieldOfView": {"imagePanelSize": {"width": 16, "height": 9}}}, "exactly one of ROI and point"),
        ({"fieldOfView": {"imagePanelSize": {"width": 16, "height": 9}, "point": {"x": 1, "y": 1},
                          "ROI": {"x": 0, "y": 0, "width": 1, "height": 1}}}, "exactly one of ROI and point"),
        ({"fieldOfView": {"imagePanelSize": {"width": 16, "height": 9},
                          "ROI": {"x": 0, "y": 0, "width": -1, "height": 1}}}, "ROI must have a positive"),
        ({"fieldOfView": {"imagePanelSize": {"width": 16, "height": 9}, "point": {"x": 17, "y": 1}}}, "outside"),
    ],
)  # fmt: skip
async def test_bad_commands_are_400_and_not_logged(emulator, http, body, message):
    session = await login(http, emulator)
    status, answer = await ptz(http, emulator, session, **body)
    assert status == 400, answer
    assert_envelope(answer, 400, "BAD_REQUEST")
    assert message in answer["message"]
    assert emulator.ptz_log(1) == [] and pose(emulator) == (0.0, 0.0, 1.0)


async def test_field_of_view_point_and_roi(emulator, http):
    session = await login(http, emulator)
    panel = {"width": 1920, "height": 1080}
    status, _ = await ptz(
        http, emulator, session, fieldOfView={"imagePanelSize": panel, "point": {"x": 1440, "y": 540}}
    )
    assert status == 200 and pose(emulator) == (0.5, 0.0, 1.0)
    # The top-left quarter of the current view: recentred on it and zoomed 2x.
    roi = {"x": 0, "y": 0, "width": 960, "height": 540}
    status, _ = await ptz(http, emulator, session, fieldOfView={"imagePanelSize": panel, "ROI": roi})
    assert status == 200 and pose(emulator) == (0.0, 0.5, 2.0)
    fov = emulator.ptz_log(1)[-1]
    assert fov["kind"] == "fov" and fov["params"] == {
        "imagePanelSize": {"width": 1920.0, "height": 1080.0},
        "ROI": {"x": 0.0, "y": 0.0, "width": 960.0, "height": 540.0},
    }


async def test_presets_list_go_save_delete_and_home(emulator, http):
    session = await login(http, emulator)
    cam = emulator.camera_ids[0]

    async def listed() -> dict:
        async with http.get(api(emulator, "camera/ptz/preset"), params={"session": session, "id": cam}) as resp:
            assert resp.status == 200
            return (await resp.json())["result"]

    assert await listed() == {"presets": [{"id": p.id, "name": p.name} for p in DEFAULT_PRESETS],
                              "maxId": MAX_PRESET_ID}  # fmt: skip
    assert (await ptz(http, emulator, session, "camera/commands/preset", presetId=3))[0] == 200
    door = DEFAULT_PRESETS[2].position
    assert pose(emulator) == (door.pan, door.tilt, door.zoom)
    # The guide's own example body names the preset "patternId".
    assert (await ptz(http, emulator, session, "camera/commands/preset", patternId=1))[0] == 200
    assert pose(emulator)[0] == DEFAULT_PRESETS[0].position.pan

    status, body = await ptz(http, emulator, session, "camera/ptz/preset", "POST", presetId=9, name="Dock")
    assert status == 200, body
    assert {"id": 9, "name": "Dock"} in (await listed())["presets"]
    assert (await ptz(http, emulator, session, "camera/commands/preset/home"))[0] == 200
    assert pose(emulator) == (0.0, 0.0, 1.0)
    await ptz(http, emulator, session, "camera/commands/preset", presetId="9")
    assert pose(emulator)[0] == DEFAULT_PRESETS[0].position.pan  # saved where it stood

    status, body = await ptz(http, emulator, session, "camera/ptz/preset", "DELETE", presetId=9)
    assert status == 200
    for path, method, extra in [("camera/commands/preset", "PUT", {}), ("camera/ptz/preset", "DELETE", {}),
                                ("camera/ptz/preset", "PUT", {"name": "x"})]:  # fmt: skip
        status, body = await ptz(http, emulator, session, path, method, presetId=9, **extra)
        assert status == 404, (path, method)
        assert_envelope(body, 404, "NOT_FOUND")
    status, body = await ptz(http, emulator, session, "camera/ptz/preset", "POST", presetId=MAX_PRESET_ID + 1)
    assert status == 400 and "between 0 and 15" in body["message"]
    kinds = [e["kind"] for e in emulator.ptz_log(1)]
    assert kinds == ["preset", "preset", "preset-save", "home", "preset", "preset-delete"]


async def test_a_preset_saved_as_home_is_where_home_goes(emulator, http):
    session = await login(http, emulator)
    await ptz(http, emulator, session, "camera/commands/preset", presetId=2)
    await ptz(http, emulator, session, "camera/ptz/preset", "PUT", presetId=2, name="Parking lot", isHome=True)
    await ptz(http, emulator, session, "camera/commands/preset", presetId=1)
    await ptz(http, emulator, session, "camera/commands/preset/home")
    parking = DEFAULT_PRESETS[1].position
    assert pose(emulator) == (parking.pan, parking.tilt, parking.zoom)


async def test_other_cameras_and_bad_ids(emulator, http):
    session = await login(http, emulator)
    status, body = await ptz(http, emulator, session, camera=emulator.camera_ids[1], continuous={"action": "STOP"})
    assert status == 400 and body["message"] == "camera has no PTZ"
    params = {"session": session, "id": emulator.camera_ids[1]}
    async with http.get(api(emulator, "camera/ptz/preset"), params=params) as resp:
        assert resp.status == 400
    status, body = await ptz(http, emulator, session, "camera/commands/preset/home", camera="nope")
    assert status == 404 and body["message"] == "camera not found."
    async with http.put(api(emulator, "camera/commands/preset/home"), json={"id": emulator.camera_ids[0]}) as resp:
        assert resp.status == 401
    with pytest.raises(KeyError):
        emulator.ptz_state(2)


async def test_the_lock_is_shown_and_held_by_one_session(emulator, http):
    first, second = await login(http, emulator), await login(http, emulator)
    lock = "camera/commands/ptz/lock"
    assert (await ptz(http, emulator, first, lock, lock=True))[0] == 200
    holder = emulator.ptz_state(1)["lockSessionGid"]
    async with http.get(api(emulator, "camera"), params={"session": second, "ids": emulator.camera_ids[0]}) as resp:
        assert (await resp.json())["result"]["cameras"][0]["lockSessionGid"] == holder != ""
    status, body = await ptz(http, emulator, second, lock, lock=True)
    assert status == 409 and "locked by another session" in body["message"]
    assert (await ptz(http, emulator, second, lock, lock="yes"))[0] == 400
    assert (await ptz(http, emulator, second, "camera/commands/ptz/lock/override"))[0] == 200
    assert emulator.ptz_state(1)["lockSessionGid"] not in ("", holder)
    assert (await ptz(http, emulator, second, lock, lock=False))[0] == 200
    assert emulator.ptz_state(1)["lockSessionGid"] == ""
    assert [e["kind"] for e in emulator.ptz_log(1)] == ["lock", "lock-override", "lock"]


async def test_the_jpeg_shows_the_current_view(emulator, http):
    session = await login(http, emulator)
    still, again = await jpeg(http, emulator, session), await jpeg(http, emulator, session, t="live")
    assert still == again  # nothing moved: the very same picture
    assert decode(still).shape == (180, 320, 3)
    await ptz(http, emulator, session, "camera/commands/preset", presetId=1)
    moved = await jpeg(http, emulator, session)
    assert np.abs(decode(moved) - decode(still)).mean() > 20
    await ptz(http, emulator, session, "camera/commands/preset/home")
    assert await jpeg(http, emulator, session) == still
    # A small pan shifts the picture a little: still unlike the first one.
    await ptz(http, emulator, session, fieldOfView={"imagePanelSize": {"width": 100, "height": 100},
                                                    "point": {"x": 60, "y": 50}})  # fmt: skip
    assert np.abs(decode(await jpeg(http, emulator, session)) - decode(still)).mean() > 5
    assert decode(await jpeg(http, emulator, session, roi="0,0,0.5,0.5", size="64,36")).shape == (36, 64, 3)
    assert emulator.stats["jpeg_renders"][emulator.camera_ids[0]] == 6


async def test_the_control_route_shows_state_presets_and_log(emulator, http):
    session = await login(http, emulator)
    await ptz(http, emulator, session, "camera/commands/preset", presetId=3)
    async with http.get(f"{emulator.url}/_emulator/ptz") as resp:
        (camera,) = (await resp.json())["cameras"]
    assert camera["cameraId"] == emulator.camera_ids[0]
    assert camera["state"] == emulator.ptz_state(1) and camera["log"] == emulator.ptz_log(1)
    assert camera["presets"][2] == {"id": 3, "name": "Door", "pan": 0.2, "tilt": 0.7, "zoom": 3.0}
    assert camera["home"] == {"pan": 0.0, "tilt": 0.0, "zoom": 1.0}
    assert camera["live"]["high"]["viewers"] == 0 and not camera["live"]["low"]["encoding"]


def frames_of(body: bytes) -> list[av.VideoFrame]:
    with av.open(io.BytesIO(body)) as container:
        return list(container.decode(video=0))


async def test_live_video_follows_the_head_and_stops_encoding_without_viewers(emulator, http):
    session = await login(http, emulator)
    cam = emulator.camera_ids[0]
    async with http.get(api(emulator, "media"), params={"session": session, "cameraId": cam, "format": "mpd"}) as resp:
        mpd = await resp.text()
    params = {"session": session, "cameraId": cam, "format": "fmp4", "quality": "low"}
    async with http.get(api(emulator, "media"), params=params) as resp:
        assert resp.status == 200 and resp.headers["Content-Type"] == "video/mp4"
        before = await read_for(resp, 0.6)
        assert emulator.ptz_video_stats(1)["low"] == {**emulator.ptz_video_stats(1)["low"], "viewers": 1,
                                                      "encoding": True}  # fmt: skip
        await ptz(http, emulator, session, "camera/commands/preset", presetId=1)
        after = await read_for(resp, 0.6)
    body = before + after
    with av.open(io.BytesIO(body)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (160, 90)
        assert f'codecs="{_codecs_of(body)}"' in mpd  # the MPD's codecs string holds for the live stream
        packets = [p for p in container.demux(stream) if p.size]
    assert packets[0].is_keyframe and len(packets) >= 12
    times = [p.dts for p in packets]
    assert all(b > a for a, b in pairwise(times))
    # Decode times are on the emulator-wide live clock, as the loops' are.
    assert abs(float(packets[0].dts * packets[0].time_base) - (time.monotonic() - emulator.epoch_mono)) < 2.5
    frames = [f.to_ndarray(format="rgb24").astype(np.int16) for f in frames_of(body)]
    assert np.abs(frames[0] - frames[1]).mean() < 3  # still head: still picture
    assert np.abs(frames[-1] - frames[0]).mean() > 20  # the preset moved the picture
    gate = decode(await jpeg(http, emulator, session, size="160,90"))
    # Video and JPEG show the same view (up to the two encoders' losses and scaling).
    assert np.abs(frames[-1] - gate).mean() < np.abs(frames[0] - gate).mean() / 3
    await until(lambda: not emulator.ptz_video_stats(1)["low"]["encoding"], timeout=3)
    assert emulator.ptz_video_stats(1)["low"]["viewers"] == 0
    assert emulator.stats["media_connections"][f"{cam}/fmp4/low"] == 1


def _codecs_of(body: bytes) -> str:
    at = body.find(b"avcC")
    profile, compat, level = body[at + 5 : at + 8]
    return f"avc1.{profile:02X}{compat:02X}{level:02X}"


async def test_a_second_viewer_starts_at_once_with_a_keyframe(emulator, http):
    session = await login(http, emulator)
    params = {"session": session, "cameraId": emulator.camera_ids[0], "format": "fmp4", "quality": "high"}
    async with http.get(api(emulator, "media"), params=params) as first:
        await read_for(first, 0.3)
        async with http.get(api(emulator, "media"), params=params) as second:
            joined = await read_for(second, 0.4)  # well under the 1 s GOP
        await read_for(first, 0.1)
    frames = frames_of(joined)
    assert len(frames) >= 3 and frames[0].key_frame
    assert emulator.ptz_video_stats(1)["high"]["runs"] == 1  # one encoder for both viewers


async def test_live_video_in_gop_fragments(make_emulator, http):
    emulator = await make_emulator(ptz_camera=2, fragment="gop")
    session = await login(http, emulator)
    params = {"session": session, "cameraId": emulator.camera_ids[1], "format": "fmp4", "quality": "low"}
    async with http.get(api(emulator, "media"), params=params) as resp:
        body = await read_for(resp, 2.4)
    frames = frames_of(body)
    assert body.count(b"moof") in (1, 2) and len(frames) == 15 * body.count(b"moof")  # one GOP (1 s) each
    assert frames[0].key_frame


async def test_a_dropped_live_stream_lets_the_encoder_stop(emulator, http):
    session = await login(http, emulator)
    params = {"session": session, "cameraId": emulator.camera_ids[0], "format": "fmp4", "quality": "low"}
    async with http.get(api(emulator, "media"), params=params) as resp:
        await read_for(resp, 0.3)
        assert emulator.drop_streams() == 1
        with pytest.raises(aiohttp.ClientPayloadError):  # the connection dies mid-stream
            await read_for(resp, 1.0)
    await until(lambda: emulator.ptz_video_stats(1)["low"] == {**emulator.ptz_video_stats(1)["low"], "viewers": 0,
                                                               "encoding": False})  # fmt: skip
