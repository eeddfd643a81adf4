"""Bad input and upstream trouble on the event path: each gets a clear answer or log line, and
the rest of the gateway goes on."""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest

from gateway.events import webhook_auth
from gateway.events.service import EVENTS
from tests.events.conftest import mint, running, wait_for
from tests.events.sse_client import SseReader


def _signed(server, payload: bytes) -> dict:
    # The registration's current token (in-process): what WEP signs with.
    token = server.app[EVENTS].receiver._valid_tokens()[0]
    return {"Content-Type": "plain/text", "Authorization": webhook_auth.signature(token, payload)}


def _notification(*events: dict) -> bytes:
    return json.dumps(
        {"siteId": "s", "type": "NOTIFICATION", "time": "2026-01-01T00:00:00.000Z", "notification": list(events)}
    ).encode()


async def test_signed_but_bad_posts_get_4xx_or_are_skipped_with_a_log_line(emulator, events_gateway, http, caplog):
    caplog.set_level(logging.INFO, "gateway.events")
    url = events_gateway.make_url("/wep/webhook")
    layer = events_gateway.app[EVENTS]
    for body in (b"{not json", b"[1, 2]"):
        async with http.post(url, data=body, headers=_signed(events_gateway, body)) as response:
            assert response.status == 400
            assert "unreadable" in (await response.json())["error"]["message"]
    big = b'{"type": "NOTIFICATION", "notification": [' + b" " * (1024 * 1024) + b"]}"
    async with http.post(url, data=big, headers=_signed(events_gateway, big)) as response:
        assert response.status == 413
    camera = emulator.camera_ids[0]
    good = {
        "thisId": "t-good",
        "type": "DEVICE_MOTION_START",
        "cameraId": camera,
        "timestamp": "2026-01-01T00:00:01.000Z",
    }
    payloads = [
        json.dumps({"type": "SOMETHING_NEW", "time": "2026-01-01T00:00:00.000Z"}).encode(),
        _notification(
            {"type": "DEVICE_MOTION_START"},
            {
                "thisId": "t-unknown",
                "type": "DEVICE_MOTION_START",
                "cameraId": "no-such-camera",
                "timestamp": "2026-01-01T00:00:00.000Z",
            },
            {"thisId": "t-bad-time", "type": "X", "timestamp": "yesterday"},
            good,
        ),
        json.dumps({"type": "NOTIFICATION", "notification": "not a list"}).encode(),
    ]
    token = await mint(http, events_gateway, ["*"], ["view"])
    async with http.get(
        events_gateway.make_url("/api/v1/events/stream"), headers={"Authorization": f"Bearer {token}"}
    ) as sse:
        reader = SseReader(sse)
        for payload in payloads:
            async with http.post(url, data=payload, headers=_signed(events_gateway, payload)) as response:
                assert response.status == 200
        received = await reader.collect(1.0)
    assert [e.data["id"] for e in received] == ["wep:t-good"]
    assert layer.intake.stats.unknown_camera == 1
    assert layer.intake.stats.malformed == 3
    assert layer.receiver.stats.posts["unknown"] == 1
    messages = caplog.text
    assert "camera 'no-such-camera', which no backend lists" in messages
    assert "unknown type 'SOMETHING_NEW'" in messages
    assert "WEP event unreadable" in messages
    async with http.get(
        events_gateway.make_url("/api/v1/cameras"), headers={"Authorization": f"Bearer {token}"}
    ) as response:
        assert response.status == 200  # the rest of the gateway is unaffected


async def test_missing_heartbeats_degrade_events_then_the_webhook_comes_back(emulator, events_gateway, http):
    layer = events_gateway.app[EVENTS]
    registrations = layer.receiver.stats.registrations
    emulator.pause_webhooks()  # no heartbeats from now on (heartbeat_ms is 1000)
    await wait_for(lambda: not layer.registration.healthy, timeout=8, what="events degraded")
    async with http.get(events_gateway.make_url("/readyz")) as response:
        ready = await response.json()
    assert response.status == 200  # video still flows: degraded events do not take the node out
    assert ready["events"]["status"] == "degraded"
    assert "heartbeats missed" in ready["events"]["reason"]
    async with http.get(events_gateway.make_url("/metrics")) as response:
        assert "wepgw_events_webhook_up 0.0" in await response.text()
    emulator.resume_webhooks()
    await wait_for(lambda: layer.registration.healthy, timeout=8, what="events healthy again")
    assert layer.receiver.stats.registrations > registrations  # registered again while silent
    async with http.get(events_gateway.make_url("/readyz")) as response:
        assert (await response.json())["events"] == {"status": "ok"}


@pytest.mark.parametrize("status", [400, 503])
async def test_a_wep_that_refuses_the_registration_is_retried_and_logged_once(
    emulator, events_config, http, caplog, status
):
    caplog.set_level(logging.INFO, "gateway.events")
    config = dataclasses.replace(events_config, wep=dataclasses.replace(events_config.wep, camera_cache_ttl=30))
    async with running(config) as server:
        layer = server.app[EVENTS]
        await wait_for(lambda: layer.registration.webhook_id, what="first registration")
        layer.registration.webhook_id = None  # register again, now against a refusing WEP
        emulator.fail_next(4, status)
        await wait_for(
            lambda: "webhook registration failed" in (layer.registration.degraded_reason or ""),
            what="the failure reported",
        )
        async with http.get(server.make_url("/readyz")) as response:
            assert (await response.json())["events"]["status"] == "degraded"
        await wait_for(lambda: layer.registration.webhook_id, timeout=15, what="registered after the refusals")
    lines = [r.getMessage() for r in caplog.records if "webhook registration failed" in r.getMessage()]
    assert 1 <= len(lines) <= 2, lines  # one line per distinct cause, not one per retry
    assert str(status) in lines[0]
    assert len(emulator.webhooks) == 0  # deleted at the clean shutdown
