"""`GET /api/v1/events`: the ring for recent events, WEP's Event Query API for older ones,
merged newest first."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from gateway.events.service import EVENTS
from tests.events.conftest import mint, running, wait_for


def _ago(seconds: float) -> str:
    return quote((datetime.now(UTC) - timedelta(seconds=seconds)).isoformat(timespec="milliseconds"))


async def test_events_older_than_the_ring_come_from_weps_search(emulator, events_config, http):
    camera_a, camera_b = emulator.camera_ids[:2]
    config = dataclasses.replace(events_config, events=dataclasses.replace(events_config.events, ring_size=3))
    async with running(config) as server:
        layer = server.app[EVENTS]
        await wait_for(lambda: layer.registration.webhook_id, what="registration")
        sent = []
        for camera, kind in (
            (camera_a, "DEVICE_MOTION_START"),
            (camera_b, "DEVICE_MOTION_START"),
            (camera_a, "DEVICE_MOTION_STOP"),
            (camera_b, "DEVICE_MOTION_STOP"),
            (camera_a, "DEVICE_ANALYTICS_START"),
        ):
            sent.append(emulator.inject_event(camera, kind))
            await wait_for(lambda: layer.bus.seen(f"wep:{sent[-1]['thisId']}"), what="the event")
        token = await mint(http, server, ["*"], ["view"])
        headers = {"Authorization": f"Bearer {token}"}

        async def listed(query: str) -> dict:
            async with http.get(server.make_url(f"/api/v1/events?{query}"), headers=headers) as response:
                assert response.status == 200, await response.text()
                return await response.json()

        expected = [f"wep:{e['thisId']}" for e in reversed(sent)]
        recent_only = [e["id"] for e in (await listed("limit=100"))["events"]]
        assert recent_only == expected[:3]  # no `from`: the ring (3 events) only, WEP is not asked
        ids = [e["id"] for e in (await listed(f"from={_ago(600)}"))["events"]]
        assert [i for i in ids if i in expected] == expected  # the ring and WEP's search, newest first, once each
        filtered = (await listed(f"from={_ago(600)}&camera={camera_a}&type=DEVICE_MOTION_START"))["events"]
        assert [e["id"] for e in filtered] == [f"wep:{sent[0]['thisId']}"]
        assert filtered[0]["links"]["snapshot"].startswith(f"/api/v1/cameras/{camera_a}/snapshot.jpg?t=")
        assert len((await listed(f"from={_ago(600)}&limit=2"))["events"]) == 2
        emulator.fail_next(2, 503)
        answer = await listed(f"from={_ago(600)}")
        assert "could not be searched" in answer["incomplete"]
        assert [e["id"] for e in answer["events"]] == expected[:3]


async def test_bad_queries_name_the_parameter(events_gateway, http):
    token = await mint(http, events_gateway, ["*"], ["view"])
    for query, words in (
        ("limit=0", "limit"),
        ("limit=5000", "limit"),
        ("from=yesterday", "from"),
        ("to=2024-13-01T00:00:00Z", "to"),
        ("type=motion", "type"),
        ("colour=red", "unknown"),
        (f"from={_ago(0)}&to={_ago(60)}", "from must not be after to"),
    ):
        async with http.get(
            events_gateway.make_url(f"/api/v1/events?{query}"), headers={"Authorization": f"Bearer {token}"}
        ) as response:
            assert response.status == 400, query
            assert words in (await response.json())["error"]["message"], query
