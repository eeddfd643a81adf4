import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import Config, ConfigError, build_config, load_config

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_file_matches_code_defaults():
    assert load_config(str(ROOT / "config/gateway.toml"), {}) == Config()


def test_example_real_wep_config_loads(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    config = load_config(str(ROOT / "config/example-real-wep.toml"), {"WEPGW_WEP_CA_FILE": str(ca)})
    assert config.wep.url.startswith("https://")
    assert config.server.log_format == "json"


def test_environment_overrides_file_and_converts_types():
    config = build_config(
        {"hls": {"part_duration": 0.25}},
        {
            "WEPGW_HLS_PART_DURATION": "0.3",
            "WEPGW_WEP_VERIFY_TLS": "false",
            "WEPGW_SOURCES_READER_QUEUE_FRAMES": "64",
            "OTHER": "ignored",
        },
    )
    assert config.hls.part_duration == 0.3
    assert config.wep.verify_tls is False
    assert config.sources.reader_queue_frames == 64


@pytest.mark.parametrize(
    "file_values, environ, message",
    [
        ({"wep": {"pasword": "x"}}, {}, "unknown key in [wep] 'pasword' (did you mean 'password'?)"),
        ({"wepp": {}}, {}, "unknown config section '[wepp]' (did you mean '[wep]'?)"),
        ({"hls": {"window_segments": 2.5}}, {}, "[hls] window_segments: expected int, got 2.5"),
        ({}, {"WEPGW_WEP_VERIFY_TLS": "maybe"}, "[wep] verify_tls: expected bool, got 'maybe'"),
        ({}, {"WEPGW_NOPE_KEY": "1"}, "unknown environment variable 'WEPGW_NOPE_KEY'"),
        ({"server": {"listen": "localhost"}}, {}, "[server] listen: expected HOST:PORT, got 'localhost'"),
        ({"hls": {"part_duration": 2.0}}, {}, "[hls] part_duration: expected less than segment_min_duration"),
        ({"wep": {"url": "ftp://x"}}, {}, "[wep] url: expected an http:// or https:// URL"),
    ],
)
def test_mistakes_give_one_line_naming_the_key(file_values, environ, message):
    with pytest.raises(ConfigError) as caught:
        build_config(file_values, environ)
    text = str(caught.value)
    assert message in text
    assert "\n" not in text


def test_wrong_type_of_a_secret_is_not_echoed():
    with pytest.raises(ConfigError) as caught:
        build_config({"wep": {"password": 123456789}}, {})
    assert "123456789" not in str(caught.value)


def test_invalid_toml_is_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[wep\nurl = 1\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(str(bad), {})


def test_serve_with_typo_exits_nonzero_with_one_line(tmp_path):
    bad = tmp_path / "typo.toml"
    bad.write_text('[wep]\nusername = "a"\npasword = "secret-value"\n')
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        (
            "wep-gateway: config error: unknown key in [wep] 'pasword' (did you mean 'password'?); "
            "expected one of: ca_file, camera_cache_ttl, client_name, connect_timeout, integration_id, "
            "max_connections, password, request_timeout, url, user_key, user_nonce, username, verify_tls"
        )
    ]
    assert "Traceback" not in result.stderr


PORCH = {"id": "porch", "host": "192.168.1.20", "password": "in-the-file"}


def test_amcrest_cameras_from_tables_with_the_password_from_the_environment():
    config = build_config(
        {"amcrest": [PORCH, {"id": "back-yard", "host": "cam2", "channel": 3}]},
        {"WEPGW_AMCREST_BACK_YARD_PASSWORD": "from-env"},
    )
    porch, yard = config.amcrest
    assert (porch.id, porch.display_name, porch.http_port, porch.rtsp_port, porch.password) == (
        "porch",
        "porch",
        80,
        554,
        "in-the-file",
    )
    assert (yard.channel, yard.password, yard.speaker_codec, yard.ptz) == (3, "from-env", "G.711A", False)
    assert "from-env" not in repr(config) and "in-the-file" not in repr(config)


@pytest.mark.parametrize(
    "tables, message",
    [
        ([PORCH | {"id": "Porch"}], "[[amcrest]] 'Porch' id: expected lower-case letters, digits and '-', got 'Porch'"),
        ([PORCH, PORCH], "[[amcrest]] id 'porch' is used twice"),
        ([{"id": "porch"}], "[[amcrest]] 'porch': missing host"),
        ([PORCH | {"chanel": 2}], "unknown key in [[amcrest]] 'porch' 'chanel' (did you mean 'channel'?)"),
        ([PORCH | {"channel": 0}], "[[amcrest]] 'porch' channel: expected 1 or more"),
        ([PORCH | {"rtsp_port": 70000}], "[[amcrest]] 'porch' rtsp_port: expected 1..65535, got 70000"),
        ([PORCH | {"speaker_codec": "AAC"}], "[[amcrest]] 'porch' speaker_codec: expected one of G.711A, G.711Mu"),
        ([PORCH | {"password": 5}], "[[amcrest]] 'porch' password: expected str, got a value"),
        ({"id": "porch"}, "[[amcrest]]: expected a list of tables"),
    ],
)
def test_bad_amcrest_tables_stop_start_up_with_one_line(tables, message):
    with pytest.raises(ConfigError) as error:
        build_config({"amcrest": tables}, {})
    assert message in str(error.value) and "\n" not in str(error.value)


def test_no_wep_and_no_amcrest_is_refused():
    with pytest.raises(ConfigError, match="nothing to serve"):
        build_config({"wep": {"url": ""}}, {})
    assert build_config({"wep": {"url": ""}, "amcrest": [PORCH]}, {}).wep.url == ""


SECRET = "s" * 16


@pytest.mark.parametrize(
    ("cluster", "message"),
    [
        ({"redis_url": "http://127.0.0.1:6379", "secret": SECRET}, "[cluster] redis_url: expected a redis://"),
        ({"redis_url": "redis://127.0.0.1:6379/0", "secret": "short"}, "[cluster] secret: at least 16 bytes"),
        ({"redis_url": "redis://127.0.0.1:6379/0"}, "[cluster] secret: at least 16 bytes"),
        (
            {"redis_url": "redis://h:6379", "secret": SECRET, "advertise_url": "10.0.0.5:8080"},
            "[cluster] advertise_url: expected an http:// or https:// URL",
        ),
        ({"redis_url": "redis://h:6379", "secret": SECRET, "node_id": "a b"}, "[cluster] node_id: expected 1 to 64"),
        ({"redis_url": "redis://h:6379", "secret": SECRET, "lease_ms": 100}, "[cluster] lease_ms and member_ttl_ms"),
    ],
)
def test_bad_cluster_settings_stop_start_up_with_one_line(cluster, message):
    with pytest.raises(ConfigError) as error:
        build_config({"cluster": cluster}, {})
    assert message in str(error.value) and "\n" not in str(error.value)


def test_cluster_from_the_environment_without_echoing_its_secrets():
    config = build_config(
        {},
        {
            "WEPGW_CLUSTER_REDIS_URL": "redis://:hunter2-password@10.0.0.9:6379/1",
            "WEPGW_CLUSTER_SECRET": "peer-secret-0123456789",
            "WEPGW_CLUSTER_NODE_ID": "edge-1",
            "WEPGW_CLUSTER_LEASE_MS": "2500",
        },
    )
    assert config.cluster.redis_url.endswith("@10.0.0.9:6379/1") and config.cluster.lease_ms == 2500
    assert config.cluster.node_id == "edge-1"
    assert build_config({}, {}).cluster.redis_url == ""  # no cluster: one node, as before
    with pytest.raises(ConfigError) as error:
        build_config({}, {"WEPGW_CLUSTER_REDIS_URL": "redis://:hunter2-password@h:6379", "WEPGW_CLUSTER_LEASE_MS": "x"})
    assert "hunter2" not in str(error.value)
