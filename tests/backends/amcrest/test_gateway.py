"""An Amcrest camera (the emulator: RTSP with Digest, CGI) served by the gateway beside the
WEP emulator's cameras, through the same hub and outputs, checked by real peers: ffmpeg
decodes its LL-HLS and /live, Chromium plays it over WHEP and talks to its speaker,
nginx-rtmp receives its push."""

from __future__ import annotations

import asyncio
import io
import time

import aiohttp
import av
import numpy as np
import pytest

from gateway.backends.base import PtzVector
from gateway.services import CAMERAS
from tests.backends.amcrest.conftest import recorded_live
from tests.hls.test_ffmpeg import assert_clean, ffmpeg_frames
from tests.rtmp.conftest import ADMIN, wait_for_state
from tests.rtmp.nginx import decoded_seconds, probe
from tests.talkdown.audio import tone, wav_bytes, write_wav
from tests.web.chromium import chromium_page, frames_keep_rising, wait_playing

pytestmark = [pytest.mark.peer, pytest.mark.timeout(180)]


def alaw_decode(codes: bytes) -> np.ndarray:
    """G.711 A-law to int16 with FFmpeg's decoder (a peer, not our own tables)."""
    context = av.CodecContext.create("pcm_alaw", "r")
    context.sample_rate, context.layout = 8000, "mono"
    frames = context.decode(av.Packet(codes))
    return np.concatenate([frame.to_ndarray().reshape(-1) for frame in frames])


def dominant_hz(samples: np.ndarray, rate: int = 8000) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(float) * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


async def test_listed_beside_the_wep_cameras(porch_ready, emulator):
    porch = porch_ready["porch"]
    assert porch == {
        "id": "porch",
        "name": "Porch",
        "qualities": ["high", "low"],
        "speaker": True,
        "audio": True,
        "source": "amcrest",
        "ptz": True,
    }
    assert [porch_ready[camera]["source"] for camera in emulator.camera_ids] == ["wep"] * len(emulator.camera_ids)


async def test_ffmpeg_decodes_its_ll_hls_and_live_stream(porch_ready, gateway_url, tmp_path):
    pts, errors = await ffmpeg_frames(f"{gateway_url}/hls/porch/index.m3u8", 10)
    assert_clean(pts, errors, 10)
    assert len(pts) == 2, "the camera's G.711 reaches HLS players as AAC"  # video and audio streams
    kinds, found = await recorded_live(gateway_url, "porch", 10, tmp_path / "porch.mp4")
    assert kinds["video"]["codec_name"] == "h264" and (kinds["video"]["width"], kinds["video"]["height"]) == (320, 180)
    assert kinds["audio"]["codec_name"] == "aac"
    assert decoded_seconds(found["frames"]["video"]) >= 9.0 and found["errors"] == ""


async def test_chromium_plays_it_over_whep_beside_the_wep_cameras(porch_ready, gateway_url, emulator, artifacts_dir):
    async with chromium_page() as page:
        await page.goto(gateway_url + "/")
        playing = await wait_playing(page, len(emulator.camera_ids) + 1, "webrtc")
        assert "porch" in {player["id"] for player in playing}
        samples = await frames_keep_rising(page, 5)
        porch = next(player for player in samples[-1] if player["id"] == "porch")
        assert porch["width"] == 640 and porch["audioPackets"] > 3 * 40  # opus made from the camera's G.711
        await page.screenshot(path=str(artifacts_dir / "viewer-wep-and-amcrest.png"))


async def test_gateway_push_of_it_reaches_nginx(porch_ready, gateway_url, nginx):
    async with aiohttp.ClientSession(headers=ADMIN) as http:
        body = {"camera": "porch", "url": nginx.url("live", "porch-key"), "media": "both", "mode": "gateway"}
        async with http.post(f"{gateway_url}/api/v1/pushes", json=body) as response:
            assert response.status == 201, await response.text()
            push_url = gateway_url + response.headers["Location"]
        view = await wait_for_state(http, push_url, {"live"}, 30)
        assert view["state"] == "live", view
        await asyncio.sleep(6)
        async with http.delete(push_url) as response:
            assert response.status == 200
        # The camera system cannot push by itself: mode "wep" is refused, naming the camera.
        async with http.post(f"{gateway_url}/api/v1/pushes", json=body | {"mode": "wep"}) as response:
            assert response.status == 400
            assert "porch" in (await response.json())["error"]["message"]
    recording = probe(nginx.recordings("porch-key")[0])
    kinds = {stream["codec_type"]: stream for stream in recording["streams"]}
    assert kinds["video"]["codec_name"] == "h264" and kinds["audio"]["codec_name"] == "aac"
    assert decoded_seconds(recording["frames"]["video"]) >= 4.0 and recording["errors"] == ""


async def test_snapshot_and_roi_crop(porch_ready, gateway_url, amcrest):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{gateway_url}/api/v1/cameras/porch/snapshot.jpg") as response:
            assert response.status == 200 and response.content_type == "image/jpeg"
            full = await response.read()
        async with http.get(f"{gateway_url}/api/v1/cameras/porch/snapshot.jpg?roi=0.5,0.5,1,1&size=160x90") as response:
            assert response.status == 200, await response.text()
            crop = await response.read()
        # Amcrest has no pictures of the past: a clear 400, not an upstream error.
        async with http.get(f"{gateway_url}/api/v1/cameras/porch/snapshot.jpg?t=2025-01-01T00:00:00Z") as response:
            assert response.status == 400 and "porch" in (await response.json())["error"]["message"]
    with av.open(io.BytesIO(full)) as container:
        assert next(container.decode(video=0)).width == 640  # the camera's own picture
    with av.open(io.BytesIO(crop)) as container:
        frame = next(container.decode(video=0))
        assert (frame.width, frame.height) == (160, 90)  # cut here: the CGI cannot crop
    assert amcrest.stats["snapshots"] == 1  # the crop came from the cached full frame


