"""Our one webhook on WEP, kept registered and watched.

At start (WEP logged in, retried with backoff until it works) the gateway looks for a
webhook pointing at its own URL (`GET /webhooks`): it updates that one (`PUT`) and deletes
any other copy, or creates one (`POST`), so restarts never pile webhooks up. Each
registration carries a fresh random token (webhook_auth.new_token). A clean shutdown
deletes it.

Heartbeats are asked for every `heartbeat_ms`; WEP sends one that long after its last post.
Silence for three periods means the webhook is lost (WEP restarted and forgot it, a proxy
dropped us): events are reported degraded (`/readyz`, `wepgw_events_webhook_up`), the
webhook is registered again, and once posts come back the gap is searched.

In a cluster each node registers its own webhook at its own `public_url`, and WEP posts
every event to every node (`cluster`, gateway/cluster/events.py NodeWebhooks):
- Two nodes given one URL (the edge's, say) would each replace the other's token and refuse
  the posts the edge sent them, so a node first claims its URL; a node whose URL another
  node holds registers nothing and says why in /readyz.
- A node that died without deleting its webhook leaves WEP posting to nobody: each
  registration deletes the webhooks of cluster nodes that are gone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

from gateway.backends.base import UpstreamFailure
from gateway.events import webhook_auth
from gateway.events.model import TopicFilter
from gateway.events.receiver import WebhookReceiver
from gateway.events.stats import WebhookStats
from gateway.wep.events_api import WepEventsApi

log = logging.getLogger("gateway.events")

WEBHOOK_PATH = "/wep/webhook"
MISSED_HEARTBEATS = 3
RETRY_INITIAL, RETRY_MAX = 1.0, 60.0
DELETE_TIMEOUT = 2.0
# Claims refused in a row before the URL is reported taken: a node restarting under a new
# id waits out its previous process's claim (a lease of [cluster] lease_ms) in silence.
CLAIM_PATIENCE = 4  # refused at 0, 1, 3 and 7 s: past a default 3 s lease with room to spare


class ClusterWebhooks(Protocol):
    async def claim(self, url: str) -> str | None: ...

    async def stale(self, urls: list[str]) -> list[str]: ...

    async def forget(self, urls: list[str]) -> None: ...


class WebhookRegistration:
    def __init__(
        self,
        api: WepEventsApi,
        receiver: WebhookReceiver,
        topics: TopicFilter,
        public_url: str,
        heartbeat_ms: int,
        stats: WebhookStats,
        on_recovered: Callable[[float], None],
        cluster: ClusterWebhooks | None = None,
    ):
        self.url = public_url.rstrip("/") + WEBHOOK_PATH
        self._cluster = cluster
        self.webhook_id: str | None = None
        self.degraded_reason: str | None = "webhook not registered yet"
        self._api = api
        self._receiver = receiver
        self._topics = topics
        self._heartbeat = heartbeat_ms / 1000
        self._stats = stats
        self._on_recovered = on_recovered  # posts are back after a silence: search the gap
        self._registered_at = 0.0  # monotonic
        self._silent_since: float | None = None  # wall-clock time of the last post before a silence
        receiver.add_message_listener(self._message)

    @property
    def healthy(self) -> bool:
        return self.degraded_reason is None

    def _message(self) -> None:
        if self._silent_since is not None:
            log.info("webhook posts are back: events healthy again")
            since, self._silent_since = self._silent_since, None
            self._on_recovered(since)
        if self.webhook_id is not None:
            self.degraded_reason = None

    async def run(self) -> None:
        """Register, then watch the heartbeats; forever (cancelled at shutdown)."""
        delay, last_error, refused = RETRY_INITIAL, None, 0
        while True:
            if self.webhook_id is None:
                conflict = await self._cluster.claim(self.url) if self._cluster is not None else None
                if conflict is not None:
                    refused += 1
                    if refused == CLAIM_PATIENCE:
                        log.error("%s: no webhook registered", conflict)
                        self.degraded_reason = conflict
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX)
                    continue
                refused = 0
                try:
                    await self.register()
                    delay, last_error = RETRY_INITIAL, None
                except UpstreamFailure as exc:
                    if str(exc) != last_error:  # one line per distinct cause, not per retry
                        log.warning(
                            "WEP webhook registration failed (%s); retrying (every %.0f s at most)", exc, RETRY_MAX
                        )
                        last_error = str(exc)
                    self.degraded_reason = f"webhook registration failed: {exc}"
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX)
                    continue
            await asyncio.sleep(min(self._heartbeat / 2, 5.0))
            self._check_heartbeats()

    def _check_heartbeats(self) -> None:
        last = self._receiver.last_message
        heard = max(last or 0.0, time.time() - (time.monotonic() - self._registered_at))
        silence = time.time() - heard
        if silence <= MISSED_HEARTBEATS * self._heartbeat:
            return
        self._stats.degraded_spells += 1
        self.degraded_reason = f"no webhook post from WEP for {silence:.0f} s ({MISSED_HEARTBEATS} heartbeats missed)"
        log.warning("%s: registering the webhook again", self.degraded_reason)
        if self._silent_since is None:
            self._silent_since = heard
        self.webhook_id = None  # the loop registers again

    async def register(self) -> None:
        token = webhook_auth.new_token()
        webhook = {
            "url": self.url,
            "heartbeat": {"enable": True, "frequencyMs": int(self._heartbeat * 1000)},
            "authenticationToken": token,
            "eventTopics": self._topics.wep(),
        }
        found = await self._api.webhooks()
        ours = [hook for hook in found if _same_url(hook.get("url"), self.url)]
        if self._cluster is not None:
            await self._delete_stale(
                self._cluster, [hook for hook in found if not _same_url(hook.get("url"), self.url)]
            )
        # Before the request: WEP may post (HELLO) before its answer reaches us.
        self._receiver.set_token(token)
        if ours:
            webhook_id: str | None = str(ours[0].get("id"))
            await self._api.update_webhook({"id": webhook_id, **webhook})
            extra = [str(hook.get("id")) for hook in ours[1:]]
            if extra:
                await self._api.delete_webhooks(extra)
                log.info("deleted %d extra webhook(s) of ours on WEP", len(extra))
            action = "updated"
        else:
            webhook_id = await self._api.create_webhook(webhook)
            if webhook_id is None:  # the answer did not name it: find it by its URL
                found = [hook for hook in await self._api.webhooks() if _same_url(hook.get("url"), self.url)]
                webhook_id = str(found[0].get("id")) if found else None
            action = "created"
        self.webhook_id = webhook_id or ""
        self._registered_at = time.monotonic()
        self._stats.registrations += 1
        if self._silent_since is None and self.degraded_reason is not None:
            self.degraded_reason = None
        log.info(
            "WEP webhook %s for %s (heartbeat every %.0f s, topics %s)",
            action,
            self.url,
            self._heartbeat,
            self._topics.wep(),
        )

    async def _delete_stale(self, cluster: ClusterWebhooks, others: list[dict]) -> None:
        """Delete the webhooks of cluster nodes that are gone (best effort: a failure waits
        for the next registration)."""
        gone = await cluster.stale([str(hook.get("url")) for hook in others])
        ids = [str(hook.get("id")) for hook in others if str(hook.get("url")) in gone]
        if not ids:
            return
        try:
            await self._api.delete_webhooks(ids)
        except UpstreamFailure as exc:
            log.warning("webhook(s) of cluster nodes that are gone not deleted (%s): %s", exc, ", ".join(sorted(gone)))
            return
        await cluster.forget(gone)
        log.info("deleted %d webhook(s) of cluster nodes that are gone: %s", len(ids), ", ".join(sorted(gone)))

    async def unregister(self) -> None:
        """Delete our webhook (clean shutdown); bounded, best effort."""
        if not self.webhook_id:
            return
        try:
            async with asyncio.timeout(DELETE_TIMEOUT):
                await self._api.delete_webhooks([self.webhook_id])
            log.info("WEP webhook deleted")
        except (UpstreamFailure, TimeoutError) as exc:
            log.warning("WEP webhook not deleted (%s): it is reused at the next start", exc or "timeout")
        self.webhook_id = None


def _same_url(found: object, ours: str) -> bool:
    return isinstance(found, str) and found.rstrip("/") == ours.rstrip("/")
