"""WEP's event, webhook and alarm routes (guide: "Monitoring Events with Webhooks", "Event
Query API", /webhooks, /events/search, /server/ids, /alarms, /alarm), on the shared client.

The guide documents most of these answers only as `"string"`, so they are read tolerantly:
a list may sit under one of a few names or be the result itself, an id may be a number.
What cannot be read is a WepUnavailable naming the route, never a crash.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gateway.wep.answers import WepCall
from gateway.wep.client import WepClient
from gateway.wep.errors import WepUnavailable

# Guide, DELETE/GET /webhooks: "Enter up to 16 IDs."
MAX_WEBHOOK_IDS = 16


@dataclass(frozen=True)
class EventPage:
    """One page of /events/search: the events, and the CONTINUE token while more remain."""

    events: list[dict]
    token: str | None


class WepEventsApi:
    def __init__(self, client: WepClient):
        self.client = client

    # -- webhooks ------------------------------------------------------------------------------

    async def webhooks(self) -> list[dict]:
        result = await self.client.call(WepCall("GET", "/webhooks", "webhooks.list"))
        return _dicts(result, ("webhooks", "webhook"), "GET /webhooks")

    async def create_webhook(self, webhook: dict) -> str | None:
        """POST /webhooks; the new webhook's id when the answer names it."""
        call = WepCall(
            "POST",
            "/webhooks",
            "webhooks.create",
            body={"webhook": webhook},
            session_in_query=False,
            session_in_body=True,
        )
        return _webhook_id(await self.client.call(call))

    async def update_webhook(self, webhook: dict) -> None:
        """PUT /webhooks: `webhook` carries its "id" and the fields to change."""
        call = WepCall(
            "PUT",
            "/webhooks",
            "webhooks.update",
            body={"webhook": webhook},
            session_in_query=False,
            session_in_body=True,
        )
        await self.client.call(call, result=False)

    async def delete_webhooks(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        for start in range(0, len(ids), MAX_WEBHOOK_IDS):
            call = WepCall(
                "DELETE",
                "/webhooks",
                "webhooks.delete",
                body={"ids": ids[start : start + MAX_WEBHOOK_IDS]},
                session_in_query=False,
                session_in_body=True,
            )
            await self.client.call(call, result=False)

    # -- events --------------------------------------------------------------------------------

    async def server_ids(self) -> list[str]:
        """GET /server/ids: every server of the site (each is searched on its own, guide)."""
        result = await self.client.call(WepCall("GET", "/server/ids", "server.ids"))
        items = result
        if isinstance(result, dict):
            items = next(
                (result[key] for key in ("servers", "serverIds", "ids") if isinstance(result.get(key), list)), None
            )
        if not isinstance(items, list):
            raise WepUnavailable(502, None, "BAD_RESPONSE", "GET /server/ids: result has no server list")
        ids = [str(item.get("id")) if isinstance(item, dict) else str(item) for item in items]
        return [server_id for server_id in ids if server_id and server_id != "None"]

    async def search(
        self,
        server_id: str,
        start: str,
        end: str,
        *,
        topics: Iterable[str] = (),
        device_ids: Iterable[str] = (),
        limit: int | None = None,
    ) -> EventPage:
        """GET /events/search?queryType=TIME_RANGE: events of one server between two ISO times."""
        params = [("queryType", "TIME_RANGE"), ("serverId", server_id), ("from", start), ("to", end)]
        params += [("eventTopics", topic) for topic in topics]
        params += [("deviceIds", device) for device in device_ids]
        if limit is not None:
            params.append(("limit", str(limit)))
        return _page(await self.client.call(WepCall("GET", "/events/search", "events.search", tuple(params))))

    async def search_more(self, token: str, limit: int | None = None) -> EventPage:
        """The next page of a search (queryType=CONTINUE)."""
        params = [("queryType", "CONTINUE"), ("token", token)]
        if limit is not None:
            params.append(("limit", str(limit)))
        return _page(await self.client.call(WepCall("GET", "/events/search", "events.search", tuple(params))))

    # -- alarms --------------------------------------------------------------------------------

    async def alarms(self) -> list[dict]:
        result = await self.client.call(WepCall("GET", "/alarms", "alarms"))
        return _dicts(result, ("alarms", "alarm"), "GET /alarms")

    async def update_alarm(self, alarm_id: str, action: str, note: str | None) -> None:
        """PUT /alarm: "Claim, acknowledge, trigger, or dismiss an alarm", with a note."""
        body: dict[str, Any] = {"id": alarm_id, "action": action}
        if note:
            body["note"] = note
        call = WepCall("PUT", "/alarm", "alarm.update", body=body, session_in_query=False, session_in_body=True)
        await self.client.call(call, result=False)


def _dicts(result: Any, keys: tuple[str, ...], context: str) -> list[dict]:
    if isinstance(result, dict):
        found = next((result[key] for key in keys if key in result), None)
        if isinstance(found, dict):
            return [found]
        result = found
    if not isinstance(result, list):
        raise WepUnavailable(502, None, "BAD_RESPONSE", f"{context}: result has no {keys[0]} list")
    return [item for item in result if isinstance(item, dict)]


def _webhook_id(result: Any) -> str | None:
    for holder in (result.get("webhook") if isinstance(result, dict) else None, result):
        if isinstance(holder, dict):
            for key in ("id", "webhookId"):
                if isinstance(holder.get(key), (str, int)) and not isinstance(holder.get(key), bool):
                    return str(holder[key])
    return None


def _page(result: Any) -> EventPage:
    events = _dicts(result, ("events",), "GET /events/search")
    token = result.get("token") if isinstance(result, dict) else None
    return EventPage(events, token if isinstance(token, str) and token else None)
