"""Rules end to end: the WEP emulator raises motion, WEP's webhook brings it in, the rule
fires through the gateway's services, and the emulator, a webhook receiver and the archive
show what happened."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

SECRET = "receiver-secret-0123"


def all_day(offset_days: int = 0) -> list[dict]:
    day = (datetime.now(UTC) + timedelta(days=offset_days)).weekday()
    return [{"day": day, "ranges": [{"from": "00:00:00", "to": "23:59:59"}]}]


async def create(http, server, body: dict) -> dict:
    async with http.post(server.make_url("/api/v1/rules"), json=body) as response:
        answer = await response.json()
        assert response.status == 201, answer
        return answer


async def history(http, server, rule_id: int) -> list[dict]:
    async with http.get(server.make_url(f"/api/v1/rules/{rule_id}/history")) as response:
        assert response.status == 200
        return (await response.json())["firings"]


async def rule_view(http, server, rule_id: int) -> dict:
    async with http.get(server.make_url(f"/api/v1/rules/{rule_id}")) as response:
        assert response.status == 200
        return await response.json()


async def test_motion_in_the_schedule_fires_every_action_once(
    rules_gateway, emulator, admin_http, receiver, rules_config, tmp_path
):
    server, camera = rules_gateway, emulator.camera_ids[0]  # the PTZ camera
    rule = await create(
        admin_http,
        server,
        {
            "name": "porch after hours",
            "when": {"cameras": [camera], "types": ["DEVICE_MOTION_START"], "schedule": all_day(), "timezone": "UTC"},
            "cooldown_s": 60,
            "actions": [
                {"ptz_preset": {"preset": 2}},
                {"snapshot": {}},
                {"record": {"seconds": 120}},
                {"webhook": {"url": receiver.url, "secret": SECRET}},
            ],
        },
    )
    assert rule["actions"][3]["webhook"]["secret"] == "********"
    injected = emulator.inject_event(camera, "DEVICE_MOTION_START")
    firing = await _first_firing(admin_http, server, rule)
    assert firing["event"]["id"] == f"wep:{injected['thisId']}"
    outcomes = {action["action"]: action for action in firing["actions"]}
    assert {kind: action["outcome"] for kind, action in outcomes.items()} == {
        "ptz_preset": "ok",
        "snapshot": "ok",
        "record": "ok",
        "webhook": "ok",
    }, firing
    # The camera went to preset 2, records on the VMS for 120 s, the JPEG is archived.
    assert emulator.ptz_log(camera)[-1]["kind"] == "preset"
    assert emulator.manual_recording(camera)["maxDurationSec"] == 120
    [jpeg] = list((tmp_path / "archive").rglob("*.jpg"))
    assert jpeg.read_bytes()[:2] == b"\xff\xd8" and jpeg.stat().st_size > 1000
    # The receiver got one post, signed as WEP signs its own, with the event in it.
    [(headers, body)] = receiver.posts
    expected = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    assert hmac.compare_digest(headers["Authorization"], expected)
    payload = json.loads(body)
    assert payload["rule"] == {"id": rule["id"], "name": "porch after hours"}
    assert payload["event"]["type"] == "DEVICE_MOTION_START" and payload["event"]["camera"] == camera
    assert payload["links"]["snapshot"] and payload["links"]["guest"] is None
    assert SECRET not in json.dumps(await rule_view(admin_http, server, rule["id"]))

    # The same motion again inside the cooldown fires nothing, and is counted.
    emulator.inject_event(camera, "DEVICE_MOTION_START")
    view = await _wait_counted(admin_http, server, rule["id"], "cooldown")
    assert view["stats"]["fired"] == 1
    assert len(await history(admin_http, server, rule["id"])) == 1
    assert len(receiver.posts) == 1


async def _first_firing(http, server, rule: dict, count: int = 1, timeout: float = 15.0) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        firings = await history(http, server, rule["id"])
        if len(firings) >= count:
            return firings[0]
        assert loop.time() < deadline, f"rule {rule['id']} did not fire"
        await asyncio.sleep(0.1)


async def _wait_counted(http, server, rule_id: int, why: str, timeout: float = 10.0) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        view = await rule_view(http, server, rule_id)
        if view["stats"]["skipped"].get(why):
            return view
        assert loop.time() < deadline, f"rule {rule_id} never counted a {why} skip: {view['stats']}"
        await asyncio.sleep(0.1)


async def test_outside_the_schedule_nothing_fires_and_it_is_counted(rules_gateway, emulator, admin_http, receiver):
    server, camera = rules_gateway, emulator.camera_ids[1]
    rule = await create(
        admin_http,
        server,
        {
            "name": "tomorrow only",
            "when": {
                "cameras": [camera],
                "types": ["DEVICE_MOTION_START"],
                "schedule": all_day(offset_days=1),
                "timezone": "UTC",
            },
            "actions": [{"webhook": {"url": receiver.url, "secret": SECRET}}],
        },
    )
    emulator.inject_event(camera, "DEVICE_MOTION_START")
    view = await _wait_counted(admin_http, server, rule["id"], "schedule")
    assert view["stats"]["fired"] == 0 and await history(admin_http, server, rule["id"]) == []
    assert receiver.posts == []


async def test_a_hanging_receiver_is_an_audited_failure_and_the_other_actions_go_on(
    rules_gateway, emulator, admin_http, receiver
):
    server, camera = rules_gateway, emulator.camera_ids[0]
    receiver.delay = 30.0  # never answers in time: [rules] webhook_timeout_s is 0.5 s, 2 attempts
    rule = await create(
        admin_http,
        server,
        {
            "name": "hook hangs",
            "when": {"cameras": [camera], "types": ["DEVICE_MOTION_START"]},
            "actions": [
                {"webhook": {"url": receiver.url, "secret": SECRET}},
                {"ptz_preset": {"preset": 3}},
                {"ptz_preset": {"preset": 42}},
            ],
        },
    )
    emulator.inject_event(camera, "DEVICE_MOTION_START")
    firing = await _first_firing(admin_http, server, rule)
    webhook, preset, missing = firing["actions"]
    assert webhook["outcome"] == "failed" and "no answer in time" in webhook["detail"], webhook
    assert len(receiver.posts) == 2  # the post and one retry, never more
    assert preset["outcome"] == "ok" and preset["duration_s"] < webhook["duration_s"]
    assert missing == {**missing, "outcome": "failed", "detail": f"camera {camera!r} has no preset 42"}


async def test_bad_rules_are_refused_naming_the_field(rules_gateway, admin_http):
    server = rules_gateway
    base = {"name": "x", "when": {"types": ["DEVICE_MOTION_START"]}, "actions": [{"snapshot": {}}]}
    cases = [
        ({**base, "when": {"cameras": ["no-such-camera"]}}, "when.cameras[0]"),
        ({**base, "actions": [{"talkdown": {"clip": "no-such-clip"}}]}, "actions[0].talkdown.clip"),
        ({**base, "cooldown_s": "soon"}, "cooldown_s"),
        ({**base, "when": {"schedule": {"": "date"}}}, "when.schedule"),
    ]
    for body, field in cases:
        async with admin_http.post(server.make_url("/api/v1/rules"), json=body) as response:
            answer = await response.json()
            assert response.status == 400, answer
            assert answer["error"]["message"].startswith(field + ":"), answer
    async with admin_http.post(server.make_url("/api/v1/rules"), data=b"{not json") as response:
        assert response.status == 400
    async with admin_http.get(server.make_url("/api/v1/rules/999")) as response:
        assert response.status == 404
    async with admin_http.get(server.make_url("/api/v1/rules"), headers={"Authorization": "Bearer nope"}) as response:
        assert response.status == 401


async def test_rules_survive_a_restart_and_a_timed_push_ends_itself(rules_config, emulator, admin_http, nginx):
    from tests.events.conftest import running, webhook_ready

    camera = emulator.camera_ids[1]
    key = "rule-push-0123456789"
    async with running(rules_config) as server:
        await webhook_ready(server)
        rule = await create(
            admin_http,
            server,
            {
                "name": "push five seconds",
                "when": {"cameras": [camera], "types": ["DEVICE_MOTION_START"]},
                "actions": [{"push": {"url": nginx.url("live", key), "seconds": 6}}],
            },
        )
        emulator.inject_event(camera, "DEVICE_MOTION_START")
        firing = await _first_firing(admin_http, server, rule)
        assert firing["actions"][0]["outcome"] == "ok", firing
        async with admin_http.get(server.make_url("/api/v1/pushes")) as response:
            [push] = (await response.json())["pushes"]
        assert push["stop_at"] is not None and key not in json.dumps(push)
    # The gateway is down; it comes back on the same database.
    async with running(rules_config) as server:
        async with admin_http.get(server.make_url(f"/api/v1/rules/{rule['id']}")) as response:
            assert response.status == 200 and (await response.json())["name"] == "push five seconds"
        assert len(await history(admin_http, server, rule["id"])) == 1

        async def pushes() -> list:
            async with admin_http.get(server.make_url("/api/v1/pushes")) as response:
                return (await response.json())["pushes"]

        assert [view["id"] for view in await pushes()] == [push["id"]]  # restored, still timed
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while await pushes():
            assert loop.time() < deadline, "the timed push did not end itself"
            await asyncio.sleep(0.2)
    assert nginx.recordings(key)  # it did push before it ended


async def test_motion_plays_a_clip_on_the_camera_speaker(rules_gateway, emulator, admin_http):
    from tests.talkdown.audio import dominant_hz, tone, wav_bytes

    server, camera = rules_gateway, emulator.camera_ids[0]
    async with admin_http.post(
        server.make_url("/api/v1/clips"),
        params={"name": "warning-1"},
        data=wav_bytes(tone(1.5, 16000, freq=500.0), 16000),
    ) as response:
        clip = await response.json()
        assert response.status == 201, clip
    rule = await create(
        admin_http,
        server,
        {
            "name": "speak",
            "when": {"cameras": [camera], "types": ["DEVICE_MOTION_START"]},
            "actions": [{"talkdown": {"clip": "warning-1"}}],
        },
    )
    emulator.inject_event(camera, "DEVICE_MOTION_START")
    firing = await _first_firing(admin_http, server, rule)
    [talkdown] = firing["actions"]
    assert talkdown["outcome"] == "ok" and "warning-1" in talkdown["detail"], talkdown
    audio = emulator.talk_audio(camera)
    assert len(audio) == 12000  # 1.5 s of 8 kHz one-byte samples, every one of them
    assert abs(dominant_hz(audio) - 500) <= 10
