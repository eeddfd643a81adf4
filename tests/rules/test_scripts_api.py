"""The VMS scripts API end to end: the seed's own curl example against a gateway in front of
the WEP emulator makes a script that is a rule, fires on an injected motion (a JPEG is
archived, the history records it, the notified user's event stream highlights it), and
survives a restart; its broken example and bad credentials get the seed's 422 and 401."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from typing import Any

import aiohttp
import pytest

from gateway.auth.tokens import TokenAuthority
from tests.events.conftest import ADMIN_KEY, TOKEN_SECRET, mint, running, wait_for
from tests.events.sse_client import SseReader

API = "/api/admin/v1"
# The seed's curl headers.
SEED_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
SEED_KEYS = ["id", "event", "reaction", "users", "schedule", "created_at", "updated_at"]
SEED_EVENT_KEYS = ["id", "name", "description", "color", "analytic_type"]
SEED_USER_KEYS = [
    "id",
    "name",
    "login",
    "created_at",
    "updated_at",
    "expired_at",
    "is_licence_limit_reached",
    "ptz_priority",
    "access_token_id",
]
SEED_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
WEEK = [{"day": day, "ranges": [{"to": "23:59:59", "from": "00:00:00"}]} for day in range(7)]
# The seed's curl example exactly as printed: its schedule an object with an empty key.
SEED_BROKEN = {"event_id": 0, "reaction_id": 0, "users": [], "schedule": {"": "date"}, "schedule.": "void"}


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession, server, method: str, path: str, body: Any = None, token: str | None = ADMIN_KEY
) -> tuple[int, Any, Any]:
    headers = dict(SEED_HEADERS)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body)
    async with http.request(method, server.make_url(path), data=data, headers=headers) as response:
        return response.status, await response.json(), response.headers


async def ok(
    http, server, method: str, path: str, body: Any = None, token: str | None = ADMIN_KEY, status: int = 200
) -> Any:
    got, answer, _ = await call(http, server, method, path, body, token)
    assert got == status, answer
    return answer


async def motion_start_id(http, server, token: str = ADMIN_KEY) -> int:
    events = await ok(http, server, "GET", f"{API}/events", token=token)
    [event] = [event for event in events if event["type"] == "DEVICE_MOTION_START"]
    return event["id"]


async def snapshot_reaction(http, server, token: str = ADMIN_KEY) -> dict:
    return await ok(
        http, server, "POST", f"{API}/reactions", {"name": "archive", "actions": [{"snapshot": {}}]}, token, status=201
    )


def check_seed_shape(script: dict) -> None:
    assert list(script) == SEED_KEYS
    assert list(script["event"]) == SEED_EVENT_KEYS
    for user in script["users"]:
        assert list(user) == SEED_USER_KEYS
        assert SEED_TIME.fullmatch(user["created_at"]) and SEED_TIME.fullmatch(user["updated_at"])
        assert (
            user["expired_at"],
            user["is_licence_limit_reached"],
            user["ptz_priority"],
            user["access_token_id"],
        ) == (None, False, 10, None)
    assert SEED_TIME.fullmatch(script["created_at"]) and SEED_TIME.fullmatch(script["updated_at"])


async def test_the_seeds_curl_example_makes_a_script_that_fires(rules_gateway, emulator, http, tmp_path):
    server, camera = rules_gateway, emulator.camera_ids[0]
    token = await mint(http, server, ["*"], ["view", "admin"], sub="guard-1")
    # The lists, with the token's admin action.
    users = await ok(http, server, "GET", f"{API}/users", token=token)
    [guard] = [user for user in users if user["login"] == "guard-1"]
    assert list(guard) == SEED_USER_KEYS and guard["name"] == "guard-1"
    events = await ok(http, server, "GET", f"{API}/events", token=token)
    assert all(list(event) == [*SEED_EVENT_KEYS, "type"] for event in events)
    motion = await motion_start_id(http, server, token)
    reaction = await snapshot_reaction(http, server, token)
    assert list(reaction) == ["id", "name", "actions", "created_at", "updated_at"]
    assert reaction["actions"] == [{"snapshot": {}}] and SEED_TIME.fullmatch(reaction["created_at"])
    assert [entry["id"] for entry in await ok(http, server, "GET", f"{API}/reactions")] == [reaction["id"]]

    async with http.get(
        server.make_url("/api/v1/events/stream"), headers={"Authorization": f"Bearer {token}"}
    ) as stream:
        assert stream.status == 200
        reader = SseReader(stream)
        # The seed's curl example, with a real event, reaction and user, the schedule a list of days.
        script = await ok(
            http,
            server,
            "POST",
            f"{API}/scripts",
            {"event_id": motion, "reaction_id": reaction["id"], "users": [guard["id"]], "schedule": WEEK},
            token,
        )
        check_seed_shape(script)
        [event] = [event for event in events if event["id"] == motion]
        assert script["event"] == {key: value for key, value in event.items() if key != "type"}
        assert script["reaction"] == reaction
        assert script["users"] == [guard]
        assert script["schedule"] == [
            {"day": day, "ranges": [{"from": "00:00:00", "to": "23:59:59"}]} for day in range(7)
        ]
        # A script is a rule.
        [rule] = [
            rule for rule in (await ok(http, server, "GET", "/api/v1/rules"))["rules"] if rule["id"] == script["id"]
        ]
        assert rule["when"]["types"] == ["DEVICE_MOTION_START"] and rule["when"]["cameras"] == []
        assert rule["notify"] == ["guard-1"] and rule["actions"] == [{"snapshot": {}}]

        injected = emulator.inject_event(camera, "DEVICE_MOTION_START")
        notified = await reader.until(lambda event: event.name == "notify", timeout=15)
    assert notified.data["type"] == "RULE_FIRED" and notified.data["notify"] is True
    assert notified.data["data"]["rule"]["id"] == script["id"]
    assert notified.data["data"]["event"]["id"] == f"wep:{injected['thisId']}"

    firings = await ok(http, server, "GET", f"/api/v1/rules/{script['id']}/history")
    [firing] = firings["firings"]
    assert [(action["action"], action["outcome"]) for action in firing["actions"]] == [("snapshot", "ok")], firing
    [jpeg] = list((tmp_path / "archive").rglob("*.jpg"))
    assert jpeg.read_bytes()[:2] == b"\xff\xd8"


async def test_the_seeds_broken_example_and_bad_bodies_are_422s_naming_the_field(rules_gateway, http):
    server = rules_gateway
    status, answer, _ = await call(http, server, "POST", f"{API}/scripts", SEED_BROKEN)
    assert status == 422
    assert answer["error"]["code"] == "invalid_script"
    assert answer["error"]["message"].startswith("schedule: expected a list of days")
    assert "schedule.: unknown field" in answer["error"]["message"]

    motion, reaction = await motion_start_id(http, server), (await snapshot_reaction(http, server))["id"]
    good = {"event_id": motion, "reaction_id": reaction, "users": [], "schedule": WEEK}
    for change, named in (
        ({"event_id": 9999}, "event_id: no event 9999"),
        ({"reaction_id": 9999}, "reaction_id: no reaction 9999"),
        ({"users": [9999]}, "users: no user 9999"),
        ({"event_id": "1"}, "event_id: expected the integer id"),
        ({"users": ["guard-1"]}, "users[0]: expected the integer id"),
        ({"title": "porch"}, "title: unknown field"),
    ):
        status, answer, _ = await call(http, server, "POST", f"{API}/scripts", {**good, **change})
        assert status == 422 and answer["error"]["message"].startswith(named), (change, answer)
    status, answer, _ = await call(
        http, server, "POST", f"{API}/reactions", {"name": "x", "actions": [{"record": {"seconds": 0}}]}
    )
    assert status == 422 and answer["error"]["message"].startswith("actions[0].record.seconds"), answer
    status, answer, _ = await call(
        http, server, "POST", f"{API}/reactions", {"name": "x", "actions": [{"talkdown": {"clip": "nope"}}]}
    )
    assert status == 422 and answer["error"]["message"].startswith("actions[0].talkdown.clip: no clip"), answer
    assert await ok(http, server, "GET", f"{API}/scripts") == []


async def test_only_the_admin_key_or_an_admin_token_gets_in(rules_gateway, http):
    server = rules_gateway
    viewer = await mint(http, server, ["*"], ["view", "snapshot"], sub="viewer")
    admin_token = await mint(http, server, ["*"], ["admin"])
    expired, _ = TokenAuthority(TOKEN_SECRET, clock=lambda: time.time() - 3600).mint(["*"], ["admin"], 60)
    refused = {
        "none": None,
        "bad": "not.a.token",
        "expired": expired,
        "no admin action": viewer,
        "guest-like": "abcdef",
    }
    for path in (f"{API}/events", f"{API}/reactions", f"{API}/users", f"{API}/scripts"):
        for why, token in refused.items():
            status, answer, headers = await call(http, server, "GET", path, token=token)
            assert status == 401, (path, why, answer)
            assert answer["error"]["code"] == "unauthorized"
            assert headers["WWW-Authenticate"].startswith("Bearer"), (path, why)
        for token in (ADMIN_KEY, admin_token):
            assert isinstance(await ok(http, server, "GET", path, token=token), list)
    status, _, _ = await call(http, server, "POST", f"{API}/scripts", SEED_BROKEN, token=viewer)
    assert status == 401  # the credentials first, the body after
    # The admin token in the URL is not taken: admin credentials come in the header only.
    async with http.get(server.make_url(f"{API}/scripts"), params={"token": admin_token}) as response:
        assert response.status == 401


async def test_closed_even_without_viewer_auth(rules_config, http):
    config = dataclasses.replace(rules_config, auth=dataclasses.replace(rules_config.auth, viewer_auth=False))
    async with running(config) as server:
        status, _, headers = await call(http, server, "GET", f"{API}/scripts", token=None)
        assert status == 401 and "WWW-Authenticate" in headers
        assert await ok(http, server, "GET", f"{API}/scripts") == []


async def test_get_put_delete(rules_gateway, emulator, http):
    server = rules_gateway
    await mint(http, server, ["*"], ["view"], sub="guard-1")
    await mint(http, server, ["*"], ["view"], sub="guard-2")
    users = {user["login"]: user["id"] for user in await ok(http, server, "GET", f"{API}/users")}
    motion, reaction = await motion_start_id(http, server), (await snapshot_reaction(http, server))["id"]
    script = await ok(
        http,
        server,
        "POST",
        f"{API}/scripts",
        {"event_id": motion, "reaction_id": reaction, "users": [users["guard-1"]], "schedule": WEEK},
    )
    path = f"{API}/scripts/{script['id']}"
    assert await ok(http, server, "GET", path) == script
    assert await ok(http, server, "GET", f"{API}/scripts") == [script]

    # PUT replaces what the scripts API says, and keeps the rule's cooldown set through /api/v1/rules.
    rule = await ok(http, server, "GET", f"/api/v1/rules/{script['id']}")
    rule = {key: rule[key] for key in ("name", "enabled", "when", "cooldown_s", "actions", "notify")}
    await ok(http, server, "PUT", f"/api/v1/rules/{script['id']}", {**rule, "cooldown_s": 30})
    events = {event["type"]: event["id"] for event in await ok(http, server, "GET", f"{API}/events")}
    monday = [{"day": 0, "ranges": [{"from": "08:00", "to": "18:00"}]}]
    changed = await ok(
        http,
        server,
        "PUT",
        path,
        {
            "event_id": events["DEVICE_ANALYTICS_START"],
            "reaction_id": reaction,
            "users": [users["guard-2"]],
            "schedule": monday,
        },
    )
    check_seed_shape(changed)
    assert changed["id"] == script["id"] and changed["created_at"] == script["created_at"]
    assert changed["event"]["name"] == "analytics_start" and [user["login"] for user in changed["users"]] == ["guard-2"]
    assert changed["schedule"] == [{"day": 0, "ranges": [{"from": "08:00:00", "to": "18:00:00"}]}]
    rule = await ok(http, server, "GET", f"/api/v1/rules/{script['id']}")
    assert (rule["when"]["types"], rule["notify"], rule["cooldown_s"]) == (["DEVICE_ANALYTICS_START"], ["guard-2"], 30)
    status, answer, _ = await call(http, server, "PUT", path, SEED_BROKEN)
    assert status == 422 and answer["error"]["message"].startswith("schedule")

    # A rule made through /api/v1/rules is no script.
    other = await ok(
        http, server, "POST", "/api/v1/rules", {"name": "plain", "actions": [{"snapshot": {}}], "when": {}}, status=201
    )
    for method in ("GET", "DELETE"):
        status, _, _ = await call(http, server, method, f"{API}/scripts/{other['id']}")
        assert status == 404
    assert [entry["id"] for entry in await ok(http, server, "GET", f"{API}/scripts")] == [script["id"]]

    assert await ok(http, server, "DELETE", path) == {}
    for where in (path, f"/api/v1/rules/{script['id']}"):
        status, _, _ = await call(http, server, "GET", where)
        assert status == 404, where
    assert [rule["id"] for rule in (await ok(http, server, "GET", "/api/v1/rules"))["rules"]] == [other["id"]]
    status, _, _ = await call(http, server, "DELETE", path)
    assert status == 404


async def test_scripts_survive_a_restart(rules_config, emulator, http):
    async with running(rules_config) as server:
        await mint(http, server, ["*"], ["view"], sub="guard-1")
        [user] = await ok(http, server, "GET", f"{API}/users")
        motion, reaction = await motion_start_id(http, server), (await snapshot_reaction(http, server))["id"]
        script = await ok(
            http,
            server,
            "POST",
            f"{API}/scripts",
            {"event_id": motion, "reaction_id": reaction, "users": [user["id"]], "schedule": WEEK},
        )
    async with running(rules_config) as server:
        assert await ok(http, server, "GET", f"{API}/scripts") == [script]
        assert await ok(http, server, "GET", f"{API}/users") == [user]
        from gateway.rules.routes import RULES

        engine = server.app[RULES]
        await wait_for(lambda: engine.get(script["id"]) is not None, what="the script's rule loaded")
        assert engine.get(script["id"])[1].types == ("DEVICE_MOTION_START",)
