"""A guest link as a credential: it opens its one camera's live video (live link) or the
recording in its window (window link) and nothing else; revoked or expired it answers 410
and what it had open is closed within 2 s; it survives a restart; its id is never logged
nor stored."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import aiohttp
import pytest

from gateway.links.routes import LINKS
from gateway.webrtc.routes import WHEP_SESSIONS
from tests.auth.secure import admin_headers, short_wav, viewer_offer
from tests.conftest import GatewayTestServer

from .conftest import iso, make_link

pytestmark = pytest.mark.timeout(90)

CLOSE_WITHIN = 2.0


async def status_of(http, method: str, url: str, token: str, **kwargs) -> int:
    async with http.request(method, url, params={"token": token}, **kwargs) as response:
        await response.read()
        return response.status


async def test_a_live_link_opens_its_camera_live_and_nothing_else(emulator, base, http):
    camera, other = emulator.camera_ids[:2]
    link = (await make_link(http, base, camera=camera, live=True))["id"]
    for path in (f"/hls/{camera}/index.m3u8", f"/hls/{camera}/low/playlist.m3u8", f"/hls/{camera}/low/init.mp4"):
        assert await status_of(http, "GET", base + path, link) == 200, path
    async with http.get(f"{base}/live/{camera}.mp4", params={"token": link, "quality": "low"}) as response:
        assert response.status == 200
        assert len(await response.content.readexactly(1024)) == 1024
    # Authorization: Bearer works as ?token= does
    async with http.get(f"{base}/hls/{camera}/index.m3u8", headers={"Authorization": f"Bearer {link}"}) as response:
        assert response.status == 200

    forbidden = [
        ("GET", f"/hls/{other}/index.m3u8"),
        ("GET", f"/live/{other}.mp4"),
        ("GET", f"/api/v1/cameras/{camera}/snapshot.jpg"),
        ("GET", f"/api/v1/cameras/{camera}/timeline"),
        ("POST", f"/api/v1/cameras/{camera}/ptz/home"),
        ("GET", "/api/v1/cameras"),
        ("GET", "/api/v1/links"),
        ("GET", f"/hls/{camera}/low/playlist.m3u8?t={iso(time.time() - 30)}"),
        ("GET", "/api/v1/events"),
    ]
    for method, path in forbidden:
        assert await status_of(http, method, base + path, link) == 403, path
    assert (
        await status_of(
            http,
            "POST",
            f"{base}/api/v1/cameras/{camera}/talkdown",
            link,
            data=short_wav(),
            headers={"Content-Type": "audio/wav"},
        )
        == 403
    )
    assert await status_of(http, "POST", f"{base}/api/v1/links", link, json={"camera": camera, "live": True}) == 403
    assert await status_of(http, "GET", f"{base}/hls/{camera}/index.m3u8", "unknown-link-id") == 401


async def test_a_window_link_opens_only_its_recording(emulator, base, http):
    camera, other = emulator.camera_ids[:2]
    start, end = time.time() - 60, time.time() - 30
    link = (await make_link(http, base, camera=camera, **{"from": iso(start), "to": iso(end)}))["id"]
    async with http.get(f"{base}/hls/{camera}/low/playlist.m3u8", params={"t": iso(start), "token": link}) as response:
        assert response.status == 200
        playlist = await response.text()
    media = [
        line.split('URI="')[1].split('"')[0] if 'URI="' in line else line
        for line in playlist.splitlines()
        if line.startswith("r") or 'URI="r' in line
    ]
    assert media and all(f"token={link}" in uri for uri in media)
    for uri in media[:2]:
        async with http.get(f"{base}/hls/{camera}/low/{uri}") as response:
            assert response.status == 200, uri

    refused = [
        ("GET", f"/hls/{camera}/low/playlist.m3u8?t={iso(start - 60)}"),  # before the window
        ("GET", f"/hls/{camera}/low/playlist.m3u8?t={iso(end + 10)}"),  # after it
        ("GET", f"/hls/{camera}/low/playlist.m3u8"),
        ("GET", f"/hls/{camera}/low/playlist.m3u8?t=live"),
        ("GET", f"/hls/{camera}/index.m3u8"),
        ("GET", f"/hls/{camera}/low/init.mp4"),
        ("GET", f"/live/{camera}.mp4"),
        ("GET", f"/hls/{other}/low/playlist.m3u8?t={iso(start)}"),
        ("GET", f"/api/v1/cameras/{camera}/snapshot.jpg?t={iso(start)}"),
    ]
    for method, path in refused:
        assert await status_of(http, method, base + path, link) == 403, path
    async with viewer_offer() as offer:
        assert (
            await status_of(
                http, "POST", f"{base}/whep/{camera}", link, data=offer, headers={"Content-Type": "application/sdp"}
            )
            == 403
        )
    # a recording another viewer opened outside the window stays shut to the link
    async with http.get(
        f"{base}/hls/{camera}/low/playlist.m3u8", params={"t": iso(start - 120)}, headers=admin_headers()
    ) as response:
        outside = [line for line in (await response.text()).splitlines() if line.startswith("r")]
    assert await status_of(http, "GET", f"{base}/hls/{camera}/low/{outside[0]}", link) == 403


async def until(condition, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what} not within {timeout} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def whep_session(http, base: str, camera: str, link: str, offer: str) -> str:
    async with http.post(
        f"{base}/whep/{camera}", params={"token": link}, data=offer, headers={"Content-Type": "application/sdp"}
    ) as response:
        assert response.status == 201, await response.text()
        return response.headers["Location"].rsplit("/", 1)[-1]


async def state_lines(http, base: str, link: str, into: list) -> None:
    async with http.get(f"{base}/g/{link}/state") as response:
        assert response.status == 200
        async for line in response.content:
            into.append(line)  # noqa: PERF401  one at a time: the test reads `into` while the stream runs


async def test_revoking_closes_what_the_link_has_open_within_2_s(emulator, links_gateway, base, http):
    camera = emulator.camera_ids[0]
    link = await make_link(http, base, camera=camera, live=True)
    sessions = links_gateway.app[WHEP_SESSIONS]
    state: list[bytes] = []
    watcher = asyncio.ensure_future(state_lines(http, base, link["id"], state))
    live = await http.get(f"{base}/live/{camera}.mp4", params={"token": link["id"], "quality": "low"})
    await live.content.readexactly(4096)
    async with viewer_offer() as offer:
        session = await whep_session(http, base, camera, link["id"], offer)
        assert sessions.get(session) is not None
        await until(lambda: len(state) == 1, 5, "the state stream's first line")

        async with http.delete(f"{base}/api/v1/links/{link['ref']}", headers=admin_headers()) as response:
            assert response.status == 200
        await until(lambda: sessions.get(session) is None, CLOSE_WITHIN, "the WHEP session closed")
        await asyncio.wait_for(watcher, CLOSE_WITHIN)
        assert state[-1] == b'{"gone": "revoked", "message": "this link was revoked"}\n'
        with pytest.raises((aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, asyncio.IncompleteReadError)):
            async with asyncio.timeout(CLOSE_WITHIN):
                while await live.content.read(65536):
                    pass
                raise aiohttp.ClientConnectionError("the stream ended")  # closed cleanly counts too
        live.release()
        assert (
            await status_of(
                http,
                "POST",
                f"{base}/whep/{camera}",
                link["id"],
                data=offer,
                headers={"Content-Type": "application/sdp"},
            )
            == 410
        )
    async with http.get(f"{base}/g/{link['id']}") as response:
        assert response.status == 410
        assert response.content_type == "text/html"
        assert "This link was revoked" in await response.text()


async def test_an_expiring_link_closes_its_streams_within_2_s(emulator, links_gateway, base, http):
    camera = emulator.camera_ids[1]
    link = await make_link(http, base, camera=camera, live=True, ttl=3)
    expires = time.mktime(time.strptime(link["expires_at"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    state: list[bytes] = []
    watcher = asyncio.ensure_future(state_lines(http, base, link["id"], state))
    async with http.get(f"{base}/live/{camera}.mp4", params={"token": link["id"], "quality": "low"}) as live:
        await live.content.readexactly(1024)
        got = 0
        with pytest.raises((aiohttp.ClientPayloadError, aiohttp.ClientConnectionError)):
            while chunk := await live.content.read(65536):
                got += len(chunk)
            raise aiohttp.ClientConnectionError("the stream ended")
        assert time.time() - expires < CLOSE_WITHIN
    await asyncio.wait_for(watcher, CLOSE_WITHIN)
    assert b'"gone": "expired"' in state[-1]
    async with http.get(f"{base}/hls/{camera}/index.m3u8", params={"token": link["id"]}) as response:
        assert response.status == 410
        assert await response.json() == {"error": {"code": "link_gone", "message": "this link has expired"}}
    async with http.get(f"{base}/g/{link['id']}") as response:
        assert response.status == 410 and "This link has expired" in await response.text()
    async with http.get(f"{base}/g/no-such-link") as response:
        assert response.status == 404 and "does not exist" in await response.text()


async def test_links_survive_a_restart_and_their_ids_are_never_logged_nor_stored(emulator, links_config, http, caplog):
    from gateway.app import create_app

    caplog.set_level(logging.DEBUG)
    camera = emulator.camera_ids[0]
    ids: list[str] = []

    async def serve():
        server = GatewayTestServer(create_app(links_config), host="127.0.0.1")
        await server.start_server()
        return server, str(server.make_url("")).rstrip("/")

    server, base = await serve()
    try:
        kept = await make_link(http, base, camera=camera, live=True)
        gone = await make_link(http, base, camera=camera, live=True)
        window = await make_link(
            http, base, camera=camera, **{"from": iso(time.time() - 90), "to": iso(time.time() - 60)}
        )
        ids += [kept["id"], gone["id"], window["id"]]
        assert await status_of(http, "GET", f"{base}/hls/{camera}/low/playlist.m3u8", kept["id"]) == 200
        async with http.get(f"{base}/g/{kept['id']}") as response:
            assert response.status == 200
        async with http.delete(f"{base}/api/v1/links/{gone['id']}", headers=admin_headers()) as response:
            assert response.status == 200
        assert await status_of(http, "GET", f"{base}/hls/{camera}/index.m3u8", gone["id"]) == 410
    finally:
        await server.close()

    server, base = await serve()  # the same database
    try:
        assert len(server.app[LINKS].links()) == 3
        assert await status_of(http, "GET", f"{base}/hls/{camera}/index.m3u8", kept["id"]) == 200
        assert await status_of(http, "GET", f"{base}/hls/{camera}/index.m3u8", gone["id"]) == 410
        assert await status_of(http, "GET", f"{base}/live/{camera}.mp4", window["id"]) == 403
        async with http.get(f"{base}/api/v1/links", headers=admin_headers()) as response:
            assert [link["state"] for link in (await response.json())["links"]] == ["active", "revoked", "active"]
    finally:
        await server.close()

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "guest link" in logged  # the refs are logged
    database = b"".join(path.read_bytes() for path in Path(links_config.pushes.db_path).parent.glob("gateway.sqlite3*"))
    assert b"guest_links" in database
    for link_id in ids:
        assert link_id not in logged
        assert link_id.encode() not in database


async def test_without_viewer_tokens_a_link_still_keeps_to_its_camera_and_window(emulator, tmp_path, http):
    from tests.conftest import config_for, serving

    camera, other = emulator.camera_ids[:2]
    async with serving(config_for(emulator, pushes={"db_path": str(tmp_path / "open.sqlite3")})) as server:
        base = str(server.make_url("")).rstrip("/")
        window = await make_link(
            http, base, {}, camera=camera, **{"from": iso(time.time() - 90), "to": iso(time.time() - 60)}
        )
        live = await make_link(http, base, {}, camera=camera, live=True)
        async with http.get(f"{base}/api/v1/links") as response:
            assert [link["created_by"] for link in (await response.json())["links"]] == ["anonymous"] * 2
        assert await status_of(http, "GET", f"{base}/hls/{other}/index.m3u8", "not-a-link") == 200  # ignored
        assert await status_of(http, "GET", f"{base}/hls/{camera}/index.m3u8", window["id"]) == 403
        assert await status_of(http, "GET", f"{base}/hls/{other}/index.m3u8", live["id"]) == 403
        assert await status_of(http, "GET", f"{base}/hls/{camera}/index.m3u8", live["id"]) == 200
        async with http.delete(f"{base}/api/v1/links/{live['ref']}") as response:
            assert response.status == 200
        assert await status_of(http, "GET", f"{base}/hls/{camera}/index.m3u8", live["id"]) == 410
