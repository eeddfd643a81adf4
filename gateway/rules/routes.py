"""`/api/v1/rules` (admin): the automation rules, and each one's firing history.

    GET    /api/v1/rules                      {"rules": [rule...]}
    POST   /api/v1/rules                      rule body -> 201 rule (Location)
    GET    /api/v1/rules/{id}                 rule, with its counters
    PUT    /api/v1/rules/{id}                 the whole rule again -> rule
    DELETE /api/v1/rules/{id}                 204
    GET    /api/v1/rules/{id}/history?limit=  {"rule", "firings": [newest first]}

A rule answered here never holds a webhook secret (`"********"`; sent back unchanged by a
PUT, the stored one stays). Besides the body's own checks (model.py), the cameras and
clips a rule names must exist when it is saved: a typo is a 400 now, not a silent rule.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.api.bodies import json_object
from gateway.api.errors import ApiError, not_found
from gateway.api.query import ascii_int
from gateway.cluster.firings import FiringGate
from gateway.events.model import iso_at
from gateway.rules.actions import Reactions
from gateway.rules.engine import RuleEngine
from gateway.rules.model import RuleError, RuleSpec, parse_rule
from gateway.rules.store import RuleStore, StoredRule
from gateway.rules.webhook_out import WebhookSender
from gateway.services import CAMERAS, CLUSTER, CONFIG

log = logging.getLogger("gateway.rules")

RULES = web.AppKey("rules", RuleEngine)
MAX_BODY = 64 * 1024
DEFAULT_HISTORY = 100
MAX_RULE_ID = 2**63 - 1  # SQLite's INTEGER PRIMARY KEY


def invalid(exc: RuleError) -> ApiError:
    return ApiError(400, "invalid_rule", str(exc))


async def check_references(app: web.Application, spec: RuleSpec) -> None:
    """The cameras and clips a rule names exist (RuleError naming the field otherwise)."""
    from gateway.rules.clip_routes import CLIPS

    known = {camera.id for camera in await app[CAMERAS].all()}
    for index, camera in enumerate(spec.cameras):
        if camera not in known:
            raise RuleError(f"when.cameras[{index}]", f"no camera {camera!r}")
    for index, action in enumerate(spec.actions):
        if action.kind == "talkdown" and await app[CLIPS].resolve(action.params["clip"]) is None:
            raise RuleError(
                f"actions[{index}].talkdown.clip",
                f"no clip {action.params['clip']!r} (upload it with POST /api/v1/clips)",
            )


def rule_view(engine: RuleEngine, stored: StoredRule, spec: RuleSpec) -> dict:
    stats = engine.rule_stats.get(stored.id)
    return {
        "id": stored.id,
        **spec.public(),
        "created_at": iso_at(stored.created_at),
        "updated_at": iso_at(stored.updated_at),
        "stats": stats.public() if stats is not None else None,
    }


async def read_rule(request: web.Request) -> RuleSpec:
    body = await json_object(request, MAX_BODY)
    engine = request.app[RULES]
    try:
        spec = parse_rule(body, engine.default_timezone)
        await check_references(request.app, spec)
    except RuleError as exc:
        raise invalid(exc) from None
    return spec


def rule_id(request: web.Request) -> int:
    number = ascii_int(request.match_info["id"], "id", 0, MAX_RULE_ID)
    if request.app[RULES].get(number) is None:
        raise not_found("no such rule")
    return number


async def list_rules(request: web.Request) -> web.Response:
    engine = request.app[RULES]
    return web.json_response({"rules": [rule_view(engine, stored, spec) for stored, spec in engine.all()]})


async def create_rule(request: web.Request) -> web.Response:
    spec = await read_rule(request)
    engine = request.app[RULES]
    stored = await engine.add(spec)
    return web.json_response(
        rule_view(engine, stored, spec), status=201, headers={"Location": f"/api/v1/rules/{stored.id}"}
    )


async def get_rule(request: web.Request) -> web.Response:
    engine = request.app[RULES]
    stored, spec = engine.get(rule_id(request))  # type: ignore[misc]
    return web.json_response(rule_view(engine, stored, spec))


async def put_rule(request: web.Request) -> web.Response:
    number = rule_id(request)
    engine = request.app[RULES]
    spec = await read_rule(request)
    previous_stored, previous = engine.get(number)  # type: ignore[misc]
    try:
        spec = spec.keeping_secrets_of(previous)
    except RuleError as exc:
        raise invalid(exc) from None
    stored = await engine.replace(number, spec, previous_stored.script)
    return web.json_response(rule_view(engine, stored, spec))


async def delete_rule(request: web.Request) -> web.Response:
    await request.app[RULES].remove(rule_id(request))
    return web.Response(status=204)


async def rule_history(request: web.Request) -> web.Response:
    limit = ascii_int(request.query.get("limit", str(DEFAULT_HISTORY)), "limit", 1, 1000)  # 400 before 404
    number = rule_id(request)
    firings = await request.app[RULES].history(number, limit)
    return web.json_response({"rule": number, "firings": firings})


async def _rules_service(app: web.Application) -> AsyncIterator[None]:
    from gateway.events.service import EVENTS

    config = app[CONFIG]
    settings = config.rules
    store = RuleStore(config.pushes.db_path, settings.history_days * 86400, settings.history_per_rule)
    webhooks = WebhookSender(settings.webhook_in_flight, settings.webhook_attempts, settings.webhook_timeout_s)
    events = app.get(EVENTS)
    engine = RuleEngine(
        store,
        Reactions(app, webhooks),
        events.bus if events is not None else None,
        action_timeout=settings.action_timeout_s,
        default_timezone=settings.timezone,
    )
    app[RULES] = engine
    if CLUSTER in app:
        engine.gate = FiringGate(app[CLUSTER])
    loaded = await engine.load()
    if loaded:
        log.info("%d rule(s) loaded", loaded)
    try:
        yield
    finally:
        await engine.close()
        await webhooks.close()
        store.close()


def add_routes(app: web.Application) -> None:
    # After the events layer, the talk sessions, the pushes and the links in cleanup_ctx:
    # the engine listens to the bus and acts through them.
    app.cleanup_ctx.append(_rules_service)
    app.router.add_get("/api/v1/rules", list_rules)
    app.router.add_post("/api/v1/rules", create_rule)
    app.router.add_get("/api/v1/rules/{id}", get_rule)
    app.router.add_put("/api/v1/rules/{id}", put_rule)
    app.router.add_delete("/api/v1/rules/{id}", delete_rule)
    app.router.add_get("/api/v1/rules/{id}/history", rule_history)
