"""/_emulator/...: raise alarms, read alerts and stats, without a login."""

from __future__ import annotations

import aiohttp


async def test_raise_and_read_alarms_without_login(alta):
    async with aiohttp.ClientSession() as http:
        async with http.post(alta.url + "/_emulator/alarms", json={"zone": 1, "device": 102}) as resp:
            assert resp.status == 200
            alert = (await resp.json())["alert"]
        assert alert["origin_name"] == "Loading Dock South"
        async with http.post(alta.url + "/_emulator/alarms", json={"zone": "1"}) as resp:
            assert (await resp.json())["alert"]["guid"] == alert["guid"]
        async with http.get(alta.url + "/_emulator/alerts") as resp:
            (shown,) = (await resp.json())["alerts"]
        assert shown["guid"] == alert["guid"] and shown["detections"] == 2
        assert shown["visible"] is True and shown["verifications"] == []
        for body, status in (({"zone": 9}, 404), ({"zone": 1, "device": 999}, 404), ({}, 400),
                             ({"zone": True}, 400), ({"zone": 1, "device": [1]}, 400)):  # fmt: skip
            async with http.post(alta.url + "/_emulator/alarms", json=body) as resp:
                assert resp.status == status, body
        async with http.post(alta.url + "/_emulator/alarms", data=b"[") as resp:
            assert resp.status == 400


async def test_stats_count_requests_by_route(alta, api):
    alert = alta.raise_alarm(1)
    await api.get("/api/v1/ongoingAlerts")
    await api.get("/api/v1/ongoingAlerts")
    await api.get(f"/api/v1/alerts/{alert['guid']}")
    await api.get("/api/v1/nowhere")
    status, stats = await api.get("/_emulator/stats")
    assert status == 200
    assert stats["requests"] == {"GET /api/v1/alerts/{guid}": 1, "GET /api/v1/ongoingAlerts": 2,
                                 "GET unmatched": 1, "POST /api/v1/dologin": 1}  # fmt: skip
    assert stats["logins"] == 1 and stats["sessions"] == 1 and stats["alerts_created"] == 1
    assert stats == alta.stats
