"""/webhooks and delivery, through real HTTP to real receivers on 127.0.0.1."""

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import re
import time

import pytest

from gateway.emulator.cameras import SERVER_ID, SITE_ID
from tests.emulator.conftest import add_webhook, api, assert_envelope, login, new_token, until

ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def hmac_of(token: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(base64.b64decode(token), body, hashlib.sha256).digest()).decode()


def types(receiver) -> list[str]:
    return [p.type for p in receiver.posts]


async def test_create_get_update_delete(emulator, http, make_receiver):
    receiver = await make_receiver()
    session = await login(http, emulator)
    token = new_token()
    created = await add_webhook(http, emulator, session, receiver.url, token=token,
                                topics={"whitelist": ["DEVICE_MOTION_START", "ALARM", "BOGUS"]},
                                heartbeat={"enable": True})  # fmt: skip
    webhook = created["webhook"]
    assert created["accepted"] == ["DEVICE_MOTION_START", "ALARM"] and created["rejected"] == ["BOGUS"]
    assert webhook["url"] == receiver.url
    assert webhook["heartbeat"] == {"enable": True, "frequencyMs": 3_600_000}  # guide: defaults to 1 hour
    # Guide, GET /webhooks: topics are listed, not groups.
    assert webhook["eventTopics"] == {"whitelist": ["DEVICE_MOTION_START", "ALARM_TRIGGERED", "ALARM_CLAIMED",
                                                    "ALARM_UNCLAIMED", "ALARM_ACKNOWLEDGED", "ALARM_PURGED"]}  # fmt: skip
    second = (await add_webhook(http, emulator, session, receiver.url))["webhook"]
    async with http.get(api(emulator, "webhooks"), params={"session": session}) as resp:
        text = await resp.text()
    assert [w["id"] for w in json.loads(text)["result"]["webhooks"]] == [webhook["id"], second["id"]]
    assert token not in text and "authenticationToken" not in text  # never shown back
    async with http.get(api(emulator, "webhooks"), params=[("session", session), ("ids", second["id"])]) as resp:
        assert (await resp.json())["result"]["webhooks"] == [second]

    change = {"id": webhook["id"], "heartbeat": {"enable": False}, "eventTopics": {"blacklist": ["USER"]}}
    async with http.put(api(emulator, "webhooks"), json={"session": session, "webhook": change}) as resp:
        updated = (await resp.json())["result"]["webhook"]
    assert updated["heartbeat"] == {"enable": False}  # guide: disabling clears frequencyMs
    assert updated["url"] == receiver.url and "USER_LOGIN" in updated["eventTopics"]["blacklist"]
    unknown = {"id": "no-such-webhook", "heartbeat": {"enable": False}}
    async with http.put(api(emulator, "webhooks"), json={"session": session, "webhook": unknown}) as resp:
        assert_envelope(await resp.json(), 404, "NOT_FOUND")
    async with http.get(api(emulator, "webhooks"), params={"session": session, "ids": "nope"}) as resp:
        assert_envelope(await resp.json(), 404, "NOT_FOUND")

    for _ in range(2):  # guide: deleting a deleted webhook is a success
        async with http.delete(api(emulator, "webhooks"), json={"session": session, "ids": [webhook["id"]]}) as resp:
            assert resp.status == 200
    assert [w["id"] for w in emulator.webhooks] == [second["id"]]


@pytest.mark.parametrize(
    "spec, field",
    [
        ({"url": None}, "webhook.url"),
        ({"url": "ftp://127.0.0.1/hook"}, "webhook.url"),
        ({"authenticationToken": None}, "webhook.authenticationToken"),
        ({"authenticationToken": base64.b64encode(b"fifteen bytes!!").decode()}, "webhook.authenticationToken"),
        ({"authenticationToken": "not base64 at all!!!!!!!!!!"}, "webhook.authenticationToken"),
        ({"eventTopics": None}, "webhook.eventTopics"),
        ({"eventTopics": {"whitelist": ["ALL"], "blacklist": []}}, "webhook.eventTopics"),
        ({"eventTopics": {"whitelist": "ALL"}}, "webhook.eventTopics.whitelist"),
        ({"heartbeat": {"enable": "yes"}}, "webhook.heartbeat.enable"),
        ({"heartbeat": {"enable": True, "frequencyMs": 0}}, "webhook.heartbeat.frequencyMs"),
    ],
)
async def test_invalid_webhooks_get_a_400_naming_the_field(emulator, http, spec, field):
    session = await login(http, emulator)
    webhook = {"url": "http://127.0.0.1:9/hook", "authenticationToken": new_token(),
               "eventTopics": {"whitelist": ["ALL"]}, **spec}  # fmt: skip
    webhook = {k: v for k, v in webhook.items() if v is not None}
    async with http.post(api(emulator, "webhooks"), json={"session": session, "webhook": webhook}) as resp:
        body = await resp.json()
    assert_envelope(body, 400, "BAD_REQUEST")
    assert field in body["message"]
    assert emulator.webhooks == []


