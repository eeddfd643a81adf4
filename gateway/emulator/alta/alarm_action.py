"""The zones' webhook alarm action: a POST whose payload is what the user typed into the
action, $alarmZoneId and $deviceId under keys of their choosing, as JSON or form fields
(guide, "Verify an ongoing alarm"; its layout is left open, alta-notes.md).

Sent off the request that raised the alarm, with a timeout; every outcome is logged and
kept in `log`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from gateway.emulator.alta.stats import AltaStats
from gateway.emulator.alta.wire import iso

log = logging.getLogger(__name__)
USER_AGENT = "Alta-Alarm-Action/1.0 (wep-gateway emulator)"


@dataclass(frozen=True)
class WebhookAction:
    url: str  # empty: no action configured
    format: str = "json"  # "json" or "form"
    zone_key: str = "alarmZoneId"
    device_key: str = "deviceId"

    def payload(self, zone_id: int | str, device_id: int | str) -> dict:
        return {self.zone_key: zone_id, self.device_key: device_id}

    def render(self, zone_id: int | str, device_id: int | str) -> tuple[bytes, str]:
        """(body, content type). Form fields are strings; JSON keeps the ids' type."""
        payload = self.payload(zone_id, device_id)
        if self.format == "form":
            return urlencode({k: str(v) for k, v in payload.items()}).encode(), "application/x-www-form-urlencoded"
        return json.dumps(payload).encode(), "application/json"


class WebhookSender:
    def __init__(self, timeout: float, verify_tls: bool, stats: AltaStats):
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.verify_tls = verify_tls
        self.stats = stats
        self.log: list[dict] = []  # every post, in the order they finished
        self._tasks: set[asyncio.Task] = set()
        self._session: aiohttp.ClientSession | None = None

    def send(self, action: WebhookAction, zone_id: int | str, device_id: int | str, alert_guid: str) -> None:
        """Post in the background; must be called on the event loop."""
        task = asyncio.get_running_loop().create_task(self._post(action, zone_id, device_id, alert_guid))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, action: WebhookAction, zone_id: int | str, device_id: int | str, alert_guid: str) -> None:
        body, content_type = action.render(zone_id, device_id)
        entry: dict[str, Any] = {"url": action.url, "format": action.format, "payload": action.payload(zone_id, device_id),
                 "body": body.decode(), "alert_guid": alert_guid, "sent_at": iso(time.time()),
                 "status": None, "error": None}  # fmt: skip
        started = time.monotonic()
        headers = {"Content-Type": content_type, "User-Agent": USER_AGENT}
        try:
            async with self._client().post(action.url, data=body, headers=headers) as resp:
                await resp.read()
                entry["status"] = resp.status
        except TimeoutError:
            entry["error"] = f"no answer in {self.timeout.total} s"
        except aiohttp.ClientError as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}".rstrip(": ")
        entry["duration_s"] = round(time.monotonic() - started, 3)
        ok = entry["status"] is not None and 200 <= entry["status"] < 300
        if ok:
            self.stats.webhooks_sent += 1
            log.info("alta webhook for alert %s: %s answered %d", alert_guid, action.url, entry["status"])
        else:
            self.stats.webhook_failures += 1
            log.warning("alta webhook for alert %s to %s failed: %s", alert_guid, action.url,
                        entry["error"] or f"HTTP {entry['status']}")  # fmt: skip
        self.log.append(entry)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:  # made on first use, inside the running loop
            connector = aiohttp.TCPConnector(ssl=self.verify_tls)  # True: aiohttp's default verification
            self._session = aiohttp.ClientSession(connector=connector, timeout=self.timeout)
        return self._session

    async def drain(self) -> None:
        """Until every post started so far has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
