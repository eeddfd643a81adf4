"""Pushes against a real nginx-rtmp: both modes reach it and ffprobe decodes what it
recorded; a receiver that dies comes back (live, retrying, live); bad input is refused or
reported with its reason; the stream key never leaves the gateway in full."""

from __future__ import annotations

import asyncio
import logging

import pytest

from gateway.services import WEP
from tests.rtmp.conftest import ADMIN_KEY, wait_for_state
from tests.rtmp.nginx import decoded_seconds, free_port, probe

pytestmark = pytest.mark.peer

KEY = "sk-live-7f3a9c2e51d8"  # what a platform's stream key looks like
LIVE_FOR = 11.0  # the issue asks for at least 10 s decoded at the receiver


def collapse(states: list[str]) -> list[str]:
    return [state for i, state in enumerate(states) if i == 0 or states[i - 1] != state]


@pytest.mark.parametrize("mode,media", [("gateway", "both"), ("wep", "both")])
async def test_push_reaches_nginx_survives_its_restart_and_stops(
    mode, media, gateway_url, http, nginx, emulator, caplog
):
    caplog.set_level(logging.INFO)
    camera = emulator.camera_ids[0]  # the emulator's first camera has a microphone
    url = nginx.url("live", KEY)
    async with http.post(
        f"{gateway_url}/api/v1/pushes",
        json={"camera": camera, "url": url, "quality": "high", "media": media, "mode": mode},
    ) as resp:
        assert resp.status == 201, await resp.text()
        created = await resp.json()
        location = resp.headers["Location"]
    assert created["url"] == f"rtmp://127.0.0.1:{nginx.rtmp_port}/live/sk***"
    push_url = gateway_url + location

    view = await wait_for_state(http, push_url, {"live"}, 30)
    assert view["state"] == "live", view
    await asyncio.sleep(LIVE_FOR)

    nginx.kill()
    view = await wait_for_state(http, push_url, {"retrying"}, 20)
    assert view["state"] == "retrying", view
    assert view["last_error"]
    await asyncio.sleep(1.0)
    nginx.start()
    # Backoff after a stable live period starts at 1 s (jittered 0.5-1 s, then 1-2 s, ...);
    # WEP mode adds its 2 s list check. 20 s is well inside the window.
    view = await wait_for_state(http, push_url, {"live"}, 20)
    assert view["state"] == "live", view
    states = collapse([step["state"] for step in view["history"] if step["state"] != "starting"])
    assert states[0] == "live" and states[-3:] == ["live", "retrying", "live"], view["history"]
    await asyncio.sleep(2.0)

    async with http.delete(push_url) as resp:
        assert resp.status == 200
        assert (await resp.json())["state"] == "stopped"
    async with http.get(push_url) as resp:
        assert resp.status == 404

    recordings = nginx.recordings(KEY)
    assert len(recordings) >= 2, recordings  # one per publish: before and after the restart
    first = probe(recordings[0])
    kinds = {stream["codec_type"]: stream for stream in first["streams"]}
    assert kinds["video"]["codec_name"] == "h264"
    assert (kinds["video"]["width"], kinds["video"]["height"]) == (640, 360)
    assert decoded_seconds(first["frames"]["video"]) >= 10.0
    if media == "both":
        assert kinds["audio"]["codec_name"] == "aac"
        assert decoded_seconds(first["frames"]["audio"]) >= 10.0
    else:
        assert "audio" not in kinds
    last = probe(recordings[-1])  # closed cleanly by the DELETE
    assert last["frames"]["video"] and last["errors"] == ""

    # The gateway's own lines (the emulator plays WEP, a different system with its own logs).
    logged = "\n".join(
        record.getMessage() for record in caplog.records if not record.name.startswith("gateway.emulator")
    )
    assert KEY not in logged and KEY not in str(view)
    assert "sk***" in logged


async def test_gateway_push_counts_bytes_and_bitrate(gateway_url, http, nginx, emulator):
    url = nginx.url("live", "counted-stream-key")
    async with http.post(
        f"{gateway_url}/api/v1/pushes", json={"camera": emulator.camera_ids[1], "url": url, "quality": "low"}
    ) as resp:
        assert resp.status == 201
        push_url = gateway_url + resp.headers["Location"]
    assert (await wait_for_state(http, push_url, {"live"}, 30))["state"] == "live"
    await asyncio.sleep(3.0)
    async with http.get(f"{gateway_url}/api/v1/pushes") as resp:
        [view] = (await resp.json())["pushes"]
    assert view["mode"] == "gateway" and view["bytes_sent"] > 10_000 and view["frames_sent"] >= 30
    assert 50_000 < view["bitrate"] < 2_000_000  # the emulator's low quality is 250 kb/s
    async with http.delete(push_url) as resp:
        assert resp.status == 200


async def test_bad_input_is_refused_with_clear_errors(gateway_url, http, emulator):
    camera = emulator.camera_ids[0]
    post = f"{gateway_url}/api/v1/pushes"
    cases = [
        ({"camera": camera, "url": "http://example.com/live/key"}, 400, "url scheme must be rtmp or rtmps, got 'http'"),
        ({"camera": camera, "url": "rtmp:///live/key"}, 400, "url has no host"),
        ({"camera": camera, "url": "rtmp://host"}, 400, "url has no application path (rtmp://host/app/key)"),
        (
            {"camera": camera, "url": "rtmp://h/a/k", "mode": "cloud"},
            400,
            "mode must be one of gateway, wep, got 'cloud'",
        ),
        (
            {"camera": camera, "url": "rtmp://h/a/k", "media": "smell"},
            400,
            "media must be one of video, audio, both, got 'smell'",
        ),
        ({"camera": "no-such-camera", "url": "rtmp://h/a/k"}, 404, "no camera 'no-such-camera'"),
        ({"url": "rtmp://h/a/k"}, 400, "camera must be a camera id"),
    ]
    for body, status, message in cases:
        async with http.post(post, json=body) as resp:
            answer = await resp.json()
        assert (resp.status, answer["error"]["message"]) == (status, message), body
    async with http.post(post, data=b"{not json") as resp:
        assert resp.status == 400
    async with http.get(f"{gateway_url}/api/v1/pushes") as resp:
        assert (await resp.json())["pushes"] == []


