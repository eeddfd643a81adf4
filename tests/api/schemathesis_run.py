"""Schemathesis against the running gateway: every operation of /api/v1/openapi.json, with
a viewer token and with the admin key, checked for server errors and for answers the
description does not list (status, content type, body schema). `./scripts/test` runs it
before pytest; alone: `.venv/bin/python -m tests.api.schemathesis_run [-n EXAMPLES]`.

The gateway (access control on) fronts a WEP emulator with a PTZ camera and an Alta
emulator, all on 127.0.0.1. Generated cases name a real camera half the time (a schemathesis
dictionary, for path parameters and bodies alike), so the 200 answers are checked as well as
the refusals. Every destination a generated body names (a push's RTMP URL, a rule's push and
webhook actions) is pointed at a closed port on 127.0.0.1 (schemathesis_hooks.py): nothing
generated leaves the machine, which `check_destinations` confirms after the run.

Streams: schemathesis reads /api/v1/events/stream (SSE) for at most one event or one second
(`max-stream-events`, `request-timeout`; fewer examples, as each may take that second),
checking each event it gets against the description; `check_event` reads one real event (an
Alta alarm raised for it) and checks its data too.

Two routes are left out of generation because a good request never ends and is no event
stream schemathesis can cut: /live/{camera}.mp4 (video until the client leaves) and
/g/{id}/state (a guest page's state, newline-delimited JSON until the link ends).
`check_streams` asks them bounded questions instead, validated against the same description:
the status, content type and first bytes of a good request, and the error bodies of bad ones.
Blocking HLS reloads end by themselves ([hls] blocking_timeout, 1 s here).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import jsonschema

from gateway.api.openapi import document
from gateway.config import AltaConfig, Config
from gateway.emulator.alta import AltaEmulator, AltaSettings
from gateway.emulator.server import Emulator
from gateway.emulator.settings import EmulatorSettings
from tests.api.openapi_refs import resolve_ref
from tests.conftest import TEST_EMULATOR, serving

ADMIN_KEY = "admin-key-for-schemathesis-0123456789"
TOKEN_SECRET = "token-secret-for-schemathesis-0123456789abcdef"
ALTA_SECRET = "alta-webhook-secret-for-schemathesis"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
# Answers that never end on a good request: checked by check_streams instead.
STREAMS = ("/live/{camera}.mp4", "/g/{id}/state")
# A viewer: every action but `admin` (the scripts API is the admin key's, or an integration's).
VIEWER_ACTIONS = ["view", "talk", "snapshot", "alarms", "ptz", "outputs", "record", "share"]
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
RUN_TIMEOUT = 600  # seconds for one credential's run; about 55 s is usual on a 2-core machine


def gateway_config(emulator: Emulator, alta: AltaEmulator, work: Path, port: int) -> Config:
    settings, base = emulator.settings, Config()
    return dataclasses.replace(
        base,
        events=dataclasses.replace(base.events, public_url=f"http://127.0.0.1:{port}"),  # WEP's webhook is on
        wep=dataclasses.replace(
            base.wep,
            url=emulator.url,
            username=settings.username,
            password=settings.password,
            user_nonce=settings.user_nonce,
            user_key=settings.user_key,
        ),
        auth=dataclasses.replace(base.auth, viewer_auth=True, admin_key=ADMIN_KEY, token_secret=TOKEN_SECRET),
        hls=dataclasses.replace(base.hls, blocking_timeout=1.0),
        sources=dataclasses.replace(base.sources, idle_close_after=2.0, stall_timeout=3.0),
        pushes=dataclasses.replace(base.pushes, db_path=str(work / "gateway.sqlite3")),
        rules=dataclasses.replace(
            base.rules, clips_dir=str(work / "clips"), snapshots_dir=str(work / "rule-snapshots")
        ),
        limits=dataclasses.replace(base.limits, request_timeout=10.0),
        alta=AltaConfig(
            url=alta.url, username=alta.settings.username, password=alta.settings.password, webhook_secret=ALTA_SECRET
        ),
    )


def schemathesis_toml(cameras: list[str], alarms: list[str]) -> str:
    """Half the generated cameras (a path's {camera}, a push's or a link's body), alarm ids and
    Alta webhook secrets are real ones; the SSE stream is read for one event or one second."""
    return f"""
[dictionaries.cameras]
values = {json.dumps(cameras)}
[dictionaries.alarms]
values = {json.dumps(alarms)}
[dictionaries.secrets]
values = {json.dumps([ALTA_SECRET])}

[parameters]
"path.camera" = {{ dictionary = "cameras", probability = 0.5 }}
"body.camera" = {{ dictionary = "cameras", probability = 0.5 }}
"path.secret" = {{ dictionary = "secrets", probability = 0.5 }}

[[operations]]
include-path-regex = "^/api/v1/alarms/"
parameters = {{ "path.id" = {{ dictionary = "alarms", probability = 0.5 }} }}

[[operations]]
include-path = "/api/v1/events/stream"
request-timeout = 1
max-stream-events = 1
generation = {{ max-examples = 5 }}
"""


async def run_schemathesis(base: str, work: Path, credential: str, args: argparse.Namespace) -> int:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(work / "schemathesis.toml"),
        "run",
        f"{base}/api/v1/openapi.json",
        "--url",
        base,
        "--checks",
        CHECKS,
        "--header",
        f"Authorization: Bearer {credential}",
        "--max-examples",
        str(args.max_examples),
        "--seed",
        str(args.seed),
        "--generation-database",
        "none",
        "--request-timeout",
        "15",
        "--workers",
        "1",
        "--no-color",
        "--suppress-health-check",
        "all",
        *[option for path in STREAMS for option in ("--exclude-path", path)],
    ]
    # One worker: with two threads, hypothesis describing filters runs ast.parse in both at once,
    # which CPython 3.11 can fail with "SystemError: AST constructor recursion depth mismatch"
    # (python/cpython#106905). In `work`: schemathesis keeps its crash cache under the working
    # directory.
    process = await asyncio.create_subprocess_exec(
        *command, cwd=work, env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)}
    )
    try:
        return await asyncio.wait_for(process.wait(), RUN_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        print(f"schemathesis_run: no end after {RUN_TIMEOUT} s: stopped", file=sys.stderr)
        return 1


def free_port() -> int:
    """A port for the gateway known before it starts: WEP's webhook is registered with it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def main(args: argparse.Namespace) -> int:
    failed, problems = [], []
    with tempfile.TemporaryDirectory(prefix="wepgw-schemathesis-") as tmp:
        work = Path(tmp)
        emulator = Emulator(
            EmulatorSettings(host="127.0.0.1", port=0, cache_dir=str(work / "cache"), ptz_camera=1, **TEST_EMULATOR)
        )
        alta = AltaEmulator(AltaSettings())
        await emulator.start()
        await alta.start()
        port = free_port()
        alta.set_webhook(f"http://127.0.0.1:{port}/alta/webhook/{ALTA_SECRET}")
        try:
            async with serving(gateway_config(emulator, alta, work, port), port) as server:
                base = str(server.make_url("")).rstrip("/")
                async with aiohttp.ClientSession() as http:
                    token = await mint(http, base)
                    cameras = await camera_ids(http, base)
                    # First: later, generated Alta webhooks may keep the gateway's lookups busy.
                    problems = await check_event(http, base, alta)
                    alarms = await alarm_ids(http, base, alta)
                (work / "schemathesis.toml").write_text(schemathesis_toml(cameras, alarms))
                for label, credential in (("viewer token", token), ("admin key", ADMIN_KEY)):
                    started = time.monotonic()
                    print(f"\n=== schemathesis with the {label} ===", flush=True)
                    if await run_schemathesis(base, work, credential, args):
                        failed.append(label)
                    print(f"=== {label}: {time.monotonic() - started:.0f} s ===", flush=True)
                async with aiohttp.ClientSession() as http:
                    problems += [
                        *await check_streams(http, base, cameras[0], token),
                        *await check_destinations(http, base),
                    ]
        finally:
            await alta.stop()
            await emulator.stop()
    for problem in problems:
        print(f"schemathesis_run: {problem}", file=sys.stderr)
    if failed:
        print(f"schemathesis_run: failures with the {' and the '.join(failed)}", file=sys.stderr)
    return 1 if failed or problems else 0


def _admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}


