"""Every route the app serves has an access policy; a route without one is refused."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from gateway.auth.policy import DENY, POLICY, Access, rule_for
from gateway.auth.tokens import ACTIONS
from tests.auth.secure import secure_config


def served_routes(app: web.Application) -> set[tuple[str, str]]:
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }


async def test_every_route_has_a_policy_and_every_policy_a_route(emulator):
    from gateway.app import create_app

    app = create_app(secure_config(emulator))
    served = served_routes(app)
    missing = sorted(route for route in served if rule_for(*route) is DENY)
    assert not missing, f"routes without an access policy (add them to gateway/auth/policy.py): {missing}"
    stale = sorted(set(POLICY) - served)
    assert not stale, f"policies for routes the app does not serve: {stale}"


def test_viewer_rules_name_an_action_and_a_camera():
    for (method, path), rule in POLICY.items():
        if rule.access is Access.VIEWER:
            assert rule.action in ACTIONS and "{camera}" in path, (method, path)


async def test_a_route_without_a_policy_is_refused(aiohttp_server, emulator):
    from gateway.app import create_app

    app = create_app(secure_config(emulator))
    reached = []

    async def forgotten(request: web.Request) -> web.Response:
        reached.append(request.path)
        return web.json_response({"secret": "stuff"})

    app.router.add_get("/api/v1/cameras/{camera}/forgotten", forgotten)
    app.router.add_get("/somewhere-new", forgotten)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as http:
        for path in ("/api/v1/cameras/x/forgotten", "/somewhere-new"):
            async with http.get(server.make_url(path)) as response:
                assert response.status == 403
                assert (await response.json())["error"]["message"] == "this route has no access policy"
        async with http.get(server.make_url("/no/such/path")) as response:
            assert response.status == 404
    assert reached == []
