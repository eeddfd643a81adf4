"""WEP's HTTPS variant end to end: the gateway serves TLS, WEP (the emulator) posts JSON with
the authenticationToken in the body, and the gateway, registered with an https:// URL,
accepts that proof and no other."""

from __future__ import annotations

import dataclasses
import json
import ssl

import aiohttp
import pytest

from gateway.emulator.server import Emulator
from gateway.emulator.tls import server_context, write_self_signed
from gateway.events import webhook_auth
from gateway.events.service import EVENTS
from tests.conftest import GatewayTestServer
from tests.events.conftest import free_port, mint, wait_for
from tests.events.sse_client import SseReader


@pytest.fixture
def emulator_settings(emulator_settings):
    # WEP would check the gateway's certificate; ours is self-signed.
    return dataclasses.replace(emulator_settings, webhook_verify_tls=False)


async def test_https_notifications_carry_the_token_in_the_body(emulator: Emulator, events_config, tmp_path):
    from gateway.app import create_app

    port = free_port()
    config = dataclasses.replace(
        events_config,
        server=dataclasses.replace(events_config.server, listen=f"127.0.0.1:{port}"),
        events=dataclasses.replace(events_config.events, public_url=f"https://127.0.0.1:{port}"),
    )
    cert, key = write_self_signed(tmp_path)
    server = GatewayTestServer(create_app(config), host="127.0.0.1", port=port)
    await server.start_server(ssl=server_context(cert, key))
    client_tls = ssl.create_default_context(cafile=str(cert))
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_tls))
    try:
        layer = server.app[EVENTS]
        assert layer.receiver.https
        await wait_for(lambda: layer.receiver.stats.posts["HELLO"], what="WEP's HELLO over HTTPS")
        assert emulator.webhooks[0]["url"] == f"https://127.0.0.1:{port}/wep/webhook"
        token = await mint(http, server, ["*"], ["view"])
        async with http.get(
            server.make_url("/api/v1/events/stream"), headers={"Authorization": f"Bearer {token}"}
        ) as response:
            reader = SseReader(response)
            injected = emulator.inject_event(emulator.camera_ids[0], "DEVICE_MOTION_START")
            event = await reader.until(lambda e: e.data["id"] == f"wep:{injected['thisId']}")
        assert event.data["type"] == "DEVICE_MOTION_START"
        # An HMAC header is the HTTP proof: with an https:// registration it proves nothing.
        body = json.dumps({"type": "HEARTBEAT"}).encode()
        current = layer.receiver._valid_tokens()[0]
        async with http.post(
            server.make_url("/wep/webhook"), data=body, headers={"Authorization": webhook_auth.signature(current, body)}
        ) as response:
            assert response.status == 401
    finally:
        await http.close()
        await server.close()
