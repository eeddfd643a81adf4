"""WEP's events end to end: the emulator's signed webhook posts into the gateway, out to SSE
clients, with links that work; registration across restarts; forged posts; HELLO back-fill;
scoping by token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from contextlib import asynccontextmanager

from gateway.events.service import EVENTS
from tests.events.conftest import mint, running, wait_for
from tests.events.sse_client import SseReader


@asynccontextmanager
async def stream(http, server, token: str | None, **headers):
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.get(server.make_url("/api/v1/events/stream"), headers={**auth, **headers}) as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "text/event-stream"
        yield SseReader(response)


async def test_webhook_is_registered_once_across_restarts_and_deleted_at_shutdown(emulator, events_config):
    url = events_config.events.public_url + "/wep/webhook"
    # A crashed predecessor left its webhook behind: it is reused, not duplicated.
    async with running(events_config) as server:
        layer = server.app[EVENTS]
        await wait_for(lambda: layer.registration.webhook_id, what="registration")
        first_id = layer.registration.webhook_id
        layer.registration.webhook_id = None  # as after SIGKILL: no DELETE at shutdown
    assert [hook["url"] for hook in emulator.webhooks] == [url]
    for restart in range(3):
        async with running(events_config) as server:
            registration = server.app[EVENTS].registration
            await wait_for(lambda r=registration: r.webhook_id, what="registration")
            if restart == 0:
                assert registration.webhook_id == first_id
            assert [hook["url"] for hook in emulator.webhooks] == [url]
            assert emulator.webhooks[0]["heartbeat"] == {"enable": True, "frequencyMs": 1000}
            # Guide, GET /webhooks: "returns the event topics as a list, not as event groups".
            assert "DEVICE_MOTION_START" in emulator.webhooks[0]["eventTopics"]["whitelist"]
        assert emulator.webhooks == []  # a clean shutdown deletes it


async def test_motion_event_reaches_sse_clients_with_working_links(emulator, events_gateway, http):
    token = await mint(http, events_gateway, ["*"], ["view", "snapshot"])
    camera = emulator.camera_ids[0]
    async with stream(http, events_gateway, token) as reader:
        injected = emulator.inject_event(camera, "DEVICE_MOTION_START")
        event = await reader.until(lambda e: e.data["id"] == f"wep:{injected['thisId']}")
    assert event.name == "motion"
    assert reader.retry == 2000
    data = event.data
    assert (data["camera"], data["type"], data["state"], data["source"]) == (
        camera,
        "DEVICE_MOTION_START",
        "start",
        "wep",
    )
    assert data["data"]["originatingServerId"] == injected["originatingServerId"]
    auth = {"Authorization": f"Bearer {token}"}
    async with http.get(events_gateway.make_url(data["links"]["snapshot"]), headers=auth) as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "image/jpeg"
        assert (await response.read()).startswith(b"\xff\xd8")
    async with http.get(events_gateway.make_url(data["links"]["recording"]), headers=auth) as response:
        assert response.status == 200, await response.text()
        playlist = await response.text()
    assert playlist.startswith("#EXTM3U") and "#EXTINF" in playlist


async def test_forged_and_unsigned_posts_are_refused_and_never_delivered(emulator, events_gateway, http):
    camera = emulator.camera_ids[0]
    forged = json.dumps(
        {
            "siteId": "x",
            "type": "NOTIFICATION",
            "time": "2026-01-01T00:00:00.000Z",
            "notification": [
                {
                    "thisId": "forged-1",
                    "type": "DEVICE_MOTION_START",
                    "cameraId": camera,
                    "timestamp": "2026-01-01T00:00:00.000Z",
                }
            ],
        }
    ).encode()
    wrong_key = base64.b64encode(hmac.new(b"not the token" * 2, forged, hashlib.sha256).digest()).decode()
    for headers in ({"Content-Type": "plain/text"}, {"Content-Type": "plain/text", "Authorization": wrong_key}):
        async with http.post(events_gateway.make_url("/wep/webhook"), data=forged, headers=headers) as response:
            assert response.status == 401
            assert (await response.json())["error"]["code"] == "unauthorized"
    token = await mint(http, events_gateway, ["*"], ["view"])
    async with stream(http, events_gateway, token) as reader:
        marker = emulator.inject_event(camera, "DEVICE_MOTION_STOP")
        seen = await reader.collect(1.5)
    assert [e.data["id"] for e in seen if e.data["id"] == f"wep:{marker['thisId']}"]
    assert not [e for e in seen if e.data["id"] == "wep:forged-1"]
    assert sum(events_gateway.app[EVENTS].receiver.stats.rejected.values()) == 2


async def test_hello_after_a_gap_backfills_the_missed_events_exactly_once(emulator, events_gateway, http):
    token = await mint(http, events_gateway, ["*"], ["view"])
    camera = emulator.camera_ids[0]
    layer = events_gateway.app[EVENTS]
    async with stream(http, events_gateway, token) as reader:
        emulator.pause_webhooks()
        missed = [
            emulator.inject_event(camera, kind)
            for kind in ("DEVICE_MOTION_START", "DEVICE_MOTION_STOP", "DEVICE_ANALYTICS_START")
        ]
        emulator.resume_webhooks()  # HELLO: the gateway searches /events/search
        after = emulator.inject_event(camera, "DEVICE_ANALYTICS_STOP")
        received = await reader.collect(3.0)
    ids = [e.data["id"] for e in received]
    for event in (*missed, after):
        assert ids.count(f"wep:{event['thisId']}") == 1, ids
    assert layer.receiver.stats.backfilled >= 3
    # The gap events are in the history too, once each.
    async with http.get(
        events_gateway.make_url("/api/v1/events?limit=1000"), headers={"Authorization": f"Bearer {token}"}
    ) as response:
        listed = [e["id"] for e in (await response.json())["events"]]
    for event in missed:
        assert listed.count(f"wep:{event['thisId']}") == 1


async def test_a_token_for_camera_a_never_sees_camera_b(emulator, events_gateway, http):
    camera_a, camera_b = emulator.camera_ids[:2]
    token = await mint(http, events_gateway, [camera_a], ["view"])
    async with stream(http, events_gateway, token) as reader:
        b_event = emulator.inject_event(camera_b, "DEVICE_MOTION_START")
        a_event = emulator.inject_event(camera_a, "DEVICE_MOTION_START")
        received = await reader.collect(1.5)
    # (The emulator's own start-up events, DEVICE_RECORDING_STARTED, may arrive too: A's only.)
    assert {e.data["camera"] for e in received} == {camera_a}
    assert f"wep:{a_event['thisId']}" in [e.data["id"] for e in received]
    headers = {"Authorization": f"Bearer {token}"}
    async with http.get(events_gateway.make_url("/api/v1/events"), headers=headers) as response:
        listed = (await response.json())["events"]
    assert {e["camera"] for e in listed} == {camera_a}
    assert f"wep:{b_event['thisId']}" not in {e["id"] for e in listed}
    async with http.get(events_gateway.make_url(f"/api/v1/events?camera={camera_b}"), headers=headers) as response:
        assert response.status == 403


async def test_a_client_resuming_with_last_event_id_gets_what_it_missed_once(emulator, events_gateway, http):
    token = await mint(http, events_gateway, ["*"], ["view"])
    camera = emulator.camera_ids[0]
    layer = events_gateway.app[EVENTS]
    async with stream(http, events_gateway, token) as reader:
        first = emulator.inject_event(camera, "DEVICE_MOTION_START")
        seen = await reader.until(lambda e: e.data["id"] == f"wep:{first['thisId']}")
    missed = [emulator.inject_event(camera, kind) for kind in ("DEVICE_MOTION_STOP", "DEVICE_MOTION_START")]
    await wait_for(lambda: all(layer.bus.seen(f"wep:{e['thisId']}") for e in missed), what="the missed events")
    async with stream(http, events_gateway, token, **{"Last-Event-ID": seen.id}) as reader:
        replayed = await reader.collect(1.0)
    ids = [e.data["id"] for e in replayed]
    assert ids == [f"wep:{e['thisId']}" for e in missed]