async def test_chromium_microphone_reaches_its_speaker_as_440_hz_g711(porch_ready, gateway_url, amcrest, tmp_path):
    mic = write_wav(tmp_path / "tone.wav", tone(10.0, 48000), 48000)
    async with chromium_page(microphone=mic) as page:
        await page.goto(f"{gateway_url}/?mode=mse&quality=low")
        button = page.locator('article[data-camera="porch"] button.talk')
        await button.wait_for(state="visible", timeout=15000)
        await button.scroll_into_view_if_needed()
        box = await button.bounding_box()
        await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        await page.mouse.down()
        deadline = time.monotonic() + 20
        while len(amcrest.talk_audio(1)) < 8000 * 3:  # three seconds at the speaker
            assert time.monotonic() < deadline, len(amcrest.talk_audio(1))
            await asyncio.sleep(0.1)
        await page.mouse.up()
    assert amcrest.talk_content_types(1) == ["Audio/G.711A"]
    samples = alaw_decode(amcrest.talk_audio(1))
    assert abs(dominant_hz(samples[-8000 * 2 :]) - 440) <= 10


async def test_an_uploaded_file_plays_on_its_speaker(porch_ready, gateway_url, amcrest):
    body = wav_bytes(tone(2.0, 48000, freq=660.0), 48000)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{gateway_url}/api/v1/cameras/porch/talkdown", data=body, headers={"Content-Type": "audio/wav"}
        ) as response,
    ):
        assert response.status == 200, await response.text()
        answer = await response.json()
    assert answer["posts"] == 1 and abs(answer["duration"] - 2.0) < 0.05
    received = amcrest.talk_audio(1)
    assert len(received) == answer["bytes"] and amcrest.talk_content_types(1) == ["Audio/G.711A"]
    assert abs(dominant_hz(alaw_decode(received)) - 660) <= 10


async def test_motion_events_come_out_of_the_backend_in_order(porch_ready, gateway, amcrest):
    backend = gateway.app[CAMERAS].backend_of("porch")
    events = backend.events()
    first = asyncio.ensure_future(anext(events))
    await asyncio.sleep(1.0)  # attached
    amcrest.inject_event(2, "VideoMotion", "Start")  # another channel: not this camera's
    amcrest.inject_event(1, "VideoMotion", "Start", {"RegionName": ["Door"]})
    amcrest.inject_event(1, "VideoMotion", "Stop")
    start = await asyncio.wait_for(first, 10)
    stop = await asyncio.wait_for(anext(events), 10)
    await events.aclose()
    assert (start.camera, start.type, start.state, start.source) == ("porch", "DEVICE_MOTION_START", "start", "amcrest")
    assert (stop.type, stop.state) == ("DEVICE_MOTION_STOP", "stop")
    assert start.data["details"] == {"RegionName": ["Door"]} and start.id != stop.id


async def test_ptz_move_and_preset_reach_the_camera(porch_ready, gateway, amcrest):
    backend = gateway.app[CAMERAS].backend_of("porch")
    await backend.ptz_move("porch", PtzVector(pan=-0.5))
    await backend.ptz_move("porch", PtzVector(pan=-0.5, tilt=0.5))  # a new direction stops the old one
    await backend.ptz_stop("porch")
    await backend.ptz_goto_preset("porch", 3)
    assert [(e["channel"], e["action"], e["code"], e["arg1"], e["arg2"]) for e in amcrest.ptz_log] == [
        (1, "start", "Left", 0, 4),
        (1, "stop", "Left", 0, 0),
        (1, "start", "LeftUp", 4, 4),
        (1, "stop", "LeftUp", 0, 0),
        (1, "start", "GotoPreset", 0, 3),
    ]


async def test_camera_events_reach_the_event_stream_in_weps_vocabulary(amcrest, gateway_url, porch_ready):
    """Amcrest VideoMotion becomes DEVICE_MOTION_START/STOP on the same bus as WEP's events;
    the raw fields stay in `data`; no links the camera cannot serve (no recordings)."""
    from tests.events.sse_client import SseReader

    async with aiohttp.ClientSession() as http, http.get(f"{gateway_url}/api/v1/events/stream") as response:
        reader = SseReader(response)
        deadline = time.monotonic() + 10
        while not amcrest.events._streams and time.monotonic() < deadline:  # the gateway's attach is up
            await asyncio.sleep(0.05)
        for action in ("Start", "Stop"):
            amcrest.inject_event(1, "VideoMotion", action)
        amcrest.inject_event(1, "AlarmLocal", "Pulse", {"port": 1})
        events = [await reader.until(lambda e: e.data["source"] == "amcrest") for _ in range(3)]
    assert [(e.name, e.data["type"], e.data["state"]) for e in events] == [
        ("motion", "DEVICE_MOTION_START", "start"),
        ("motion", "DEVICE_MOTION_STOP", "stop"),
        ("device", "AMCREST_ALARMLOCAL", "pulse"),
    ]
    assert {e.data["camera"] for e in events} == {"porch"}
    assert events[0].data["data"]["code"] == "VideoMotion"
    assert events[2].data["data"]["details"] == {"port": 1}
    assert events[0].data["links"] == {"snapshot": None, "recording": None}
