"""The OpenAPI document tells the truth: every route is in it and everything in it is a route."""

from __future__ import annotations

import aiohttp

from gateway.api.openapi import document
from tests.api.openapi_refs import resolve_ref
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
    async with aiohttp.ClientSession() as http, http.get(f"{gateway_url}/api/v1/openapi.json") as response:
        assert response.status == 200
        assert await response.json() == document()


# Webhooks read what their senders post tolerantly: other fields are ignored, not refused.
TOLERANT_BODIES = {("POST", "/wep/webhook"), ("POST", "/alta/webhook/{secret}")}


def test_every_status_is_listed_and_every_json_body_says_what_it_takes():
    """What schemathesis (tests/api/schemathesis_run.py) relies on: each answer listed by its
    status (no 4XX or default to hide one behind), errors in the one JSON shape, a 503 everywhere
    (the request timeout) and each JSON body closed to the fields its handler refuses, with 413."""
    doc = document()
    error = {"$ref": "#/components/schemas/Error"}
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            where = (method.upper(), path)
            for status, answer in operation["responses"].items():
                assert status.isdigit(), where
                answer = resolve_ref(doc, answer)
                json_schema = answer.get("content", {}).get("application/json", {}).get("schema")
                if int(status) >= 400 and json_schema is not None:
                    assert json_schema == error or error in json_schema.get("anyOf", []), (where, status)
            assert "503" in operation["responses"], where  # the request timeout and the viewer limits
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is None or where in TOLERANT_BODIES:
                continue
            schema = resolve_ref(doc, body["schema"])
            assert schema["additionalProperties"] is False, where
            assert "413" in operation["responses"], where


def test_a_token_request_needs_only_cameras():
    schema = document()["components"]["schemas"]["TokenRequest"]
    assert schema["required"] == ["cameras"]
    assert schema["properties"]["actions"]["default"] == ["view"]


def test_document_validates_as_openapi_3_1():
    import openapi_spec_validator  # a test extra: ./scripts/test installs it

    openapi_spec_validator.validate(document())
