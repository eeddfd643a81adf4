"""The gateway as a real process (`python -m gateway.cli serve`), killed with SIGKILL while
pushing: started again on the same config, its pushes come back on their own."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import pytest

from tests.gateway_process import start_gateway, wep_toml
from tests.rtmp.conftest import ADMIN, ADMIN_KEY, wait_for_state
from tests.rtmp.nginx import free_port, probe

pytestmark = pytest.mark.peer

REPO = Path(__file__).resolve().parents[2]


def write_config(path: Path, emulator, port: int, db_path: Path) -> None:
    path.write_text(f"""
[server]
listen = "127.0.0.1:{port}"
{wep_toml(emulator)}[auth]
admin_key = "{ADMIN_KEY}"
viewer_auth = false
[sources]
idle_close_after = 2.0
[pushes]
db_path = "{db_path}"
""")


def emulator_pushes_to(emulator, url: str) -> list:
    """The pushes the emulator runs to `url`, whatever session started them."""
    return [push for push in emulator.pushes.all() if push.spec.url == url]


async def test_pushes_come_back_after_sigkill(emulator, nginx, tmp_path):
    """The receiver is left running: the WEP-mode stream started by the killed process
    outlives it (it belongs to that process's WEP session), and the restarted gateway must
    stop it with that session before pushing again, or nginx would refuse the new publish
    ("already publishing") and the emulator would run two pushes to one stream name.
    Killing nginx itself is test_pushes.py's live, retrying, live."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config, log, db_path = tmp_path / "gateway.toml", tmp_path / "gateway.log", tmp_path / "var" / "pushes.sqlite3"
    write_config(config, emulator, port, db_path)
    wep_url = nginx.url("live", "wep-key-0123456789")
    process = await start_gateway(config, log, base)
    answered: list[str] = []  # every push JSON the gateway gave
    try:
        async with aiohttp.ClientSession(headers=ADMIN) as http:
            created = {}
            for key, body in {
                "gw-key-0123456789": {"camera": emulator.camera_ids[0], "mode": "gateway", "media": "both"},
                "wep-key-0123456789": {"camera": emulator.camera_ids[1], "mode": "wep", "quality": "low"},
            }.items():
                async with http.post(f"{base}/api/v1/pushes", json={**body, "url": nginx.url("live", key)}) as resp:
                    answered.append(await resp.text())
                    assert resp.status == 201, answered[-1]
                    created[key] = (await resp.json())["id"]
            for push_id in created.values():
                view = await wait_for_state(http, f"{base}/api/v1/pushes/{push_id}", {"live"}, 30)
                answered.append(str(view))
                assert view["state"] == "live", view
            [before] = emulator_pushes_to(emulator, wep_url)

            process.send_signal(signal.SIGKILL)
            await process.wait()
            # WEP keeps pushing for the dead process's session; nginx is not touched.
            assert emulator_pushes_to(emulator, wep_url) == [before]

            process = await start_gateway(config, log, base)
            async with http.get(f"{base}/api/v1/pushes") as resp:
                answered.append(await resp.text())
                restored = {view["id"]: view for view in (await resp.json())["pushes"]}
            assert set(restored) == set(created.values())
            for push_id in created.values():
                view = await wait_for_state(http, f"{base}/api/v1/pushes/{push_id}", {"live"}, 30)
                answered.append(str(view))
                assert view["state"] == "live", view
            await asyncio.sleep(2.0)
            # Exactly one push to the stream name: the new session's, streaming; the old
            # one was stopped with the old session, not left to run beside it.
            [after] = emulator_pushes_to(emulator, wep_url)
            assert after.spec.id != before.spec.id and after.state == "streaming", after.to_json()
            assert after.spec.session_token != before.spec.session_token
            async with http.get(f"{base}/api/v1/pushes/{created['wep-key-0123456789']}") as resp:
                answered.append(await resp.text())
                assert (await resp.json())["state"] == "live"
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()
    for key in ("gw-key-0123456789", "wep-key-0123456789"):
        recordings = nginx.recordings(key)
        assert len(recordings) >= 2, (key, recordings)  # before the kill, and after the restart
        assert probe(recordings[-1])["frames"]["video"]
    logged = log.read_text()
    assert "restored 2 push(es)" in logged and "live/gw***" in logged
    assert "0123456789" not in logged  # the keys never reach the gateway's log
    # The WEP sessions (the dead process's, kept in the database to stop its stream, and
    # the new one) never reach the log or the API.
    for session in (before.spec.session_token, after.spec.session_token):
        assert session not in logged
        assert not any(session in text for text in answered)
