"""`/api/admin/v1/...`: the VMS scripts API (reference/vms-scripts-api.txt), served as
written over the rules engine. The admin key, or a token with the `admin` action; anything
else is the seed's 401.

    GET    /api/admin/v1/events          [event type...]  (fixed table, stable ids)
    GET    /api/admin/v1/reactions       [reaction...]
    POST   /api/admin/v1/reactions       {"name", "actions"} -> 201 reaction
    GET    /api/admin/v1/users           [user...]        (token subjects)
    GET    /api/admin/v1/scripts         [script...]
    POST   /api/admin/v1/scripts         {"event_id", "reaction_id", "users", "schedule"} -> 200 script
    GET    /api/admin/v1/scripts/{id}    script
    PUT    /api/admin/v1/scripts/{id}    the same body -> 200 script
    DELETE /api/admin/v1/scripts/{id}    200 {}

A script is a rule (scripts.py): its id is the rule's, it is listed by /api/v1/rules and
fires like any other; the scripts here are the rules made through this API. Bad bodies are
422s naming every bad field, as the seed's Laravel validation answers.
"""

from __future__ import annotations

from aiohttp import web

from gateway.api.bodies import json_object
from gateway.api.errors import ApiError, not_found
from gateway.api.query import ascii_int
from gateway.rules.engine import RuleEngine
from gateway.rules.model import Action, RuleError, RuleSpec, Schedule, parse_actions
from gateway.rules.routes import MAX_RULE_ID, RULES, check_references
from gateway.rules.scripts import (
    EVENT_TYPES,
    EVENTS_BY_ID,
    ScriptError,
    ScriptRequest,
    parse_reaction,
    parse_script,
    reaction_view,
    script_spec,
    script_view,
    user_view,
)
from gateway.rules.store import StoredRule

MAX_BODY = 64 * 1024
_EVENTS = [event.public() for event in EVENT_TYPES]


def _invalid(exc: ScriptError, code: str) -> ApiError:
    return ApiError(422, code, str(exc))


# -- events, reactions, users -------------------------------------------------------------------


async def list_events(request: web.Request) -> web.Response:
    return web.json_response(_EVENTS)


async def list_reactions(request: web.Request) -> web.Response:
    return web.json_response([reaction_view(reaction) for reaction in await request.app[RULES].reactions()])


async def create_reaction(request: web.Request) -> web.Response:
    body = await json_object(request, MAX_BODY)
    try:
        name, actions = parse_reaction(body)
        await _check_clips(request.app, actions)
    except RuleError as exc:
        raise _invalid(ScriptError([exc]), "invalid_reaction") from None
    except ScriptError as exc:
        raise _invalid(exc, "invalid_reaction") from None
    reaction = await request.app[RULES].add_reaction(name, [{action.kind: action.params} for action in actions])
    return web.json_response(reaction_view(reaction), status=201)


async def list_users(request: web.Request) -> web.Response:
    return web.json_response([user_view(user) for user in await request.app[RULES].users()])


# -- scripts ------------------------------------------------------------------------------------


async def _check_clips(app: web.Application, actions: tuple[Action, ...]) -> None:
    """The clips the actions play exist now, as for a rule (RuleError naming the action)."""
    await check_references(app, RuleSpec("", True, (), (), Schedule(), "UTC", 0.0, actions, ()))


