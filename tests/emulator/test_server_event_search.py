"""/server/ids and /events/search (guide, "Event Query API"), through real HTTP."""

import pytest

from gateway.emulator.cameras import SERVER_ID
from tests.emulator.conftest import api, assert_envelope, login

EVER = {"from": "2000-01-01T00:00:00.000Z", "to": "2100-01-01T00:00:00.000Z"}


async def search(http, emulator, session: str, **params) -> dict:
    async with http.get(api(emulator, "events/search"), params={"session": session, **params}) as resp:
        body = await resp.json()
        assert resp.status == 200, body
    return body["result"]


async def test_server_ids(emulator, http):
    session = await login(http, emulator)
    async with http.get(api(emulator, "server/ids"), params={"session": session}) as resp:
        assert (await resp.json())["result"] == {"servers": [{"id": SERVER_ID, "name": "WEP-EMULATOR"}]}


async def test_pages_of_limit_then_continue_return_every_event_once_in_order(emulator, http):
    session = await login(http, emulator)
    injected = [emulator.inject_event(i % 2 + 1, "DEVICE_MOTION_START") for i in range(23)]
    result = await search(http, emulator, session, queryType="TIME_RANGE", serverId=SERVER_ID,
                          eventTopics="DEVICE_MOTION_START", limit="5", **EVER)  # fmt: skip
    pages = [result]
    while "token" in pages[-1]:
        params = {"queryType": "CONTINUE", "token": pages[-1]["token"]}
        if len(pages) == 2:
            params["limit"] = "7"  # a CONTINUE may size its own page
        pages.append(await search(http, emulator, session, **params))
    assert [len(p["events"]) for p in pages] == [5, 5, 7, 5, 1]
    assert [e["thisId"] for p in pages for e in p["events"]] == [e["thisId"] for e in injected]


async def test_filters_by_topic_group_device_and_time(emulator, http):
    session = await login(http, emulator)
    cam1, cam2 = emulator.camera_ids
    first = emulator.inject_event(cam1, "DEVICE_MOTION_START")
    emulator.inject_event(cam2, "DEVICE_DIGITAL_INPUT_ON")
    emulator.trigger_alarm("Fence", cameras=[cam2])
    last = emulator.inject_event(cam1, "DEVICE_MOTION_STOP")
    base = {"queryType": "TIME_RANGE", "serverId": SERVER_ID, **EVER}

    async def types(**params) -> list[str]:
        return [e["type"] for e in (await search(http, emulator, session, **{**base, **params}))["events"]]

    assert await types(eventTopics="ALARM,DEVICE_MOTION_STOP") == ["ALARM_TRIGGERED", "DEVICE_MOTION_STOP"]
    assert await types(deviceIds=cam2, eventTopics="DEVICE") == ["DEVICE_RECORDING_STARTED", "DEVICE_DIGITAL_INPUT_ON"]
    assert await types(eventTopics="USER") == ["USER_LOGIN"]  # our own login
    assert await types(**{"from": first["timestamp"], "to": last["timestamp"], "eventTopics": "DEVICE_MOTION"}) == []
    window = await search(http, emulator, session, **{**base, "from": first["timestamp"], "to": last["timestamp"]})
    assert all(first["timestamp"] <= e["timestamp"] <= last["timestamp"] for e in window["events"])
    ours = [e["type"] for e in window["events"] if int(e["thisId"]) >= int(first["thisId"])]
    assert ours == ["DEVICE_MOTION_START", "DEVICE_DIGITAL_INPUT_ON", "ALARM_TRIGGERED", "DEVICE_MOTION_STOP"]
    # Repeated parameters work like comma-separated ones.
    params = [("session", session), *base.items(), ("eventTopics", "ALARM"), ("eventTopics", "DEVICE_MOTION_START")]
    async with http.get(api(emulator, "events/search"), params=params) as resp:
        found = (await resp.json())["result"]["events"]
    assert [e["type"] for e in found] == ["DEVICE_MOTION_START", "ALARM_TRIGGERED"]


async def test_active_is_what_has_started_and_not_ended(emulator, http):
    session = await login(http, emulator)
    cam1, cam2 = emulator.camera_ids
    start = emulator.inject_event(cam1, "DEVICE_MOTION_START")
    emulator.inject_event(cam2, "DEVICE_MOTION_START")
    emulator.inject_event(cam2, "DEVICE_MOTION_STOP")
    alarm = emulator.trigger_alarm("Door", cameras=[cam1])
    result = await search(http, emulator, session, queryType="ACTIVE", serverId=SERVER_ID)
    assert "token" not in result
    active = [(e["type"], e.get("cameraId")) for e in result["events"]]
    assert active == [("DEVICE_RECORDING_STARTED", cam1), ("DEVICE_RECORDING_STARTED", cam2),
                      ("DEVICE_MOTION_START", cam1), ("ALARM_TRIGGERED", cam1)]  # fmt: skip
    assert result["events"][2] == start
    emulator.site.act_on_alarm(alarm["id"], "ACKNOWLEDGE", "admin", None)
    emulator.inject_event(cam1, "DEVICE_MOTION_STOP")
    result = await search(http, emulator, session, queryType="ACTIVE")
    assert [e["type"] for e in result["events"]] == ["DEVICE_RECORDING_STARTED"] * 2


async def test_login_and_stop_links_are_in_the_log(emulator, http):
    session = await login(http, emulator)
    start = emulator.inject_event(1, "DEVICE_MOTION_START")
    stop = emulator.inject_event(1, "DEVICE_MOTION_STOP")
    events = (await search(http, emulator, session, queryType="TIME_RANGE", serverId=SERVER_ID, **EVER))["events"]
    by_id = {e["thisId"]: e for e in events}
    assert stop["linkedEventId"] == start["thisId"]
    assert by_id[start["thisId"]]["linkedEventId"] == stop["thisId"]  # the START now links its STOP
    (user_login,) = [e for e in events if e["type"] == "USER_LOGIN"]
    assert user_login["userName"] == "admin" and user_login["clientName"] == "tests"
    assert user_login["clientIp"] == {"addrType": "ADDR_IP_V4", "addrIpV4": "127.0.0.1"}


@pytest.mark.parametrize(
    "params, status, words",
    [
        ({}, 400, "queryType"),
        ({"queryType": "EVERYTHING"}, 400, "queryType"),
        ({"queryType": "TIME_RANGE", **EVER}, 400, "serverId"),
        ({"queryType": "TIME_RANGE", "serverId": "elsewhere", **EVER}, 404, "server"),
        ({"queryType": "TIME_RANGE", "serverId": SERVER_ID, "to": EVER["to"]}, 400, "from"),
        ({"queryType": "TIME_RANGE", "serverId": SERVER_ID, "from": EVER["from"], "to": "yesterday"}, 400, "to"),
        ({"queryType": "TIME_RANGE", "serverId": SERVER_ID, "from": EVER["to"], "to": EVER["from"]}, 400, "to"),
        ({"queryType": "TIME_RANGE", "serverId": SERVER_ID, "limit": "0", **EVER}, 400, "limit"),
        ({"queryType": "CONTINUE"}, 400, "token"),
        ({"queryType": "CONTINUE", "token": "bm90IG91cnM="}, 400, "token"),
    ],
)
async def test_bad_queries_get_the_envelope(emulator, http, params, status, words):
    session = await login(http, emulator)
    async with http.get(api(emulator, "events/search"), params={"session": session, **params}) as resp:
        body = await resp.json()
    assert_envelope(body, status, {400: "BAD_REQUEST", 404: "NOT_FOUND"}[status])
    assert words in body["message"]
