"""Reading the gateway's OpenAPI document in tests."""

from __future__ import annotations


def resolve_ref(doc: dict, node: dict) -> dict:
    """`node`, or what its `$ref` (local, "#/...") points to, followed until it is no ref."""
    while "$ref" in node:
        target = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node
