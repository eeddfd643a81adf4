"""Alarms through the gateway: listed from WEP, acknowledged with a note (WEP `PUT /alarm`),
audited with the token's `sub`, announced on the event stream; scoped to the token's cameras."""

from __future__ import annotations

from gateway.events.service import EVENTS
from tests.events.conftest import mint, wait_for
from tests.events.sse_client import SseReader


async def _alarms(http, server, token: str) -> list[dict]:
    async with http.get(server.make_url("/api/v1/alarms"), headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status == 200, await response.text()
        return (await response.json())["alarms"]


async def test_acknowledged_alarm_shows_in_wep_with_the_note_and_in_the_history_with_the_sub(
    emulator, events_gateway, http
):
    camera = emulator.camera_ids[0]
    raised = emulator.trigger_alarm("Door forced", [camera])
    token = await mint(http, events_gateway, [camera], ["view", "alarms"], sub="guard-1")
    alarm_id = f"wep:{raised['id']}"
    alarm = next(a for a in await _alarms(http, events_gateway, token) if a["id"] == alarm_id)
    assert (alarm["source"], alarm["name"], alarm["state"], alarm["cameras"]) == (
        "wep",
        "Door forced",
        "active",
        [camera],
    )
    assert alarm["links"]["snapshot"].startswith(f"/api/v1/cameras/{camera}/snapshot.jpg?t=")
    headers = {"Authorization": f"Bearer {token}"}
    async with http.get(events_gateway.make_url("/api/v1/events/stream"), headers=headers) as sse:
        reader = SseReader(sse)
        async with http.post(
            events_gateway.make_url(f"/api/v1/alarms/{alarm_id}/acknowledge"),
            headers=headers,
            json={"note": "checked on camera, all clear"},
        ) as response:
            assert response.status == 200, await response.text()
            assert (await response.json())["state"] == "acknowledged"
        announced = await reader.until(lambda e: e.data["source"] == "gateway")
    assert announced.name == "alarm"
    assert announced.data["type"] == "ALARM_ACKNOWLEDGED"
    assert announced.data["data"]["by"] == "guard-1"
    assert announced.data["data"]["note"] == "checked on camera, all clear"
    upstream = emulator.alarm(raised["id"])
    assert upstream["state"] == "ACKNOWLEDGED"
    assert upstream["note"] == "checked on camera, all clear"
    async with http.get(events_gateway.make_url(f"/api/v1/alarms/{alarm_id}/history"), headers=headers) as response:
        history = (await response.json())["history"]
    assert [(h["action"], h["by"], h["note"], h["outcome"]) for h in history] == [
        ("acknowledge", "guard-1", "checked on camera, all clear", "ok")
    ]


async def test_alarm_list_follows_alarm_events_and_claim_and_dismiss_work(emulator, events_gateway, http):
    camera = emulator.camera_ids[0]
    token = await mint(http, events_gateway, ["*"], ["alarms"], sub="op")
    before = {a["id"] for a in await _alarms(http, events_gateway, token)}
    raised = emulator.trigger_alarm("Perimeter", [camera])
    layer = events_gateway.app[EVENTS]
    # The ALARM_TRIGGERED event marks the cached list stale: the next GET shows the new alarm.
    await wait_for(lambda: any(e.type == "ALARM_TRIGGERED" for e in layer.bus.recent()), what="ALARM_TRIGGERED")
    after = {a["id"] for a in await _alarms(http, events_gateway, token)}
    assert after - before == {f"wep:{raised['id']}"}
    headers = {"Authorization": f"Bearer {token}"}
    for action, state in (("claim", "CLAIMED"), ("dismiss", "PURGED")):
        async with http.post(
            events_gateway.make_url(f"/api/v1/alarms/wep:{raised['id']}/{action}"), headers=headers
        ) as response:
            assert response.status == 200, await response.text()
        assert emulator.alarm(raised["id"])["state"] == state


async def test_alarms_are_scoped_to_the_tokens_cameras_and_action(emulator, events_gateway, http):
    camera_a, camera_b = emulator.camera_ids[:2]
    raised = emulator.trigger_alarm("Loading bay", [camera_b])
    token_a = await mint(http, events_gateway, [camera_a], ["alarms"])
    assert f"wep:{raised['id']}" not in {a["id"] for a in await _alarms(http, events_gateway, token_a)}
    headers = {"Authorization": f"Bearer {token_a}"}
    async with http.post(
        events_gateway.make_url(f"/api/v1/alarms/wep:{raised['id']}/acknowledge"), headers=headers
    ) as response:
        assert response.status == 403
    assert emulator.alarm(raised["id"])["state"] == "ACTIVE"
    viewer_only = await mint(http, events_gateway, ["*"], ["view"])
    async with http.get(
        events_gateway.make_url("/api/v1/alarms"), headers={"Authorization": f"Bearer {viewer_only}"}
    ) as response:
        assert response.status == 403
        assert "alarms" in (await response.json())["error"]["message"]


async def test_bad_alarm_requests_get_clear_errors(emulator, events_gateway, http):
    raised = emulator.trigger_alarm("Gate", [emulator.camera_ids[0]])
    token = await mint(http, events_gateway, ["*"], ["alarms"])
    headers = {"Authorization": f"Bearer {token}"}
    url = events_gateway.make_url(f"/api/v1/alarms/wep:{raised['id']}/acknowledge")
    for body, status, words in (
        (b"{not json", 400, "JSON object"),
        (b'{"note": 5}', 400, "note must be a string"),
        (b'{"note": "x", "who": 1}', 400, "unknown field"),
        (b'{"note": "' + b"x" * 1001 + b'"}', 400, "at most 1000"),
        (b'{"note": "' + b"x" * 20000 + b'"}', 413, "larger"),
    ):
        async with http.post(url, data=body, headers=headers) as response:
            assert response.status == status, await response.text()
            assert words in (await response.json())["error"]["message"]
    async with http.post(events_gateway.make_url("/api/v1/alarms/wep:nope/acknowledge"), headers=headers) as response:
        assert response.status == 404
    assert emulator.alarm(raised["id"])["state"] == "ACTIVE"