async def test_webhook_routes_need_a_session_and_at_most_16_ids(emulator, http):
    async with http.get(api(emulator, "webhooks")) as resp:
        assert_envelope(await resp.json(), 401, "UNAUTHORIZED")
    session = await login(http, emulator)
    ids = [f"id{i}" for i in range(17)]
    async with http.delete(api(emulator, "webhooks"), json={"session": session, "ids": ids}) as resp:
        assert_envelope(await resp.json(), 400, "BAD_REQUEST")
    async with http.put(api(emulator, "webhooks"), json={"session": session, "webhook": {}}) as resp:
        assert "webhook.id" in (await resp.json())["message"]


async def test_hello_first_then_a_signed_notification_over_http(emulator, http, make_receiver):
    receiver = await make_receiver()
    session = await login(http, emulator)
    token = new_token()
    await add_webhook(http, emulator, session, receiver.url, token=token)
    await receiver.wait_for(lambda r: r.posts)
    event = emulator.inject_event(1, "DEVICE_MOTION_START", note="from the test")
    await receiver.wait_for(lambda r: r.events())
    hello, notification = receiver.posts
    assert hello.message == {"siteId": SITE_ID, "type": "HELLO", "time": hello.message["time"]}
    for post in (hello, notification):
        assert post.headers["Content-Type"] == "plain/text"  # the guide's literal header
        assert post.headers["Authorization"] == hmac_of(token, post.body)  # an independent HMAC
        assert token not in post.body.decode()  # http: the token never travels
        assert ISO_MS.fullmatch(post.message["time"])
    assert notification.message["notification"] == [event]
    assert event["cameraId"] == emulator.camera_ids[0] and event["note"] == "from the test"
    stats = emulator.webhook_stats["total"]
    assert stats["posts"]["HELLO"] == 1 and stats["posts"]["NOTIFICATION"] == 1 and stats["events"] == 1


async def test_https_webhooks_carry_the_token_in_a_json_body(make_emulator, http, make_receiver):
    emulator = await make_emulator(webhook_verify_tls=False)
    receiver = await make_receiver(tls=True)
    session = await login(http, emulator)
    token = new_token()
    await add_webhook(http, emulator, session, receiver.url, token=token)
    emulator.inject_event(2, "DEVICE_DIGITAL_INPUT_ON")
    await receiver.wait_for(lambda r: r.events())
    assert types(receiver) == ["HELLO", "NOTIFICATION"]
    for post in receiver.posts:
        assert post.headers["Content-Type"] == "application/json"
        assert post.message["authenticationToken"] == token
        assert "Authorization" not in post.headers


async def test_https_receivers_are_verified_by_default(emulator, http, make_receiver):
    receiver = await make_receiver(tls=True)
    session = await login(http, emulator)
    webhook = (await add_webhook(http, emulator, session, receiver.url))["webhook"]
    await until(lambda: emulator.webhook_stats["webhooks"][webhook["id"]]["failures"] >= 1)
    assert receiver.posts == []


async def test_heartbeat_follows_the_last_successful_post(emulator, http, make_receiver):
    receiver = await make_receiver()
    session = await login(http, emulator)
    await add_webhook(http, emulator, session, receiver.url, heartbeat={"enable": True, "frequencyMs": 300})
    await receiver.wait_for(lambda r: len(r.of_type("HEARTBEAT")) >= 3, timeout=3)
    times = [p.arrived for p in receiver.posts[:4]]
    assert types(receiver)[:4] == ["HELLO", "HEARTBEAT", "HEARTBEAT", "HEARTBEAT"]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(0.25 < gap < 0.6 for gap in gaps), gaps


