"""The zones' webhook alarm action: the payload the user typed ($alarmZoneId, $deviceId under
their keys, JSON or form fields), posted off the request; with alert_lag_s the alert shows
in the API only after the webhook."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import parse_qs

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.emulator.settings import SettingsError
from tests.emulator.alta.api_client import items


async def test_json_payload_under_the_default_keys(make_alta, make_receiver):
    receiver = await make_receiver()
    alta = await make_alta(webhook_url=receiver.url)
    alert = alta.raise_alarm(2, 202)
    await receiver.wait_for(lambda r: len(r.posts) == 1)
    (post,) = receiver.posts
    assert post.headers["Content-Type"] == "application/json"
    assert json.loads(post.body) == {"alarmZoneId": 2, "deviceId": 202}
    await alta.webhooks_done()
    (entry,) = alta.webhook_log
    assert entry["status"] == 200 and entry["error"] is None and entry["alert_guid"] == alert["guid"]
    assert entry["payload"] == {"alarmZoneId": 2, "deviceId": 202} and entry["format"] == "json"
    assert alta.stats["webhooks_sent"] == 1


async def test_form_fields_under_the_keys_the_user_typed(alta, make_receiver):
    receiver = await make_receiver()
    alta.set_webhook(receiver.url, format="form", zone_key="zone", device_key="camera")
    alta.raise_alarm(1, 102)
    await receiver.wait_for(lambda r: len(r.posts) == 1)
    (post,) = receiver.posts
    assert post.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(post.body.decode()) == {"zone": ["1"], "camera": ["102"]}


async def test_every_detection_posts_merged_ones_too(make_alta, make_receiver):
    receiver = await make_receiver()
    alta = await make_alta(webhook_url=receiver.url, zone_key="z", device_key="d")
    alta.raise_alarm(1, 101)
    alta.raise_alarm(1, 102)  # merged into the same alert
    alta.raise_alarm(2, 201)
    await receiver.wait_for(lambda r: len(r.posts) == 3)
    assert sorted(json.loads(p.body)["d"] for p in receiver.posts) == [101, 102, 201]
    await alta.webhooks_done()
    assert len({e["alert_guid"] for e in alta.webhook_log}) == 2


async def test_string_ids_in_json_when_ids_are_strings(make_alta, make_receiver):
    receiver = await make_receiver()
    alta = await make_alta(webhook_url=receiver.url, ids="str")
    alta.raise_alarm(1)
    await receiver.wait_for(lambda r: len(r.posts) == 1)
    assert json.loads(receiver.posts[0].body) == {"alarmZoneId": "1", "deviceId": "101"}


async def test_alert_appears_after_the_webhook_with_a_lag(make_alta, make_client, make_receiver):
    receiver = await make_receiver()
    alta = await make_alta(webhook_url=receiver.url, alert_lag_s=1.0)
    api = await make_client(alta)
    raised = time.monotonic()
    alert = alta.raise_alarm(1)
    await receiver.wait_for(lambda r: len(r.posts) == 1)
    hooked = receiver.posts[0].arrived
    # What a client sees when it looks at once: nothing yet.
    _, body = await api.get("/api/v1/ongoingAlerts")
    assert items(body, "alerts") == []
    assert (await api.get(f"/api/v1/alerts/{alert['guid']}"))[0] == 404
    assert (await api.get(f"/api/v1/alerts/{alert['guid']}/bookmarks"))[0] == 404
    token = alta.bookmarks(alert["guid"])[0]["guest_token"]
    assert (await api.get("/cloud", params={"t": token}))[0] == 404
    # A brief retry finds it.
    while True:
        _, body = await api.get("/api/v1/ongoingAlerts")
        if items(body, "alerts"):
            break
        assert time.monotonic() - hooked < 5, "the alert never appeared"
        await asyncio.sleep(0.05)
    assert time.monotonic() - raised >= 0.95
    assert items(body, "alerts")[0]["guid"] == alert["guid"]
    assert (await api.get("/cloud", params={"t": token}))[0] == 200


async def test_a_failing_receiver_is_logged(make_alta, make_receiver):
    receiver = await make_receiver()
    receiver.status = 500
    alta = await make_alta(webhook_url=receiver.url)
    alta.raise_alarm(1)
    await alta.webhooks_done()
    (entry,) = alta.webhook_log
    assert entry["status"] == 500 and alta.stats["webhook_failures"] == 1
    assert len(alta.alerts()) == 1  # the alert stands without its webhook


async def test_an_unreachable_receiver_is_logged(alta, make_receiver):
    receiver = await make_receiver()
    url = receiver.url
    await receiver.stop()
    alta.set_webhook(url)
    alta.raise_alarm(1)
    await alta.webhooks_done()
    (entry,) = alta.webhook_log
    assert entry["status"] is None and entry["error"].startswith("ClientConnectorError")


async def test_a_slow_receiver_times_out(make_alta):
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", slow)
    async with TestServer(app, host="127.0.0.1") as server:
        alta = await make_alta(webhook_url=str(server.make_url("/hook")), webhook_timeout_s=0.2)
        started = time.monotonic()
        alta.raise_alarm(1)
        await alta.webhooks_done()
        release.set()
    assert time.monotonic() - started < 2
    (entry,) = alta.webhook_log
    assert entry["status"] is None and entry["error"] == "no answer in 0.2 s"


async def test_no_webhook_no_post(alta):
    alta.raise_alarm(1)
    await alta.webhooks_done()
    assert alta.webhook_log == []


async def test_set_webhook_checks_what_it_is_given(alta):
    with pytest.raises(SettingsError, match="webhook_url must be empty or an http"):
        alta.set_webhook("ftp://example.com/hook")
    with pytest.raises(SettingsError, match="webhook_format must be one of"):
        alta.set_webhook("http://127.0.0.1:1/hook", format="xml")
    with pytest.raises(SettingsError, match="zone_key and device_key must differ"):
        alta.set_webhook("http://127.0.0.1:1/hook", zone_key="id", device_key="id")
    assert alta.webhook_action() == {"url": "", "format": "json", "zone_key": "alarmZoneId",
                                     "device_key": "deviceId"}  # fmt: skip


async def test_webhook_over_the_control_route(alta, api, make_receiver):
    receiver = await make_receiver()
    status, body = await api.post("/_emulator/webhook", json={"url": receiver.url, "format": "form"})
    assert status == 200 and body["webhook"] == {"url": receiver.url, "format": "form", "zone_key": "alarmZoneId",
                                                 "device_key": "deviceId"}  # fmt: skip
    status, body = await api.post("/_emulator/alarms", json={"zone": 1, "device": 102})
    assert status == 200 and body["alert"]["origin_id"] == 102
    await receiver.wait_for(lambda r: len(r.posts) == 1)
    assert parse_qs(receiver.posts[0].body.decode()) == {"alarmZoneId": ["1"], "deviceId": ["102"]}
    await alta.webhooks_done()
    status, body = await api.get("/_emulator/webhook")
    assert status == 200 and [e["status"] for e in body["log"]] == [200]
    status, body = await api.post("/_emulator/webhook", json={"format": "yaml"})
    assert status == 400 and "webhook_format" in body
