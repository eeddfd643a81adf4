"""Alta's alarms through the gateway, end to end with the Alta emulator: the alarm action's
webhook, the guide's lookup flow, the event stream, the alarm list, verify and end."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from gateway.events.service import EVENTS
from tests.backends.alta.conftest import WEBHOOK_SECRET, alta_gateway
from tests.events.conftest import mint, wait_for
from tests.events.sse_client import SseReader


async def alarms(http, server) -> list[dict]:
    async with http.get(server.make_url("/api/v1/alarms")) as response:
        assert response.status == 200, await response.text()
        return [alarm for alarm in (await response.json())["alarms"] if alarm["source"] == "alta"]


async def test_an_alta_alarm_reaches_the_stream_and_the_list_with_working_links(gateway_with_alta, alta, admin_http):
    server = gateway_with_alta
    token = await mint(admin_http, server, ["*"], ["view", "alarms"], sub="guard-7")
    async with (
        aiohttp.ClientSession() as http,
        http.get(server.make_url("/api/v1/events/stream"), params={"token": token}) as stream,
    ):
        reader = SseReader(stream)
        alert = alta.raise_alarm(1, 101)
        event = await reader.until(lambda e: e.data["type"] == "ALARM_TRIGGERED" and e.data["source"] == "alta")
    assert event.name == "alarm"
    data = event.data["data"]
    assert data["alarm"] == f"alta:{alert['guid']}" and data["zone"] == "1" and data["device"] == "101"
    assert data["merged"] is False and data["name"] == "Warehouse Perimeter"
    [link] = data["shared_links"]
    assert link.startswith(f"{alta.url}/cloud?t=")
    [listed] = await alarms(admin_http, server)
    assert listed["id"] == f"alta:{alert['guid']}" and listed["links"]["shared"] == [link]
    assert listed["actions"] == ["verify", "end"] and listed["state"] == "active"
    async with aiohttp.ClientSession() as http, http.get(link) as response:  # the link works on Alta
        assert response.status == 200 and "Warehouse Perimeter" in await response.text()


@pytest.mark.parametrize(("result", "code"), [("none", 101), ("valid", 201), ("false", 202)])
async def test_verify_posts_the_code_and_the_alerts_fields_and_is_audited(
    gateway_with_alta, alta, admin_http, result, code
):
    server = gateway_with_alta
    alert = alta.raise_alarm(2, 201)
    alarm_id = f"alta:{alert['guid']}"
    await wait_for(
        lambda: (
            server.app[EVENTS].bus.seen(f"alta:{alert['guid']}:{alert['updated_at']}")
            or server.app[EVENTS].alta.stats["alarms"]
        ),
        what="the webhook's lookup",
    )
    token = await mint(admin_http, server, ["*"], ["alarms"], sub="guard-9")
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        async with http.post(server.make_url(f"/api/v1/alarms/{alarm_id}/verify"), json={"result": result}) as answer:
            assert answer.status == 200, await answer.text()
        [posted] = alta.verifications(alert["guid"])
        body = posted.get("body", posted)
        assert body["acknowledgment_code"] == code and body["guid"] == alert["guid"]
        assert body["merged"] is False and body["origin_name"] == alert["origin_name"]
        async with http.get(server.make_url(f"/api/v1/alarms/{alarm_id}/history")) as answer:
            [entry] = (await answer.json())["history"]
        assert entry["action"] == f"verify {result}" and entry["by"] == "guard-9" and entry["outcome"] == "ok"
        async with http.post(server.make_url(f"/api/v1/alarms/{alarm_id}/verify"), json={"result": "maybe"}) as bad:
            assert bad.status == 400
        async with http.post(server.make_url(f"/api/v1/alarms/{alarm_id}/verify"), json={}) as bad:
            assert bad.status == 400
        async with http.post(server.make_url(f"/api/v1/alarms/{alarm_id}/claim"), json={}) as bad:
            assert bad.status == 400  # an ACC action: Alta alarms take verify and end


async def test_end_ends_it_and_a_merged_detection_is_the_same_alarm(gateway_with_alta, alta, admin_http):
    server = gateway_with_alta
    first = alta.raise_alarm(1, 101)
    await wait_for(lambda: server.app[EVENTS].alta.stats["alarms"] == 1, what="the first detection")
    second = alta.raise_alarm(1, 102)  # inside the merge window: the same alert
    assert second["guid"] == first["guid"] and second["merged"] is True
    await wait_for(lambda: server.app[EVENTS].alta.stats["merged"] == 1, what="the merged detection")
    [alarm] = await alarms(admin_http, server)
    assert alarm["id"] == f"alta:{first['guid']}" and alarm["data"]["merged"] is True
    assert len(alarm["links"]["shared"]) == 2  # a bookmark per detection
    async with admin_http.post(server.make_url(f"/api/v1/alarms/{alarm['id']}/end"), json={}) as answer:
        assert answer.status == 200, await answer.text()
    assert alta.ended(first["guid"])
    assert await alarms(admin_http, server) == []
    async with admin_http.post(server.make_url(f"/api/v1/alarms/{alarm['id']}/end"), json={}) as answer:
        assert answer.status == 404  # no longer listed


async def test_an_expired_session_costs_one_relogin(gateway_with_alta, alta, admin_http):
    server = gateway_with_alta
    alta.raise_alarm(1, 101)
    await wait_for(lambda: server.app[EVENTS].alta.stats["alarms"] == 1, what="the alarm")
    assert alta.logins == 1
    alta.expire_sessions()
    results = await asyncio.gather(
        *(alarms(admin_http, server) for _ in range(1)),
        *(admin_http.get(server.make_url("/api/v1/alta/zones")) for _ in range(5)),
    )
    assert all(response.status == 200 for response in results[1:])
    assert alta.logins == 2  # one shared re-login for every call that met the 401
    async with admin_http.get(server.make_url("/metrics")) as response:
        metrics = await response.text()
    assert 'wepgw_alta_client_total{what="relogins"} 1.0' in metrics
    assert 'wepgw_alta_webhook_total{outcome="alarms"} 1.0' in metrics


async def test_a_wrong_password_is_one_line_and_no_retry_storm(emulator, alta, tmp_path, admin_http, caplog):
    caplog.set_level(logging.INFO, "gateway.alta")
    async with alta_gateway(emulator, alta, tmp_path, password="not-the-password") as server:
        for _ in range(5):
            async with admin_http.get(server.make_url("/api/v1/alarms")) as response:
                body = await response.json()
            assert response.status == 200 and body["unavailable"][0]["source"] == "alta"
            assert "refused the login" in body["unavailable"][0]["reason"]
        for _ in range(3):
            async with admin_http.get(server.make_url("/api/v1/alta/zones")) as response:
                assert response.status == 502
    assert alta.logins == 0 and alta.stats["requests"]["POST /api/v1/dologin"] == 1  # held: no login per call
    said = [
        record
        for record in caplog.records
        if record.name in ("gateway.alta", "gateway.events") and "refused the login" in record.getMessage()
    ]
    assert [record.name for record in said] == ["gateway.alta", "gateway.events"]  # the cause; the list's gap
    assert said[0].levelname == "ERROR" and "check [alta] username and password" in said[0].getMessage()
    assert "not-the-password" not in caplog.text


async def test_bad_webhooks_and_a_failing_alta_are_survived(gateway_with_alta, alta, admin_http, caplog):
    server = gateway_with_alta
    caplog.set_level(logging.INFO, "gateway.alta")
    stats = server.app[EVENTS].alta.stats
    async with aiohttp.ClientSession() as http:
        async with http.post(server.make_url("/alta/webhook/not-the-secret-0123"), json={"alarmZoneId": 1}) as r:
            assert r.status == 404
        assert stats["webhooks"] == 0  # nothing processed
        hook = server.make_url(f"/alta/webhook/{WEBHOOK_SECRET}")
        async with http.post(hook, data=b"{not json") as r:
            assert r.status == 400
        async with http.post(hook, json={"zone": 1}) as r:
            assert r.status == 400 and "alarmZoneId" in (await r.json())["error"]["message"]
        assert stats["bad_payloads"] == 2
        async with http.post(hook, data={"alarmZoneId": "1", "deviceId": "101"}) as r:  # form fields
            assert r.status == 200
        await wait_for(lambda: stats["no_alert"] == 1, timeout=15, what="no alert in zone 1 (none was raised)")
        async with http.post(hook, json={"alarmZoneId": 99}) as r:  # a zone Alta does not have
            assert r.status == 200
        await wait_for(lambda: stats["unknown_zone"] == 1, timeout=15, what="the unknown zone")
    assert "names zone '99', which Alta does not list" in caplog.text

    # Alta failing for a moment: the lookup tries again and finds the alarm.
    alta.fail_next(3, status=500)
    alert = alta.raise_alarm(2, 202)
    await wait_for(lambda: stats["alarms"] == 1, timeout=15, what="the alarm after three 500s")
    assert stats["found_late"] == 1 and "HTTP 500; trying again" in caplog.text
    alta.garbage_next(1, kind="html")
    alta.raise_alarm(2, 201)  # merged into the same alert
    await wait_for(lambda: stats["merged"] == 1, timeout=15, what="the merged alarm after a garbage answer")
    assert "the answer is not JSON; trying again" in caplog.text
    [listed] = await alarms(admin_http, server)
    assert listed["id"] == f"alta:{alert['guid']}" and len(listed["links"]["shared"]) == 2


async def test_zones_arm_and_disarm_for_the_admin_only(gateway_with_alta, alta, admin_http):
    server = gateway_with_alta
    async with admin_http.get(server.make_url("/api/v1/alta/zones")) as response:
        zones = (await response.json())["zones"]
    assert [zone["id"] for zone in zones] == ["1", "2"]
    async with admin_http.post(server.make_url("/api/v1/alta/zones/2/disarm")) as response:
        assert response.status == 200
    assert next(zone for zone in alta.zones() if str(zone["id"]) == "2")["armed"] is False
    async with admin_http.post(server.make_url("/api/v1/alta/zones/77/arm")) as response:
        assert response.status == 404
    async with aiohttp.ClientSession() as http, http.get(server.make_url("/api/v1/alta/zones")) as response:
        assert response.status == 401