async def test_whitelist_and_blacklist_choose_the_events(emulator, http, make_receiver):
    white, black = await make_receiver(), await make_receiver()
    session = await login(http, emulator)
    await add_webhook(http, emulator, session, white.url, topics={"whitelist": ["DEVICE_MOTION_START", "ALARM"]})
    await add_webhook(http, emulator, session, black.url, topics={"blacklist": ["DEVICE"]})
    await white.wait_for(lambda r: r.posts)
    await black.wait_for(lambda r: r.posts)
    for kind in ("DEVICE_MOTION_START", "DEVICE_MOTION_STOP", "DEVICE_DIGITAL_INPUT_ON"):
        emulator.inject_event(1, kind)
    emulator.trigger_alarm("Door forced", cameras=[1])
    await white.wait_for(lambda r: len(r.events()) == 2)
    await black.wait_for(lambda r: len(r.events()) == 1)
    assert [e["type"] for e in white.events()] == ["DEVICE_MOTION_START", "ALARM_TRIGGERED"]
    assert [e["type"] for e in black.events()] == ["ALARM_TRIGGERED"]


async def test_pause_loses_events_resume_says_hello_and_search_finds_the_gap(emulator, http, make_receiver):
    receiver = await make_receiver()
    session = await login(http, emulator)
    await add_webhook(http, emulator, session, receiver.url)
    await receiver.wait_for(lambda r: r.posts)
    emulator.pause_webhooks()
    missed = [emulator.inject_event(i % 2 + 1, "DEVICE_MOTION_START") for i in range(3)]
    await asyncio.sleep(0.3)
    assert types(receiver) == ["HELLO"]
    emulator.resume_webhooks()
    await receiver.wait_for(lambda r: len(r.posts) == 2)
    after = emulator.inject_event(1, "DEVICE_MOTION_STOP")
    await receiver.wait_for(lambda r: r.events())
    assert types(receiver) == ["HELLO", "HELLO", "NOTIFICATION"]
    assert receiver.events() == [after]  # new events only
    assert emulator.webhook_stats["total"]["dropped"] == 3

    params = {"session": session, "queryType": "TIME_RANGE", "serverId": SERVER_ID,
              "from": missed[0]["timestamp"], "to": missed[-1]["timestamp"], "eventTopics": "DEVICE"}  # fmt: skip
    async with http.get(api(emulator, "events/search"), params=params) as resp:
        found = (await resp.json())["result"]["events"]
    assert [e["thisId"] for e in found] == [e["thisId"] for e in missed]


async def test_a_down_receiver_is_a_counted_failure_and_hello_is_retried(emulator, http, make_receiver):
    receiver = await make_receiver()
    session = await login(http, emulator)
    webhook_id = (await add_webhook(http, emulator, session, receiver.url))["webhook"]["id"]
    await receiver.wait_for(lambda r: r.posts)

    def counters() -> dict:
        return emulator.webhook_stats["webhooks"][webhook_id]

    await receiver.stop()
    lost = emulator.inject_event(1, "DEVICE_MOTION_START")
    await until(lambda: counters()["failures"] == 1)
    failed_at = time.monotonic()
    assert counters()["connected"] is False
    emulator.inject_event(1, "DEVICE_MOTION_STOP")  # raised while disconnected: lost too
    await until(lambda: counters()["failures"] == 2, timeout=3)  # the first HELLO retry, ~1 s later
    assert 0.8 < time.monotonic() - failed_at < 1.5
    await receiver.start()  # back on the same port; the next HELLO comes ~2 s after the last
    await receiver.wait_for(lambda r: len(r.posts) == 2, timeout=3)
    assert types(receiver) == ["HELLO", "HELLO"]
    assert counters()["connected"] and counters()["dropped"] == 2 and counters()["failures"] == 2
    assert lost["thisId"] not in [e["thisId"] for e in receiver.events()]
    # A non-2xx answer is a failure too.
    receiver.status = 503
    emulator.inject_event(1, "DEVICE_MOTION_START")
    await receiver.wait_for(lambda r: r.refused)
    await until(lambda: counters()["failures"] == 3 and not counters()["connected"])
    assert emulator.webhook_stats["total"]["failures"] == 3


