"""A webhook's configuration and the checks on POST/PUT /webhooks bodies (guide,
"General Webhook Configuration Format"). Every failure is a 400 naming the field.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass

from yarl import URL

from gateway.emulator.envelope import WepError
from gateway.emulator.topics import FILTER_MODES, TopicFilter, split_known

DEFAULT_HEARTBEAT_MS = 3_600_000  # guide: "If enabled, unless specified, frequencyMs will be defaulted to 1 hour"
MIN_TOKEN_BYTES = 16  # guide: "at least 16 bytes of secure, randomly generated data, Base-64 encoded"


@dataclass
class Webhook:
    id: str
    url: str
    authentication_token: str  # never shown back: public() leaves it out
    topics: TopicFilter
    heartbeat_ms: int | None = None  # None: heartbeat off

    def public(self) -> dict:
        heartbeat: dict = {"enable": self.heartbeat_ms is not None}
        if self.heartbeat_ms is not None:
            heartbeat["frequencyMs"] = self.heartbeat_ms
        return {"id": self.id, "url": self.url, "heartbeat": heartbeat, "eventTopics": self.topics.to_json()}


@dataclass(frozen=True, slots=True)
class TopicChoice:
    topics: TopicFilter
    accepted: list[str]
    rejected: list[str]


def parse_url(value) -> str:
    url = URL(value) if isinstance(value, str) else None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise WepError(400, "webhook.url must be an http:// or https:// URL")
    return value


def parse_token(value) -> str:
    try:
        raw = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) < MIN_TOKEN_BYTES:
        raise WepError(400, f"webhook.authenticationToken must be base64 of at least {MIN_TOKEN_BYTES} bytes")
    return value


def parse_heartbeat(value) -> int | None:
    """The heartbeat period in ms, or None when off; {"enable": false} clears frequencyMs
    (guide, "Updating a Webhook")."""
    if not isinstance(value, dict) or not isinstance(value.get("enable"), bool):
        raise WepError(400, "webhook.heartbeat.enable must be true or false")
    if not value["enable"]:
        return None
    frequency = value.get("frequencyMs", DEFAULT_HEARTBEAT_MS)
    if isinstance(frequency, bool) or not isinstance(frequency, int) or frequency <= 0:
        raise WepError(400, "webhook.heartbeat.frequencyMs must be a positive integer")
    return frequency


def parse_topics(value) -> TopicChoice:
    modes = [mode for mode in FILTER_MODES if isinstance(value, dict) and mode in value]
    if len(modes) != 1:
        raise WepError(400, "webhook.eventTopics must have exactly one of whitelist or blacklist")
    mode = modes[0]
    entries = value[mode]
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise WepError(400, f"webhook.eventTopics.{mode} must be a list of strings")
    accepted, rejected = split_known(entries)
    return TopicChoice(TopicFilter(mode, tuple(accepted)), accepted, rejected)


def _spec(body: dict) -> dict:
    spec = body.get("webhook")
    if not isinstance(spec, dict):
        raise WepError(400, "webhook is required")
    return spec


def new_webhook(body: dict) -> tuple[Webhook, TopicChoice]:
    spec = _spec(body)
    for name in ("url", "authenticationToken", "eventTopics"):
        if name not in spec:
            raise WepError(400, f"webhook.{name} is required")
    url = parse_url(spec["url"])
    token = parse_token(spec["authenticationToken"])
    heartbeat = parse_heartbeat(spec["heartbeat"]) if "heartbeat" in spec else None
    choice = parse_topics(spec["eventTopics"])
    return Webhook(secrets.token_urlsafe(8), url, token, choice.topics, heartbeat), choice


@dataclass(frozen=True, slots=True)
class WebhookChange:
    """A checked PUT /webhooks body: only the fields given change."""

    id: str
    url: str | None = None
    authentication_token: str | None = None
    heartbeat: tuple[int | None] | None = None  # (period or None,) when given
    topics: TopicChoice | None = None

    def apply(self, webhook: Webhook) -> bool:
        """Change `webhook`; True when its url changed (a new receiver is greeted with HELLO)."""
        moved = self.url is not None and self.url != webhook.url
        if self.url is not None:
            webhook.url = self.url
        if self.authentication_token is not None:
            webhook.authentication_token = self.authentication_token
        if self.heartbeat is not None:
            webhook.heartbeat_ms = self.heartbeat[0]
        if self.topics is not None:
            webhook.topics = self.topics.topics
        return moved


def webhook_change(body: dict) -> WebhookChange:
    spec = _spec(body)
    webhook_id = spec.get("id")
    if not isinstance(webhook_id, str) or not webhook_id:
        raise WepError(400, "webhook.id is required")
    return WebhookChange(
        webhook_id,
        url=parse_url(spec["url"]) if "url" in spec else None,
        authentication_token=parse_token(spec["authenticationToken"]) if "authenticationToken" in spec else None,
        heartbeat=(parse_heartbeat(spec["heartbeat"]),) if "heartbeat" in spec else None,
        topics=parse_topics(spec["eventTopics"]) if "eventTopics" in spec else None,
    )
