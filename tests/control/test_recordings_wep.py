"""Timeline, bookmarks and on-demand recording through the gateway, against the WEP
emulator: what WEP keeps, read and written through the seam."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import aiohttp
import pytest


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


def _iso(at: datetime) -> str:
    return quote(at.isoformat(timespec="milliseconds").replace("+00:00", "Z"))


async def test_the_timeline_shows_recordings_with_a_gap_and_motion(gateway_url, emulator, http):
    camera = emulator.camera_ids[0]
    await asyncio.sleep(2.2)
    emulator.add_recording_gap(0.5, 1.5)
    emulator.inject_event(camera, "DEVICE_MOTION_START")
    await asyncio.sleep(1.1)
    emulator.inject_event(camera, "DEVICE_MOTION_STOP")
    now = datetime.now(UTC)
    url = (
        f"{gateway_url}/api/v1/cameras/{camera}/timeline?from={_iso(now - timedelta(seconds=30))}"
        f"&to={_iso(now + timedelta(seconds=1))}&scope=TENTH_SECOND"
    )
    async with http.get(url) as response:
        assert response.status == 200, await response.text()
        timeline = await response.json()
    assert timeline["scope"] == "TENTH_SECOND" and timeline["camera"] == camera
    assert len(timeline["recordings"]) == 2  # before and after the gap
    assert len(timeline["motion"]) == 1
    motion = timeline["motion"][0]
    seconds = (datetime.fromisoformat(motion["to"]) - datetime.fromisoformat(motion["from"])).total_seconds()
    assert 0.9 <= seconds <= 1.5
    async with http.get(url) as response:  # asked again: from the gateway's cache
        assert await response.json() == timeline


async def test_a_bookmark_made_through_the_gateway_is_kept_by_wep_and_listed(gateway_url, emulator, http):
    camera = emulator.camera_ids[0]
    body = {
        "name": "Van at the gate",
        "time": "2026-11-30T05:40:00.000Z",
        "duration_s": 30,
        "description": "white, no plates",
    }
    async with http.post(f"{gateway_url}/api/v1/cameras/{camera}/bookmarks", json=body) as response:
        assert response.status == 201, await response.text()
        made = await response.json()
    assert (made["name"], made["time"], made["duration_s"]) == ("Van at the gate", "2026-11-30T05:40:00.000Z", 30)
    kept = [b for b in emulator.bookmarks if b["name"] == "Van at the gate"]
    assert kept and kept[0]["cameraIds"] == [camera] and kept[0]["endTime"] == "2026-11-30T05:40:30.000Z"
    async with http.get(f"{gateway_url}/api/v1/cameras/{camera}/bookmarks") as response:
        listed = (await response.json())["bookmarks"]
    assert made["id"] in [b["id"] for b in listed]
    async with http.get(f"{gateway_url}/api/v1/cameras/{emulator.camera_ids[1]}/bookmarks") as response:
        assert made["id"] not in [b["id"] for b in (await response.json())["bookmarks"]]


async def test_recording_on_demand_starts_and_stops(gateway_url, emulator, http):
    camera = emulator.camera_ids[0]
    url = f"{gateway_url}/api/v1/cameras/{camera}/record"
    async with http.post(url, json={"action": "start", "seconds": 600}) as response:
        answer = await response.json()
    assert answer["recording"] is True and answer["since"]
    assert emulator.manual_recording(camera)["maxDurationSec"] == 600
    async with http.get(url) as response:
        assert (await response.json())["recording"] is True
    async with http.post(url, json={"action": "stop"}) as response:
        assert (await response.json()) == {"recording": False, "since": None}
    assert emulator.manual_recording(camera) is None


@pytest.mark.parametrize(
    ("method", "path", "body", "words"),
    [
        ("post", "record", {"action": "pause"}, 'action must be "start" or "stop"'),
        ("post", "record", {"action": "start", "seconds": 90000}, "seconds must be a whole number from 1 to 86400"),
        ("post", "bookmarks", {"name": "", "time": "2026-11-30T05:40:00Z"}, "name must be a string"),
        ("post", "bookmarks", {"name": "x", "time": "soon"}, "time must be an ISO 8601 time"),
        ("post", "bookmarks", {"name": "x", "time": "2026-11-30T05:40:00Z", "duration_s": -1}, "duration_s"),
        ("get", "timeline?scope=HOUR", None, "scope must be one of"),
    ],
)
async def test_bad_requests_are_refused_with_the_reason(gateway_url, emulator, http, method, path, body, words):
    url = f"{gateway_url}/api/v1/cameras/{emulator.camera_ids[0]}/{path}"
    async with http.request(method, url, json=body) as response:
        assert response.status == 400
        assert words in (await response.json())["error"]["message"]
    assert emulator.manual_recording(emulator.camera_ids[0]) is None
