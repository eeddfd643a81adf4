"""The webhook payload, rendered without a network (alarm_action.WebhookAction)."""

from __future__ import annotations

import json

from gateway.emulator.alta.alarm_action import WebhookAction


def test_json_keeps_the_ids_type():
    body, content_type = WebhookAction("http://h/hook").render(3, "303")
    assert content_type == "application/json"
    assert json.loads(body) == {"alarmZoneId": 3, "deviceId": "303"}


def test_form_fields_under_any_keys():
    body, content_type = WebhookAction("http://h/hook", "form", "zone id", "device&id").render(3, 303)
    assert content_type == "application/x-www-form-urlencoded"
    assert body == b"zone+id=3&device%26id=303"
