"""The guest link API: making links (admin key, share tokens), listing them without their
ids, revoking by id or ref, and strict validation of every field."""

from __future__ import annotations

import hashlib
import time

import pytest

from tests.auth.secure import admin_headers, mint

from .conftest import iso, make_link

pytestmark = pytest.mark.timeout(60)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def listed(http, base: str, headers: dict | None = None) -> list[dict]:
    async with http.get(f"{base}/api/v1/links", headers=headers or admin_headers()) as response:
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-store"
        return (await response.json())["links"]


async def test_a_live_link_and_a_window_link_are_made_and_listed_by_ref_only(emulator, base, http):
    camera, other = emulator.camera_ids[:2]
    before = time.time()
    live = await make_link(http, base, camera=camera, live=True)
    assert set(live) == {"id", "ref", "url", "camera", "live", "expires_at"}
    assert live["url"] == f"{base}/g/{live['id']}"
    assert len(live["id"]) >= 32 and "." not in live["id"]  # >= 192 random bits, never a JWT
    assert live["camera"] == camera and live["live"] is True
    expires = time.mktime(time.strptime(live["expires_at"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert before + 600 <= expires <= time.time() + 601  # [links] default_ttl of links_config

    start, end = time.time() - 120, time.time() - 60
    window = await make_link(http, base, camera=other, **{"from": iso(start), "to": iso(end)}, ttl=90)
    assert window["live"] is False and window["from"] == iso(start) and window["to"] == iso(end)

    links = await listed(http, base)
    assert [link["ref"] for link in links] == [live["ref"], window["ref"]]
    assert links[0] | {"created_at": None, "expires_at": None} == {
        "ref": live["ref"],
        "camera": camera,
        "live": True,
        "from": None,
        "to": None,
        "created_at": None,
        "expires_at": None,
        "revoked": False,
        "state": "active",
        "created_by": "admin",
    }
    assert (links[1]["from"], links[1]["to"]) == (iso(start), iso(end))
    text = str(links)
    assert live["id"] not in text and window["id"] not in text


async def test_revoke_by_id_and_by_ref(emulator, base, http):
    camera = emulator.camera_ids[0]
    first = await make_link(http, base, camera=camera, live=True)
    second = await make_link(http, base, camera=camera, live=True)
    for link, handle in ((first, first["id"]), (second, second["ref"])):
        async with http.get(f"{base}/hls/{camera}/index.m3u8", params={"token": link["id"]}) as response:
            assert response.status == 200
        async with http.delete(f"{base}/api/v1/links/{handle}", headers=admin_headers()) as response:
            assert response.status == 200
            answer = await response.json()
            assert answer["ref"] == link["ref"] and answer["revoked"] is True and answer["state"] == "revoked"
            assert link["id"] not in str(answer)
        async with http.get(f"{base}/hls/{camera}/index.m3u8", params={"token": link["id"]}) as response:
            assert response.status == 410
            assert await response.json() == {"error": {"code": "link_gone", "message": "this link was revoked"}}
    assert [link["state"] for link in await listed(http, base)] == ["revoked", "revoked"]
    async with http.delete(f"{base}/api/v1/links/{first['ref']}", headers=admin_headers()) as response:
        assert response.status == 200  # again: harmless
    async with http.delete(f"{base}/api/v1/links/0123456789abcdef", headers=admin_headers()) as response:
        assert response.status == 404


NOW = time.time()
BAD = [
    ({"live": True}, "camera"),
    ({"camera": 7, "live": True}, "camera"),
    ({"camera": "", "live": True}, "camera"),
    ({"camera": "{camera}", "live": "yes"}, "live"),
    ({"camera": "{camera}"}, "from"),
    ({"camera": "{camera}", "live": False, "to": iso(NOW - 60)}, "from"),
    ({"camera": "{camera}", "from": iso(NOW - 60)}, "to"),
    ({"camera": "{camera}", "from": "yesterday", "to": iso(NOW - 60)}, "from"),
    ({"camera": "{camera}", "from": "2025-01-01T10:00:00", "to": iso(NOW - 60)}, "from"),  # no zone
    ({"camera": "{camera}", "from": iso(NOW - 120), "to": 12}, "to"),
    ({"camera": "{camera}", "from": iso(NOW - 60), "to": iso(NOW - 120)}, "from must be before to"),
    ({"camera": "{camera}", "from": iso(NOW - 90000), "to": iso(NOW - 60)}, "to must be at most 24 h"),
    ({"camera": "{camera}", "from": iso(NOW - 60), "to": iso(NOW + 3600)}, "to is in the future"),
    ({"camera": "{camera}", "live": True, "from": iso(NOW - 120), "to": iso(NOW - 60)}, "live and from/to"),
    ({"camera": "{camera}", "live": True, "ttl": 0}, "ttl"),
    ({"camera": "{camera}", "live": True, "ttl": 7201}, "ttl"),
    ({"camera": "{camera}", "live": True, "ttl": "60"}, "ttl"),
    ({"camera": "{camera}", "live": True, "ttl": 1.5}, "ttl"),
    ({"camera": "{camera}", "live": True, "ttl": True}, "ttl"),
    ({"camera": "{camera}", "live": True, "cameras": ["x"]}, "unknown field(s): cameras"),
]


@pytest.mark.parametrize(("body", "named"), BAD, ids=[named for _, named in BAD])
async def test_every_bad_field_is_a_400_naming_it(emulator, base, http, body, named):
    body = {
        key: value.format(camera=emulator.camera_ids[0]) if isinstance(value, str) else value
        for key, value in body.items()
    }
    async with http.post(f"{base}/api/v1/links", json=body, headers=admin_headers()) as response:
        assert response.status == 400
        message = (await response.json())["error"]["message"]
        assert message.startswith(named) or f" {named} " in f" {message} ", message
    assert await listed(http, base) == []


async def test_a_body_that_is_not_a_json_object_and_an_unknown_camera(base, http):
    for data in (b"not json", b"[1, 2]"):
        async with http.post(f"{base}/api/v1/links", data=data, headers=admin_headers()) as response:
            assert response.status == 400
    async with http.post(
        f"{base}/api/v1/links", json={"camera": "no-such-camera", "live": True}, headers=admin_headers()
    ) as response:
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "not_found"


async def test_who_may_share(emulator, base, http):
    camera, other = emulator.camera_ids[:2]
    viewer = await mint(http, base, [camera], ["view"])
    for method in ("GET", "POST"):
        async with http.request(
            method, f"{base}/api/v1/links", json={"camera": camera, "live": True}, headers=bearer(viewer)
        ) as response:
            assert response.status == 403
            assert "'share'" in (await response.json())["error"]["message"]
    async with http.post(f"{base}/api/v1/links", json={"camera": camera, "live": True}) as response:
        assert response.status == 401

    sharer = await mint(http, base, [camera], ["view", "share"], ttl=120)
    async with http.post(
        f"{base}/api/v1/links", json={"camera": other, "live": True}, headers=bearer(sharer)
    ) as response:
        assert response.status == 403  # may not view that camera, so may not share it
    # ttl capped at the token's remaining life: the link does not outlive the token
    link = await make_link(http, base, bearer(sharer), camera=camera, live=True, ttl=3600)
    expires = time.mktime(time.strptime(link["expires_at"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert expires <= time.time() + 121
    assert link["url"].endswith(f"/g/{link['id']}")


async def test_a_share_token_lists_and_revokes_its_own_links_only(emulator, base, http):
    camera = emulator.camera_ids[0]
    async with http.post(
        f"{base}/api/v1/tokens",
        headers=admin_headers(),
        json={"cameras": ["*"], "actions": ["view", "share"], "ttl": 600, "sub": "alice"},
    ) as response:
        alice = (await response.json())["token"]
    bob = await mint(http, base, ["*"], ["view", "share"])
    mine = await make_link(http, base, bearer(alice), camera=camera, live=True)
    theirs = await make_link(http, base, bearer(bob), camera=camera, live=True)
    admins = await make_link(http, base, camera=camera, live=True)

    alices = await listed(http, base, bearer(alice))
    assert [(link["ref"], link["created_by"]) for link in alices] == [(mine["ref"], "alice")]
    bobs = await listed(http, base, bearer(bob))
    assert [link["ref"] for link in bobs] == [theirs["ref"]]
    assert bobs[0]["created_by"].startswith("token:") and bob not in bobs[0]["created_by"]
    assert len(await listed(http, base)) == 3  # the admin key sees all

    for handle in (theirs["ref"], theirs["id"], admins["ref"]):
        async with http.delete(f"{base}/api/v1/links/{handle}", headers=bearer(alice)) as response:
            assert response.status == 404
    async with http.delete(f"{base}/api/v1/links/{mine['ref']}", headers=bearer(alice)) as response:
        assert response.status == 200
    async with http.delete(f"{base}/api/v1/links/{theirs['ref']}", headers=admin_headers()) as response:
        assert response.status == 200
    assert [link["state"] for link in await listed(http, base)] == ["revoked", "revoked", "active"]


async def test_the_url_starts_with_the_public_url_when_it_is_set(emulator, links_config):
    import dataclasses

    from gateway.app import create_app
    from gateway.links.routes import LINKS
    from tests.conftest import GatewayTestServer

    config = dataclasses.replace(
        links_config, server=dataclasses.replace(links_config.server, public_url="https://cameras.example/gw/")
    )
    server = GatewayTestServer(create_app(config), host="127.0.0.1")
    await server.start_server()
    try:
        import aiohttp

        async with aiohttp.ClientSession() as http:
            link = await make_link(http, str(server.make_url("")).rstrip("/"), camera=emulator.camera_ids[0], live=True)
        assert link["url"] == f"https://cameras.example/gw/g/{link['id']}"
        created = await server.app[LINKS].create(
            emulator.camera_ids[0],
            live=True,
            window=None,
            ttl=60,
            created_by="rule:test",
            base_url="http://elsewhere:1",
        )
        assert created.url == f"http://elsewhere:1/g/{created.id}"
        assert created.ref == hashlib.sha256(created.id.encode()).hexdigest()[:16]
    finally:
        await server.close()
