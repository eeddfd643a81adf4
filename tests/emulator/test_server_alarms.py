"""/alarms, /alarm, /alarm-history and the ALARM_* events, through real HTTP."""

import pytest

from gateway.emulator.settings import EmulatorSettings, SettingsError
from tests.emulator.conftest import add_webhook, api, assert_envelope, login


async def put_alarm(http, emulator, session: str, **body) -> tuple[int, dict]:
    async with http.put(api(emulator, "alarm"), json={"session": session, **body}) as resp:
        return resp.status, await resp.json()


async def history(http, emulator, session: str, **params) -> list[dict]:
    async with http.get(api(emulator, "alarm-history"), params={"session": session, **params}) as resp:
        body = await resp.json()
        assert resp.status == 200, body
    return body["result"]["history"]


async def test_acknowledge_with_a_note_is_seen_everywhere(emulator, http, make_receiver):
    receiver = await make_receiver()
    session = await login(http, emulator)
    await add_webhook(http, emulator, session, receiver.url, topics={"whitelist": ["ALARM"]})
    await receiver.wait_for(lambda r: r.posts)
    cam2 = emulator.camera_ids[1]
    alarm = emulator.trigger_alarm("Door forced", cameras=[2])
    assert alarm["state"] == "ACTIVE" and alarm["cameraIds"] == [cam2] and alarm["priority"] == 1
    async with http.get(api(emulator, "alarms"), params={"session": session}) as resp:
        assert (await resp.json())["result"]["alarms"] == [alarm]

    status, body = await put_alarm(http, emulator, session, id=alarm["id"], action="ACKNOWLEDGE", note="guard on site")
    assert status == 200 and body["result"]["alarm"]["state"] == "ACKNOWLEDGED"
    async with http.get(api(emulator, "alarm"), params={"session": session, "ids": alarm["id"]}) as resp:
        (shown,) = (await resp.json())["result"]["alarms"]
    assert shown["state"] == "ACKNOWLEDGED" and shown["note"] == "guard on site"
    assert shown == emulator.alarm(alarm["id"])
    (entry, trigger) = await history(http, emulator, session, id=alarm["id"])
    assert entry["action"] == "ACKNOWLEDGED" and entry["userName"] == "admin" and entry["note"] == "guard on site"
    assert trigger["action"] == "TRIGGERED" and entry["alarmId"] == alarm["id"]

    await receiver.wait_for(lambda r: len(r.events()) == 2)
    triggered, acknowledged = receiver.events()
    assert triggered["type"] == "ALARM_TRIGGERED" and triggered["alarmName"] == "Door forced"
    assert acknowledged["type"] == "ALARM_ACKNOWLEDGED"
    assert {k: acknowledged[k] for k in ("alarmId", "alarmName", "userName", "note", "cameraId", "linkedEventId")} == {
        "alarmId": alarm["id"], "alarmName": "Door forced", "userName": "admin", "note": "guard on site",
        "cameraId": cam2, "linkedEventId": triggered["thisId"]}  # fmt: skip


async def test_every_action_and_the_history_order(emulator, http):
    session = await login(http, emulator)
    alarm_id = emulator.trigger_alarm("Fence")["id"]
    _, body = await put_alarm(http, emulator, session, id=alarm_id, action="CLAIM", note="mine")
    assert body["result"]["alarm"]["assignedUser"] == "admin" and body["result"]["alarm"]["state"] == "CLAIMED"
    _, body = await put_alarm(http, emulator, session, id=alarm_id, action="UNCLAIM")
    assert "assignedUser" not in body["result"]["alarm"] and body["result"]["alarm"]["state"] == "ACTIVE"
    first_trigger = emulator.alarm(alarm_id)["triggerTime"]
    again = emulator.trigger_alarm("Fence")  # by name: the same alarm, triggered again
    assert again["id"] == alarm_id and again["triggerTime"] >= first_trigger
    _, body = await put_alarm(http, emulator, session, id=alarm_id, action="DISMISS", permission="GRANT")
    assert body["result"]["alarm"]["state"] == "PURGED"
    _, body = await put_alarm(http, emulator, session, id=alarm_id, action="TRIGGER")
    assert body["result"]["alarm"]["state"] == "ACTIVE"

    newest_first = [h["action"] for h in await history(http, emulator, session, id=alarm_id)]
    assert newest_first == ["TRIGGERED", "PURGED", "TRIGGERED", "UNCLAIMED", "CLAIMED", "TRIGGERED"]
    # Guide: from earlier than to lists oldest first.
    oldest_first = await history(http, emulator, session, id=alarm_id, **{"from": "2000-01-01T00:00:00Z",
                                                                          "to": "2100-01-01T00:00:00Z"})  # fmt: skip
    assert [h["action"] for h in oldest_first] == newest_first[::-1]
    assert [h["action"] for h in await history(http, emulator, session, id=alarm_id, action="TRIGGERED",
                                               limit="2")] == ["TRIGGERED"] * 2  # fmt: skip
    kinds = [e["type"] for e in emulator.events if e.get("alarmId") == alarm_id]
    assert kinds == ["ALARM_TRIGGERED", "ALARM_CLAIMED", "ALARM_UNCLAIMED", "ALARM_TRIGGERED", "ALARM_PURGED",
                     "ALARM_TRIGGERED"]  # fmt: skip


async def test_alarm_errors_are_the_envelope(emulator, http):
    session = await login(http, emulator)
    alarm_id = emulator.trigger_alarm("Gate")["id"]
    cases = [
        ({"id": alarm_id, "action": "SNOOZE"}, 400, "action"),
        ({"id": alarm_id}, 400, "action"),
        ({"action": "CLAIM"}, 400, "id"),
        ({"id": "no-such-alarm", "action": "CLAIM"}, 404, "alarm"),
        ({"id": alarm_id, "action": "CLAIM", "note": 5}, 400, "note"),
    ]
    for body, status, words in cases:
        got, answer = await put_alarm(http, emulator, session, **body)
        assert got == status, body
        assert_envelope(answer, status, {400: "BAD_REQUEST", 404: "NOT_FOUND"}[status])
        assert words in answer["message"]
    for path, params, status in [
        ("alarm", {}, 400),
        ("alarm", {"id": "no-such-alarm"}, 404),  # the deprecated `id`
        ("alarm-history", {}, 400),
        ("alarm-history", {"id": "no-such-alarm"}, 404),
        ("alarm-history", {"id": alarm_id, "action": "CLAIM"}, 400),  # history uses CLAIMED
        ("alarm-history", {"id": alarm_id, "from": "soon"}, 400),
    ]:
        async with http.get(api(emulator, path), params={"session": session, **params}) as resp:
            assert resp.status == status, (path, params)
            assert_envelope(await resp.json(), status, {400: "BAD_REQUEST", 404: "NOT_FOUND"}[status])
    async with http.get(api(emulator, "alarms")) as resp:
        assert resp.status == 401


def test_settings_reject_a_negative_motion_period():
    with pytest.raises(SettingsError, match="motion_every"):
        EmulatorSettings(motion_every=-1).validate()
