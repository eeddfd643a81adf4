"""The site's webhooks: their configurations and deliveries, and who gets which event."""

from __future__ import annotations

from gateway.emulator.webhook_config import TopicChoice, Webhook, WebhookChange
from gateway.emulator.webhook_delivery import Courier, WebhookDelivery


class UnknownWebhook(KeyError):
    """No webhook has this id."""


class WebhookRegistry:
    def __init__(self, site_id: str, queue_size: int, verify_tls: bool):
        self._courier = Courier(site_id, verify_tls)
        self._queue_size = queue_size
        self._deliveries: dict[str, WebhookDelivery] = {}

    def add(self, webhook: Webhook) -> Webhook:
        """Register and start delivering (HELLO first); needs the running loop."""
        self._deliveries[webhook.id] = WebhookDelivery(webhook, self._courier, self._queue_size)
        return webhook

    def change(self, change: WebhookChange) -> Webhook:
        delivery = self._delivery(change.id)
        if change.apply(delivery.webhook):
            delivery.reconnect()
        delivery.reconfigured()
        return delivery.webhook

    def get(self, ids: list[str] | None = None) -> list[Webhook]:
        if not ids:
            return [d.webhook for d in self._deliveries.values()]
        return [self._delivery(i).webhook for i in ids]

    async def delete(self, ids: list[str]) -> list[str]:
        """Guide: deleting a webhook already deleted is a success; returns those removed."""
        removed = [self._deliveries.pop(i) for i in ids if i in self._deliveries]
        for delivery in removed:
            await delivery.close()
        return [d.webhook.id for d in removed]

    def publish(self, event: dict) -> None:
        for delivery in self._deliveries.values():
            if delivery.webhook.topics.admits(event["type"]):
                delivery.push(event)

    @property
    def paused(self) -> bool:
        return not self._courier.online.is_set()

    def pause(self) -> None:
        """WEP loses its webhook connections: nothing is posted, pending events are lost."""
        self._courier.online.clear()
        for delivery in self._deliveries.values():
            delivery.lose_pending()

    def resume(self) -> None:
        for delivery in self._deliveries.values():
            delivery.reconnect()
        self._courier.online.set()

    def stats(self) -> dict:
        return {
            "paused": self.paused,
            "total": self._courier.totals.snapshot(),
            "webhooks": {i: {"connected": d.connected, **d.counters.snapshot()} for i, d in self._deliveries.items()},
        }

    async def close(self) -> None:
        await self.delete(list(self._deliveries))
        await self._courier.close()

    def _delivery(self, webhook_id: str) -> WebhookDelivery:
        delivery = self._deliveries.get(webhook_id)
        if delivery is None:
            raise UnknownWebhook(webhook_id)
        return delivery

    def __len__(self) -> int:
        return len(self._deliveries)


def created_answer(webhook: Webhook, choice: TopicChoice | None) -> dict:
    """POST/PUT /webhooks: the webhook as stored and which topics were accepted or rejected
    (guide, "Creating a Webhook")."""
    accepted, rejected = (choice.accepted, choice.rejected) if choice else ([], [])
    return {"webhook": webhook.public(), "accepted": accepted, "rejected": rejected}
