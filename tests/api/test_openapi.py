"""The OpenAPI document tells the truth: every route is in it and everything in it is a route."""

from __future__ import annotations

import aiohttp

from gateway.api.openapi import document
from tests.auth.secure import secure_config
from tests.auth.test_policy import served_routes

METHODS = {"get", "post", "put", "patch", "delete", "options"}


def described(doc: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in item if method in METHODS}


async def test_document_matches_the_router_both_ways(emulator):
    from gateway.app import create_app

    served = served_routes(create_app(secure_config(emulator)))
    doc = document()
    assert not sorted(served - described(doc)), "routes missing from gateway/api/openapi.py"
    assert not sorted(described(doc) - served), "operations in gateway/api/openapi.py that no route serves"


def test_document_is_well_formed():
    doc = document()
    assert doc["openapi"].startswith("3.")
    schemes = set(doc["components"]["securitySchemes"])
    for path, item in doc["paths"].items():
        declared = {p["name"] for p in item.get("parameters", []) if p["in"] == "path"}
        assert declared == {part.split("}")[0] for part in path.split("{")[1:]}, path
        for method, operation in item.items():
            if method not in METHODS:
                continue
            assert operation["responses"], (method, path)
            for requirement in operation["security"]:
                assert set(requirement) <= schemes, (method, path)


async def test_served_at_api_v1(gateway_url):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{gateway_url}/api/v1/openapi.json") as response:
            assert response.status == 200
            assert await response.json() == document()


def test_document_validates_as_openapi_3_1():
    import openapi_spec_validator  # a test extra: ./scripts/test installs it

    openapi_spec_validator.validate(document())