async def _rule_of(app: web.Application, script: ScriptRequest, previous: RuleSpec | None = None) -> RuleSpec:
    """The rule a script stands for, once every id it names exists (ScriptError otherwise)."""
    engine = app[RULES]
    problems = []
    if script.event_id not in EVENTS_BY_ID:
        problems.append(RuleError("event_id", f"no event {script.event_id} (GET /api/admin/v1/events lists them)"))
    reaction = await engine.reaction(script.reaction_id)
    if reaction is None:
        problems.append(
            RuleError(
                "reaction_id",
                f"no reaction {script.reaction_id} (GET /api/admin/v1/reactions lists them, POST adds one)",
            )
        )
    users = {user.id: user.subject for user in await engine.users()}
    problems += [
        RuleError("users", f"no user {number} (GET /api/admin/v1/users lists them)")
        for number in script.users
        if number not in users
    ]
    if problems:
        raise ScriptError(problems)
    assert reaction is not None
    try:
        actions = parse_actions(reaction.actions, "actions")
        await _check_clips(app, actions)
    except RuleError as exc:  # a clip deleted since, or saved by an older version: the reaction is at fault
        raise ScriptError([RuleError("reaction_id", f"reaction {reaction.id} cannot be used: {exc}")]) from None
    subjects = tuple(users[number] for number in script.users)
    return script_spec(script, actions, subjects, engine.default_timezone, previous)


def _script(request: web.Request) -> tuple[StoredRule, RuleSpec]:
    """The script of the URL: a rule made through this API (others are not scripts: 404)."""
    found = request.app[RULES].get(ascii_int(request.match_info["id"], "id", 0, MAX_RULE_ID))
    if found is None or found[0].script is None:
        raise not_found("no such script")
    return found


async def _read_script(request: web.Request) -> ScriptRequest:
    body = await json_object(request, MAX_BODY)
    try:
        return parse_script(body)
    except ScriptError as exc:
        raise _invalid(exc, "invalid_script") from None


async def _views(engine: RuleEngine, rules: list[tuple[StoredRule, RuleSpec]]) -> list[dict]:
    reactions = {reaction.id: reaction for reaction in await engine.reactions()}
    users = {user.id: user for user in await engine.users()}
    return [script_view(stored, spec, reactions, users) for stored, spec in rules]


async def list_scripts(request: web.Request) -> web.Response:
    engine = request.app[RULES]
    return web.json_response(await _views(engine, [rule for rule in engine.all() if rule[0].script is not None]))


async def create_script(request: web.Request) -> web.Response:
    script = await _read_script(request)
    engine = request.app[RULES]
    try:
        spec = await _rule_of(request.app, script)
    except ScriptError as exc:
        raise _invalid(exc, "invalid_script") from None
    stored = await engine.add(spec, script.stored())
    [view] = await _views(engine, [(stored, spec)])
    return web.json_response(view)  # the seed answers a new script with 200 OK, not 201


async def get_script(request: web.Request) -> web.Response:
    [view] = await _views(request.app[RULES], [_script(request)])
    return web.json_response(view)


async def put_script(request: web.Request) -> web.Response:
    _, previous = _script(request)
    script = await _read_script(request)
    engine = request.app[RULES]
    try:
        spec = await _rule_of(request.app, script, previous)
    except ScriptError as exc:
        raise _invalid(exc, "invalid_script") from None
    current, _ = _script(request)  # again: it may have been deleted while the body was checked
    stored = await engine.replace(current.id, spec, script.stored())
    [view] = await _views(engine, [(stored, spec)])
    return web.json_response(view)


async def delete_script(request: web.Request) -> web.Response:
    stored, _ = _script(request)
    await request.app[RULES].remove(stored.id)
    # 200 with an empty object rather than 204: the seed's clients read every answer as JSON
    # (Accept: application/json, json_decode of the body), and an empty 204 body is not JSON.
    return web.json_response({})


def add_routes(app: web.Application) -> None:
    # The engine (RULES) is the rules module's: add these after gateway.rules.routes.
    app.router.add_get("/api/admin/v1/events", list_events)
    app.router.add_get("/api/admin/v1/reactions", list_reactions)
    app.router.add_post("/api/admin/v1/reactions", create_reaction)
    app.router.add_get("/api/admin/v1/users", list_users)
    app.router.add_get("/api/admin/v1/scripts", list_scripts)
    app.router.add_post("/api/admin/v1/scripts", create_script)
    app.router.add_get("/api/admin/v1/scripts/{id}", get_script)
    app.router.add_put("/api/admin/v1/scripts/{id}", put_script)
    app.router.add_delete("/api/admin/v1/scripts/{id}", delete_script)
