"""The deployment files agree with the code: deploy/compose.yaml, every manifest in
deploy/k8s/ and the edge tier in deploy/nginx/ (Docker and Kubernetes cannot run here, so
what they would be told is checked against what the gateway reads and serves)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import shutil
import signal
import subprocess
import typing
from pathlib import Path

import aiohttp
import pytest
import yaml

from gateway.config import LIST_SECTIONS, Config, ConfigError, build_config, parse_host_port
from tests.conftest import require
from tests.container.test_dockerfile import image_env, instructions
from tests.rtmp.nginx import free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NGINX = DEPLOY / "nginx"
EDGE_FILES = ("edge.conf", "listen.conf", "edge-run.sh")  # the same everywhere; gateways.conf is not
GATEWAY_IMAGE = "wep-gateway"


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def manifests() -> list[dict]:
    documents = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        documents += [document for document in yaml.safe_load_all(path.read_text()) if document]
    return documents


def manifest(kind: str, name: str) -> dict:
    found = [m for m in manifests() if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind} {name}: {len(found)} manifests"
    return found[0]


def config_keys() -> set[str]:
    """Every WEPGW_<SECTION>_<KEY> the gateway reads (gateway/config.py's dataclasses)."""
    sections = typing.get_type_hints(Config)
    return {
        f"WEPGW_{section.name}_{key.name}".upper()
        for section in dataclasses.fields(Config)
        if section.name not in LIST_SECTIONS
        for key in dataclasses.fields(sections[section.name])
    }


def env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def gateway_environments() -> dict[str, dict[str, str]]:
    """What each gateway container would be given: compose's services (with the secrets
    file's example) and the Kubernetes Deployment (ConfigMap, Secret, its own env)."""
    found = {}
    secrets = env_file(DEPLOY / "secrets.env.example")
    for name, service in compose()["services"].items():
        if "environment" in service:
            assert service.get("env_file") == ["secrets.env"], name
            found[f"compose {name}"] = {**secrets, **service["environment"]}
    deployment = manifest("Deployment", "wepgw-gateway")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    for source in container["envFrom"]:
        if "configMapRef" in source:
            env.update(manifest("ConfigMap", source["configMapRef"]["name"])["data"])
        else:
            env.update(manifest("Secret", source["secretRef"]["name"])["stringData"])
    downward = {"status.podIP": "10.0.0.5", "metadata.name": "wepgw-gateway-5d8f7b9c4-x2x9k"}
    for item in container["env"]:
        value = item.get("value") or downward[item["valueFrom"]["fieldRef"]["fieldPath"]]
        env[item["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], value)  # Kubernetes' $(VAR)
    found["k8s wepgw-gateway"] = env
    return found


def listen_port(env: dict[str, str]) -> int:
    return parse_host_port(env["WEPGW_SERVER_LISTEN"], "WEPGW_SERVER_LISTEN")[1]


def upstream_servers(text: str) -> list[tuple[str, int]]:
    servers = re.findall(r"^\s*server\s+([^\s:;]+):(\d+)\b", text, re.MULTILINE)
    assert servers, "no server lines"
    return [(host, int(port)) for host, port in servers]


def test_every_wepgw_variable_is_a_config_key_and_the_whole_config_loads():
    known = config_keys()
    for where, env in gateway_environments().items():
        settings = {key: value for key, value in env.items() if key.startswith("WEPGW_")}
        assert set(settings) <= known, f"{where}: {sorted(set(settings) - known)} are no config keys"
        # Secrets are left for the operator: stand-ins of the lengths the checks ask for.
        filled = {key: value or "x" * 40 for key, value in settings.items()}
        try:
            config = build_config({}, filled)
        except ConfigError as exc:
            pytest.fail(f"{where}: {exc}")
        assert config.cluster.redis_url and config.cluster.node_id and config.cluster.advertise_url, where
        assert listen_port(env) == parse_host_port(config.cluster.advertise_url.split("//")[1], "url")[1], where


def test_the_ports_agree_with_the_gateways_listen_port():
    image = image_env(instructions())
    port = parse_host_port(image["WEPGW_SERVER_LISTEN"], "the image's WEPGW_SERVER_LISTEN")[1]
    for where, env in gateway_environments().items():
        assert listen_port(env) == port, where
    # The edge's upstream servers, in compose and in Kubernetes, use that port.
    assert {p for _, p in upstream_servers((NGINX / "gateways.conf").read_text())} == {port}
    edge = manifest("ConfigMap", "wepgw-edge")["data"]
    assert {p for _, p in upstream_servers(edge["gateways.conf"])} == {port}
    # Kubernetes: the container port, and every Service's target of it.
    (container,) = manifest("Deployment", "wepgw-gateway")["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": port}
    for name in ("wepgw-gateway", "wepgw-gateway-peers"):
        service = manifest("Service", name)
        assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"], name
        assert [p["port"] for p in service["spec"]["ports"]] == [port], name


def test_the_edge_upstreams_name_the_gateways():
    services = compose()["services"]
    for host, _ in upstream_servers((NGINX / "gateways.conf").read_text()):
        assert "environment" in services[host], f"{host} is not a gateway of compose.yaml"
    gateways = {name for name, service in services.items() if "environment" in service}
    assert {host for host, _ in upstream_servers((NGINX / "gateways.conf").read_text())} == gateways
    (host, _), *_ = upstream_servers(manifest("ConfigMap", "wepgw-edge")["data"]["gateways.conf"])
    peers = manifest("Service", host)
    assert peers["spec"]["clusterIP"] == "None"  # headless: one address per pod, hashed by the edge


def test_the_edge_and_the_gateway_speak_of_the_same_header_and_token_slot():
    from gateway.hls import answers
    from gateway.hls.playlist import TOKEN_SLOT

    edge_conf = (NGINX / "edge.conf").read_text()
    roles = re.findall(rf"proxy_set_header {answers.EDGE_HEADER} (\S+);", edge_conf)
    assert sorted(roles) == ['""', "cache", "check"]  # the server's default strips a viewer's own
    assert f'sub_filter "?{TOKEN_SLOT}" $hls_viewer_query;' in edge_conf
    assert f"sub_filter_types {answers.PLAYLIST_TYPE};" in edge_conf


def test_the_edge_files_are_the_same_everywhere():
    edge = compose()["services"]["edge"]
    assert edge["volumes"] == ["./nginx:/etc/wep-edge:ro"]
    assert edge["command"] == ["sh", "/etc/wep-edge/edge-run.sh"]
    data = manifest("ConfigMap", "wepgw-edge")["data"]
    for name in EDGE_FILES:
        assert data[name] == (NGINX / name).read_text(), f"deploy/k8s/edge.yaml's {name} differs from deploy/nginx/"
    (container,) = manifest("Deployment", "wepgw-edge")["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["sh", "/etc/wep-edge/edge-run.sh"]
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/etc/wep-edge", "/var/cache/wep-edge"}
    port = int(re.search(r"listen (\d+)[ ;]", data["listen.conf"]).group(1))
    assert [p["containerPort"] for p in container["ports"]] == [port]
    assert edge["ports"] == [f"{port}:{port}"]


async def test_probes_ask_routes_that_exist():
    from gateway.app import create_app

    routes = {resource.canonical for resource in create_app(Config()).router.resources()}
    (container,) = manifest("Deployment", "wepgw-gateway")["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz" in routes
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz" in routes
    (edge,) = manifest("Deployment", "wepgw-edge")["spec"]["template"]["spec"]["containers"]
    edge_conf = (NGINX / "edge.conf").read_text()
    for probe in ("readinessProbe", "livenessProbe"):
        path = edge[probe]["httpGet"]["path"]
        assert f"location = {path} {{" in edge_conf, path


def test_deployments_and_services_select_what_they_should():
    deployments = [m for m in manifests() if m["kind"] == "Deployment"]
    for deployment in deployments:
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for service in (m for m in manifests() if m["kind"] == "Service"):
        selected = [
            d
            for d in deployments
            if service["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(selected) == 1, service["metadata"]["name"]
    redis = gateway_environments()["k8s wepgw-gateway"]["WEPGW_CLUSTER_REDIS_URL"]
    host, port = re.fullmatch(r"redis://([^:/]+):(\d+)/\d+", redis).groups()
    assert [p["port"] for p in manifest("Service", host)["spec"]["ports"]] == [int(port)]
    (gateway,) = manifest("Deployment", "wepgw-gateway")["spec"]["template"]["spec"]["containers"]
    assert gateway["image"].split(":")[0].endswith(GATEWAY_IMAGE)
    assert manifest("Deployment", "wepgw-gateway")["spec"]["replicas"] == 3


def test_compose_runs_three_nodes_redis_and_the_emulator_the_gateways_name():
    services = compose()["services"]
    gateways = {name: service for name, service in services.items() if "environment" in service}
    assert len(gateways) == 3
    for name, service in gateways.items():
        env = service["environment"]
        assert env["WEPGW_CLUSTER_NODE_ID"] == name
        assert env["WEPGW_CLUSTER_ADVERTISE_URL"] == f"http://{name}:{listen_port(env)}"
        assert service["build"]["context"] == ".." and (DEPLOY / ".." / "Dockerfile").exists()
        host, port = re.fullmatch(r"redis://([^:/]+):(\d+)/\d+", env["WEPGW_CLUSTER_REDIS_URL"]).groups()
        assert host in services and port == "6379"
        wep = re.fullmatch(r"http://([^:/]+):(\d+)", env["WEPGW_WEP_URL"])
        command = services[wep.group(1)]["command"]
        assert command[0] == "emulator" and f"0.0.0.0:{wep.group(2)}" in command and "--http" in command
    assert not (DEPLOY / "secrets.env").exists() or "deploy/secrets.env" in (ROOT / ".gitignore").read_text()


def _render_edge(directory: Path, upstream_port: int, listen_port: int) -> None:
    directory.mkdir(parents=True)
    for name in EDGE_FILES:
        shutil.copy(NGINX / name, directory / name)
    (directory / "gateways.conf").write_text(f"server 127.0.0.1:{upstream_port};\n")
    (directory / "listen.conf").write_text(f"listen 127.0.0.1:{listen_port};\n")


def test_nginx_accepts_the_edge_config(tmp_path):
    require("nginx")
    _render_edge(tmp_path / "conf", free_port(), free_port())
    result = subprocess.run(
        ["nginx", "-t", "-p", f"{tmp_path}/", "-c", "conf/edge.conf", "-g", "user root;"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr


async def test_edge_run_starts_nginx_and_stops_it_on_sigterm(tmp_path):
    """deploy/nginx/edge-run.sh as the containers run it: nginx in the foreground under
    EDGE_PREFIX, a name in gateways.conf resolved, SIGTERM ends both."""
    require("nginx", "getent")
    conf, port = tmp_path / "conf", free_port()
    _render_edge(conf, free_port(), port)
    (conf / "gateways.conf").write_text(f"server localhost:{free_port()};\n")
    prefix = tmp_path / "prefix"
    env = {**os.environ, "EDGE_PREFIX": f"{prefix}/", "EDGE_DNS_INTERVAL": "1"}
    with (tmp_path / "edge.log").open("ab") as log:
        script = await asyncio.create_subprocess_exec(
            "sh", str(conf / "edge-run.sh"), env=env, stdout=log, stderr=log, stdin=asyncio.subprocess.DEVNULL
        )
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                assert script.returncode is None, (tmp_path / "edge.log").read_text()
                try:
                    async with http.get(f"http://127.0.0.1:{port}/_edge/healthz") as response:
                        if response.status == 204:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            else:
                pytest.fail(f"no answer: {(tmp_path / 'edge.log').read_text()}")
        script.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(script.wait(), 15) == 0
    finally:
        if script.returncode is None:
            script.kill()
            await script.wait()
        pid = prefix / "edge.pid"
        if pid.exists():  # nginx outlived the script: ours, end it
            os.kill(int(pid.read_text()), signal.SIGKILL)
    assert not pid.exists()  # nginx removed it on its way out