async def mint(http: aiohttp.ClientSession, base: str) -> str:
    async with http.post(
        f"{base}/api/v1/tokens", json={"cameras": ["*"], "actions": VIEWER_ACTIONS}, headers=_admin()
    ) as response:
        assert response.status == 201, await response.text()
        return (await response.json())["token"]


async def camera_ids(http: aiohttp.ClientSession, base: str) -> list[str]:
    async with http.get(f"{base}/api/v1/cameras", headers=_admin()) as response:
        return [camera["id"] for camera in (await response.json())["cameras"]]


async def alarm_ids(http: aiohttp.ClientSession, base: str, alta: AltaEmulator) -> list[str]:
    """The alarms to act on: WEP's, and an Alta alarm raised now (the gateway looks it up
    after Alta's webhook, so it shows a moment later)."""
    alta.raise_alarm(1)
    for _ in range(100):
        async with http.get(f"{base}/api/v1/alarms", headers=_admin()) as response:
            found = [alarm["id"] for alarm in (await response.json())["alarms"]]
        if any(alarm.startswith("alta:") for alarm in found):
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"the Alta alarm never showed: {found}")


async def check_event(http: aiohttp.ClientSession, base: str, alta: AltaEmulator) -> list[str]:
    """One real event off the SSE stream (an Alta alarm raised for it), against the
    description's event and its data against the Event schema."""
    doc = document()
    content = doc["paths"]["/api/v1/events/stream"]["get"]["responses"]["200"]["content"]
    event_schema = {**content["text/event-stream"]["schema"], "components": doc["components"]}
    data_schema = {"$ref": "#/components/schemas/Event", "components": doc["components"]}
    timeout = aiohttp.ClientTimeout(total=20)
    async with http.get(f"{base}/api/v1/events/stream", headers=_admin(), timeout=timeout) as response:
        await response.content.readuntil(b"\n\n")  # the preamble (retry:)
        alta.raise_alarm(2)
        fields = {}
        while (line := (await response.content.readline()).decode().rstrip("\n")) or not fields:
            if line and not line.startswith(":"):  # a comment: the keep-alive
                name, _, value = line.partition(": ")
                fields[name] = value
    try:
        jsonschema.validate(fields, event_schema)
        jsonschema.validate(json.loads(fields["data"]), data_schema)
    except (jsonschema.ValidationError, KeyError, ValueError) as exc:
        return [f"an SSE event does not match the description: {exc}: {fields}"]
    return []


