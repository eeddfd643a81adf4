"""/webhooks, /server/ids, /events/search (guide, "Monitoring Events with Webhooks",
"Event Query API")."""

from __future__ import annotations

from aiohttp import web

from gateway.api.query import is_ascii_digits
from gateway.emulator.access import json_body, query_list, require_session
from gateway.emulator.cameras import SERVER_ID
from gateway.emulator.envelope import WepError, success
from gateway.emulator.event_log import DEFAULT_LIMIT, SERVER_NAME, EventQuery, decode_token, encode_token, parse_iso_ms
from gateway.emulator.state import EMULATOR
from gateway.emulator.webhook_config import new_webhook, webhook_change
from gateway.emulator.webhooks import UnknownWebhook, created_answer

MAX_WEBHOOK_IDS = 16  # guide, GET and DELETE /webhooks: "up to 16 IDs"
QUERY_TYPES = ("TIME_RANGE", "ACTIVE", "CONTINUE")
routes = web.RouteTableDef()


def _webhook_ids(ids) -> list[str]:
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise WepError(400, "ids must be a list of webhook ids")
    if len(ids) > MAX_WEBHOOK_IDS:
        raise WepError(400, f"ids: at most {MAX_WEBHOOK_IDS} webhook ids")
    return ids


@routes.get("/webhooks")
async def get_webhooks(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    require_session(emu.sessions, request)
    ids = _webhook_ids(query_list(request, "ids"))
    try:
        webhooks = emu.site.webhooks.get(ids)
    except UnknownWebhook:
        raise WepError(404, "webhook not found.") from None
    return success({"webhooks": [w.public() for w in webhooks]})


@routes.post("/webhooks")
async def add_webhook(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    body = await json_body(request)
    require_session(emu.sessions, request, body)
    webhook, choice = new_webhook(body)
    emu.site.webhooks.add(webhook)
    return success(created_answer(webhook, choice))


@routes.put("/webhooks")
async def update_webhook(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    body = await json_body(request)
    require_session(emu.sessions, request, body)
    change = webhook_change(body)
    try:
        webhook = emu.site.webhooks.change(change)
    except UnknownWebhook:
        raise WepError(404, "webhook not found.") from None
    return success(created_answer(webhook, change.topics))


@routes.delete("/webhooks")
async def delete_webhooks(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    body = await json_body(request)
    require_session(emu.sessions, request, body)
    await emu.site.webhooks.delete(_webhook_ids(body.get("ids")))
    return success()


@routes.get("/server/ids")
async def server_ids(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    require_session(emu.sessions, request)
    return success({"servers": [{"id": SERVER_ID, "name": SERVER_NAME}]})


def _limit(request: web.Request) -> int | None:
    value = request.query.get("limit")
    if value is None:
        return None
    if not is_ascii_digits(value) or len(value) > 9 or int(value) < 1:
        raise WepError(400, f"limit must be a positive integer, not {value!r}")
    return int(value)


def _time(request: web.Request, name: str) -> int:
    value = request.query.get(name)
    if not value:
        raise WepError(400, f"{name} is required for queryType=TIME_RANGE")
    try:
        return parse_iso_ms(value)
    except ValueError:
        raise WepError(400, f"{name} must be an ISO 8601 time, not {value!r}") from None


def _server(request: web.Request, required: bool) -> None:
    server_id = request.query.get("serverId")
    if not server_id and required:
        raise WepError(400, "serverId is required for queryType=TIME_RANGE (see GET /server/ids)")
    if server_id and server_id != SERVER_ID:
        raise WepError(404, "server not found.")


def _time_range(request: web.Request) -> EventQuery:
    _server(request, required=True)
    from_ms, to_ms = _time(request, "from"), _time(request, "to")
    if to_ms < from_ms:
        raise WepError(400, "to must not be earlier than from")
    limit = _limit(request) or DEFAULT_LIMIT
    return EventQuery(from_ms, to_ms, tuple(query_list(request, "eventTopics")), tuple(query_list(request, "deviceIds")),
                      limit)  # fmt: skip


@routes.get("/events/search")
async def search_events(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    require_session(emu.sessions, request)
    query_type = request.query.get("queryType")
    if query_type not in QUERY_TYPES:
        raise WepError(400, f"queryType must be one of {', '.join(QUERY_TYPES)}, not {query_type!r}")
    if query_type == "ACTIVE":
        _server(request, required=False)
        return success({"events": emu.site.log.active()})
    if query_type == "TIME_RANGE":
        query, after = _time_range(request), 0
    else:
        token = request.query.get("token")
        if not token:
            raise WepError(400, "token is required for queryType=CONTINUE")
        try:
            query, after = decode_token(token)
        except ValueError as exc:
            raise WepError(400, str(exc)) from None
    events, more_after = emu.site.log.search(query, after, _limit(request))
    result: dict = {"events": events}
    if more_after is not None:
        result["token"] = encode_token(query, more_after)
    return success(result)