async def test_admin_key_is_required(gateway_url, emulator):
    import aiohttp

    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.get(f"{gateway_url}/api/v1/pushes") as resp:
            assert resp.status == 401
        wrong = {"Authorization": "Bearer " + ADMIN_KEY[:-1] + "x"}
        async with anonymous.post(
            f"{gateway_url}/api/v1/pushes",
            headers=wrong,
            json={"camera": emulator.camera_ids[0], "url": "rtmp://h/a/k"},
        ) as resp:
            assert resp.status == 401
            assert (await resp.json())["error"]["code"] == "unauthorized"


async def test_unreachable_and_refusing_destinations_retry_with_the_reason(gateway_url, http, nginx, emulator):
    camera = emulator.camera_ids[0]
    dead_port = free_port()  # nothing listens there
    cases = {
        "unreachable": (f"rtmp://127.0.0.1:{dead_port}/live/secret-key-one", "gateway", "connection refused"),
        "unresolvable": ("rtmp://no-such-host.invalid/live/secret-key-two", "gateway", "cannot resolve"),
        "refused key": (nginx.url("guarded", "secret-key-three"), "gateway", "refused the stream"),
        "refused key, wep": (nginx.url("guarded", "secret-key-four"), "wep", "WEP no longer lists the push"),
    }
    urls = {}
    for name, (url, mode, _) in cases.items():
        async with http.post(f"{gateway_url}/api/v1/pushes", json={"camera": camera, "url": url, "mode": mode}) as resp:
            assert resp.status == 201, name
            urls[name] = gateway_url + resp.headers["Location"]
    for name, (url, _, reason) in cases.items():
        view = await wait_for_state(http, urls[name], {"retrying", "failed"}, 30)
        assert view["state"] == "retrying", (name, view)
        assert reason in view["last_error"], (name, view["last_error"])
        assert url not in str(view) and url.rsplit("/", 1)[1] not in str(view)
        assert view["retry_at"] is not None
    async with http.get(f"{gateway_url}/healthz") as resp:
        assert resp.status == 200  # no crash


async def test_audio_from_a_camera_without_audio_fails_clearly(gateway_url, http, nginx, emulator):
    async with http.post(
        f"{gateway_url}/api/v1/pushes",
        json={"camera": emulator.camera_ids[-1], "url": nginx.url("live", "audio-key-123"), "media": "both"},
    ) as resp:
        assert resp.status == 201
        push_url = gateway_url + resp.headers["Location"]
    view = await wait_for_state(http, push_url, {"failed", "live"}, 30)
    # The emulator's last camera has no microphone: its hub carries video only.
    assert (view["state"], view["last_error"]) == ("failed", "camera has no audio yet")
    async with http.delete(push_url) as resp:
        assert resp.status == 200 and (await resp.json())["state"] == "stopped"


async def wait_for_pushes_to(emulator, url: str, check, timeout: float) -> list:
    """Poll the emulator's pushes to `url` until `check(pushes)`; the last list either way."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        pushes = [push for push in emulator.pushes.all() if push.spec.url == url]
        if check(pushes) or asyncio.get_running_loop().time() > deadline:
            return pushes
        await asyncio.sleep(0.2)


async def test_wep_push_moves_to_a_new_session_and_delete_stops_it_with_its_owner(
    gateway, gateway_url, http, nginx, emulator
):
    """The gateway logs in again (new WEP session) while the old one still lives: the
    stream is not in the new session's GET /media/rtmp, so the push is restarted; the old
    stream must be stopped with the old session (it alone may), leaving one push, and
    DELETE must then stop the new stream with the new session."""
    url = nginx.url("live", KEY)
    async with http.post(
        f"{gateway_url}/api/v1/pushes",
        json={"camera": emulator.camera_ids[1], "url": url, "quality": "low", "mode": "wep"},
    ) as resp:
        assert resp.status == 201, await resp.text()
        push_url = gateway_url + resp.headers["Location"]
    view = await wait_for_state(http, push_url, {"live"}, 30)
    assert view["state"] == "live", view
    [before] = [push for push in emulator.pushes.all() if push.spec.url == url]

    await gateway.app[WEP].login()  # a new session; the old one stays valid while it pushes

    def moved(pushes: list) -> bool:
        return [
            push.spec.session_token != before.spec.session_token and push.state == "streaming" for push in pushes
        ] == [True]

    pushes = await wait_for_pushes_to(emulator, url, moved, 30)
    assert moved(pushes), [push.to_json() for push in pushes]
    view = await wait_for_state(http, push_url, {"live"}, 20)
    assert view["state"] == "live", view
    assert any(step["state"] == "retrying" for step in view["history"]), view["history"]

    async with http.delete(push_url) as resp:
        assert resp.status == 200
    pushes = await wait_for_pushes_to(emulator, url, lambda pushes: not pushes, 10)
    assert pushes == [], [push.to_json() for push in pushes]