async def check_destinations(http: aiohttp.ClientSession, base: str) -> list[str]:
    """Every push and rule action the run created aims at the loopback (the bindings worked)."""
    async with http.get(f"{base}/api/v1/pushes", headers=_admin()) as response:
        urls = [push["url"] for push in (await response.json())["pushes"]]
    async with http.get(f"{base}/api/v1/rules", headers=_admin()) as response:
        urls += [
            params["url"]
            for rule in (await response.json())["rules"]
            for action in rule["actions"]
            for params in action.values()
            if "url" in params
        ]
    print(f"=== destinations: {len(urls)} push and rule URLs, all checked for the loopback ===", flush=True)
    return [
        f"a generated destination left the loopback: {url}" for url in urls if urlsplit(url).hostname != "127.0.0.1"
    ]


async def check_streams(http: aiohttp.ClientSession, base: str, camera: str, token: str) -> list[str]:
    """Bounded requests to the routes left out of generation: each answer's status, content
    type and (for JSON) body must be what the description lists; a stream must start."""
    doc = document()
    live, state = "/live/{camera}.mp4", "/g/{id}/state"
    async with http.post(
        f"{base}/api/v1/links", json={"camera": camera, "live": True, "ttl": 60}, headers=_admin()
    ) as response:
        link = (await response.json())["id"]
    cases = []  # (template, path, query, headers, whether it streams)
    for credential in (token, ADMIN_KEY):
        headers = {"Authorization": f"Bearer {credential}"}
        cases += [
            (live, f"/live/{camera}.mp4", {"quality": "low"}, headers, True),
            (live, f"/live/{camera}.mp4", {"quality": "medium"}, headers, False),
            (live, "/live/no-such-camera.mp4", {}, headers, False),
        ]
    cases += [
        (live, f"/live/{camera}.mp4", {}, {}, False),
        (live, f"/live/{camera}.mp4", {"token": ADMIN_KEY}, {}, False),  # the admin key never from a URL
        (live, f"/live/{camera}.mp4", {"token": link}, {}, True),  # a guest link is a credential
        (state, f"/g/{link}/state", {}, {}, True),
        (state, "/g/no-such-link/state", {}, {}, False),
    ]
    problems = []
    for template, path, query, headers, streams in cases:
        problem = await _check_one(http, doc, base, template, path, query, headers, streams)
        if problem:
            problems.append(f"GET {template} {query} {'with' if headers else 'without'} a credential: {problem}")
    async with http.delete(f"{base}/api/v1/links/{link}", headers=_admin()) as response:
        assert response.status == 200, await response.text()
    problem = await _check_one(http, doc, base, state, f"/g/{link}/state", {}, {}, False)
    if problem:
        problems.append(f"GET {state} of a revoked link: {problem}")
    return problems


async def _check_one(http, doc, base, template, path, query, headers, streams) -> str | None:
    responses = doc["paths"][template]["get"]["responses"]
    timeout = aiohttp.ClientTimeout(total=20, sock_read=10)
    async with http.get(f"{base}{path}", params=query, headers=headers, timeout=timeout) as response:
        documented = responses.get(str(response.status))
        if documented is None:
            return f"status {response.status} is not documented"
        documented = resolve_ref(doc, documented)
        media_type = response.headers.get("Content-Type", "").split(";")[0]
        content = documented.get("content", {})
        if content and media_type not in content:
            return f"content type {media_type!r} is not one of {sorted(content)}"
        if streams != (response.status == 200):
            return f"status {response.status}: {(await response.text())[:200]}"
        if streams:
            first = await response.content.readany()
            return None if first else "no first bytes"
        if media_type == "application/json":
            schema = resolve_ref(doc, content[media_type]["schema"])
            try:
                jsonschema.validate(await response.json(), {**schema, "components": doc["components"]})
            except jsonschema.ValidationError as exc:
                return f"body does not match the schema: {exc.message}"
    return None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--max-examples", type=int, default=20, help="generated cases per operation and phase")
    parser.add_argument("--seed", type=int, default=19, help="hypothesis seed (fixed: CI sees the same cases)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