async def test_a_new_token_signs_the_next_post_and_delete_stops_delivery(emulator, http, make_receiver):
    receiver = await make_receiver()
    session = await login(http, emulator)
    webhook = (await add_webhook(http, emulator, session, receiver.url))["webhook"]
    await receiver.wait_for(lambda r: r.posts)
    token = new_token()
    change = {"id": webhook["id"], "authenticationToken": token}
    async with http.put(api(emulator, "webhooks"), json={"session": session, "webhook": change}) as resp:
        assert resp.status == 200
    emulator.inject_event(1, "DEVICE_ANALYTICS_START")
    await receiver.wait_for(lambda r: r.events())
    assert receiver.posts[-1].headers["Authorization"] == hmac_of(token, receiver.posts[-1].body)
    async with http.delete(api(emulator, "webhooks"), json={"session": session, "ids": [webhook["id"]]}) as resp:
        assert resp.status == 200
    emulator.inject_event(1, "DEVICE_ANALYTICS_STOP")
    await asyncio.sleep(0.2)
    assert len(receiver.posts) == 2
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("webhook-")]


async def test_control_routes_inject_trigger_pause_and_report(emulator, http, make_receiver):
    receiver = await make_receiver()
    session = await login(http, emulator)
    await add_webhook(http, emulator, session, receiver.url, topics={"whitelist": ["DEVICE", "ALARM"]})
    await receiver.wait_for(lambda r: r.posts)
    control = emulator.url + "/_emulator/"
    async with http.post(control + "events", json={"camera": 2, "type": "DEVICE_MOTION_START", "zone": 3}) as resp:
        event = await resp.json()
    assert event["cameraId"] == emulator.camera_ids[1] and event["zone"] == 3
    async with http.post(control + "alarms", json={"name": "Loitering", "cameras": [emulator.camera_ids[0]]}) as resp:
        alarm = await resp.json()
    assert alarm["state"] == "ACTIVE" and alarm["cameraIds"] == [emulator.camera_ids[0]]
    await receiver.wait_for(lambda r: len(r.events()) == 2)
    for body in ({"camera": 9, "type": "DEVICE_MOTION_START"}, {"camera": 1, "type": "lower case"}, {"camera": 1}):
        async with http.post(control + "events", json=body) as resp:
            assert resp.status == 400
    async with http.post(control + "webhooks/pause") as resp:
        assert (await resp.json()) == {"paused": True}
    async with http.post(control + "webhooks/resume") as resp:
        assert (await resp.json()) == {"paused": False}
    await receiver.wait_for(lambda r: len(r.of_type("HELLO")) == 2)
    async with http.get(control + "webhooks") as resp:
        listed = await resp.json()
    (view,) = listed["webhooks"]
    assert view["counters"]["posts"]["HELLO"] == 2 and view["counters"]["events"] == 2 and view["counters"]["connected"]
    assert listed["paused"] is False and listed["total"]["posts"]["NOTIFICATION"] >= 1
    async with http.get(control + "stats") as resp:
        stats = await resp.json()
    assert stats["webhooks"]["registered"] == 1 and stats["webhooks"]["events"] == 2


async def test_stop_ends_every_delivery_and_the_ticker(make_emulator, http, make_receiver):
    emulator = await make_emulator(motion_every=0.4)
    receiver = await make_receiver()
    session = await login(http, emulator)
    await add_webhook(http, emulator, session, receiver.url, topics={"whitelist": ["DEVICE_MOTION_START",
                                                                                   "DEVICE_MOTION_STOP"]})  # fmt: skip
    await receiver.wait_for(lambda r: len(r.events()) >= 2, timeout=3)
    start, stop = receiver.events()[:2]
    assert (start["type"], stop["type"]) == ("DEVICE_MOTION_START", "DEVICE_MOTION_STOP")
    assert stop["linkedEventId"] == start["thisId"] and start["cameraId"] == emulator.camera_ids[0]
    await emulator.stop()
    names = [t.get_name() for t in asyncio.all_tasks()]
    assert not [n for n in names if n.startswith("webhook-") or n == "emulator-motion"]
