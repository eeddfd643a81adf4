"""The gateway's configuration: one typed object built at start-up and passed in.

TOML file (`--config`), then environment overrides `WEPGW_<SECTION>_<KEY>`, then
validation. Any mistake stops start-up with one `ConfigError` line naming the key and
what was expected. Nothing else in the gateway reads files or the environment.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
import typing
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.api.query import is_ascii_digits

ENV_PREFIX = "WEPGW_"


class ConfigError(ValueError):
    """A config file or environment variable that cannot be used; the message is one line."""


@dataclass(frozen=True)
class ServerConfig:
    listen: str = "127.0.0.1:8080"
    # Public base URL when behind a proxy; empty means "as the request came in".
    public_url: str = ""
    log_format: str = "text"  # "text" | "json"
    # SIGTERM to exit: the streams end at once (each with its last chunk), requests in
    # flight get part of it, then the WEP webhook is deleted and the session logged out.
    shutdown_timeout: float = 5.0
    # Browser origins allowed to call the gateway from other pages (CORS), comma-separated
    # ("https://a.example, https://b.example"), or "*" for any. Empty: same origin only.
    cors_origins: str = ""

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        return tuple(origin.strip().rstrip("/") for origin in self.cors_origins.split(",") if origin.strip())


@dataclass(frozen=True)
class WepConfig:
    url: str = "https://127.0.0.1:8443"  # /mt/api/rest/v1 is added
    username: str = ""
    password: str = field(default="", repr=False)
    user_nonce: str = ""
    user_key: str = field(default="", repr=False)
    integration_id: str = ""
    client_name: str = "wep-gateway"
    verify_tls: bool = True
    ca_file: str = ""
    request_timeout: float = 10.0  # whole request, for ordinary calls
    connect_timeout: float = 5.0
    max_connections: int = 64  # the shared connection pool's bound
    # Cameras list and speaker codecs change rarely; cache them this long.
    camera_cache_ttl: float = 30.0


@dataclass(frozen=True)
class AuthConfig:
    admin_key: str = field(default="", repr=False)
    token_secret: str = field(default="", repr=False)
    viewer_auth: bool = True


@dataclass(frozen=True)
class HlsConfig:
    part_duration: float = 0.2
    segment_min_duration: float = 1.0
    window_segments: int = 7
    # A blocking playlist request waits at most this long for the part it asked for.
    blocking_timeout: float = 6.0


@dataclass(frozen=True)
class SourcesConfig:
    idle_close_after: float = 10.0
    # No bytes from upstream for this long counts as a stall and forces a reconnect.
    stall_timeout: float = 5.0
    reconnect_initial_delay: float = 0.5
    reconnect_max_delay: float = 10.0
    # The cap while somebody watches: media resumes within it (plus the connection) of the
    # upstream answering again. Still a backoff, jittered, never below half of it per try.
    reconnect_watched_max_delay: float = 1.5
    # Per-reader queue bound (frames); a reader that falls this far behind loses whole GOPs.
    reader_queue_frames: int = 256
    # The hub keeps the current GOP for late joiners; a GOP larger than this is cut short.
    max_gop_bytes: int = 16 * 1024 * 1024
    audio: bool = True


@dataclass(frozen=True)
class LiveConfig:
    # A progressive fMP4 client that accepts no bytes for this long is dropped.
    send_timeout: float = 10.0
    # How far behind live a progressive client may fall (frames it has not received,
    # the kernel's send queue included) before it skips to the next keyframe.
    max_delay_s: float = 2.0


@dataclass(frozen=True)
class SnapshotsConfig:
    cache_bytes: int = 64 * 1024 * 1024
    live_ttl: float = 1.0
    max_age: int = 86400


@dataclass(frozen=True)
class PushesConfig:
    db_path: str = "var/pushes.sqlite3"


@dataclass(frozen=True)
class EventsConfig:
    # How WEP reaches this gateway (scheme://host[:port], a path prefix allowed); the webhook
    # is registered at public_url + "/wep/webhook". Empty: no WEP webhook.
    public_url: str = ""
    # WEP eventTopics: a whitelist, or a blacklist (then the whitelist stays ["ALL"]).
    topics_whitelist: tuple[str, ...] = ("ALL",)
    topics_blacklist: tuple[str, ...] = ()
    heartbeat_ms: int = 30000
    ring_size: int = 10000  # recent events kept for Last-Event-ID resume and GET /api/v1/events
    clip_pre_s: float = 10.0  # an event's recording link starts this long before it
    # Webhook notifications waiting to be processed; over this they are counted and dropped
    # (WEP is never kept waiting), and the gap is filled from /events/search.
    queue_size: int = 10000
    # Events waiting for one SSE client; a client that falls this far behind is dropped.
    subscriber_queue: int = 1000
    audit_days: float = 90.0  # alarm actions are kept this long


@dataclass(frozen=True)
class RulesConfig:
    # Named audio clips for the talkdown action, decoded once to 8 kHz mono and kept here.
    clips_dir: str = "var/clips"
    # JPEGs the snapshot action archives, one folder per camera.
    snapshots_dir: str = "var/rule-snapshots"
    timezone: str = "UTC"  # a rule's schedule zone when it names none (IANA name)
    action_timeout_s: float = 30.0  # each action of a firing is given up after this
    # A rule clip waits this long for a speaker held by a person (live or file) before
    # it is recorded as skipped.
    speaker_wait_s: float = 20.0
    history_days: float = 30.0  # firings are kept this long...
    history_per_rule: int = 1000  # ...and at most this many per rule
    webhook_in_flight: int = 32  # outgoing webhook posts at once; past it they are refused and audited
    webhook_attempts: int = 4  # one post and its retries (backoff 0.5 s, doubling)
    webhook_timeout_s: float = 5.0  # each attempt


@dataclass(frozen=True)
class LinksConfig:
    max_ttl: int = 7 * 24 * 3600  # the longest life a guest link may be given, seconds
    default_ttl: int = 3600  # when a link or a share_link action names none
    # A shared recording (the share_link action) spans the event from clip_pre_s before it
    # ([events]) to this long after it.
    clip_post_s: float = 60.0


@dataclass(frozen=True)
class AltaConfig:
    # The Alta deployment, https://<deployment>.<region>.alta.avigilon.com; empty: no Alta.
    url: str = ""
    username: str = ""  # the e-mail of an Alta user with the alarm permissions
    password: str = field(default="", repr=False)
    # The last path segment of POST /alta/webhook/<secret>, the URL Alta's alarm action
    # calls: random, at least 16 characters (a guess must be hopeless).
    webhook_secret: str = field(default="", repr=False)
    # Where the alarm action's payload carries $alarmZoneId and $deviceId (JSON keys or
    # form fields: the payload is whatever was typed into the action).
    zone_key: str = "alarmZoneId"
    device_key: str = "deviceId"
    verify_tls: bool = True
    ca_file: str = ""
    request_timeout: float = 10.0
    connect_timeout: float = 5.0


@dataclass(frozen=True)
class LimitsConfig:
    # Concurrent viewers: progressive fMP4 streams, WebRTC sessions, talkers and HLS players
    # (one per token, or per client address without a token). Over a limit: 503 + Retry-After.
    max_viewers_per_camera: int = 200
    max_viewers_total: int = 1000
    # An HLS player counts as watching this long after its last playlist request.
    hls_viewer_window: float = 10.0
    # Declared body sizes (Content-Length) over these get 413 before any handler runs.
    max_body_bytes: int = 1024 * 1024  # JSON, SDP offers
    max_upload_bytes: int = 16 * 1024 * 1024  # talkdown audio files
    # Seconds until the response headers go out; a stream runs on after that.
    request_timeout: float = 30.0
    retry_after: int = 5  # seconds, the Retry-After of a 503 over a limit


@dataclass(frozen=True)
class ClusterConfig:
    # Empty: one node, as without a cluster. "redis://host:6379/0" (or rediss://) shares
    # camera ownership, locks, revocations and pushes among the nodes that name it.
    redis_url: str = ""
    node_id: str = ""  # empty: hostname-pid
    advertise_url: str = ""  # how peers reach this node ("http://10.0.0.5:8080"); empty: from [server] listen
    secret: str = ""  # peers' bearer on /internal/v1/*; required with redis_url
    # A lease (camera pull, push, talk, PTZ) lapses this long after its holder's last
    # renewal: a dead node's cameras find a new owner within about this time.
    lease_ms: int = 3000
    # A member's key lapses this long after its last heartbeat (GET /api/v1/cluster).
    member_ttl_ms: int = 5000


@dataclass(frozen=True)
class TalkdownConfig:
    # A microphone that sends no audio for this long ends its talk session: silence is
    # never padded upstream, and the camera is freed for the next talker.
    idle_timeout: float = 5.0
    # ICE + DTLS must complete within this after the answer, or the talk session ends.
    connect_timeout: float = 10.0
    # Guide, POST /media: "The maximum stream duration is 120000 ms."
    cap_ms: int = 120_000
    # The next POST is opened this long before the current one must end, so its
    # connection is up when the audio is handed over (no gap at the rollover).
    rollover_lead_ms: int = 1_000
    # Audio per upstream write (20 or 40 ms), and per packet asked of the browser
    # (a=ptime): small enough to keep the latency low. 40 halves the packets a talk costs
    # (bench/bench_talkdown.py) for 20 ms more from the microphone to the speaker.
    chunk_ms: int = 40
    # Uploaded files: audio past this is not played ([limits] max_upload_bytes bounds the body).
    max_file_seconds: float = 300.0
    # Audio waiting for a stalled upstream POST: past this the oldest is dropped and
    # counted; a late word is worse than a lost one.
    max_queue_ms: int = 2_000

    @property
    def post_ms(self) -> int:
        """The most audio (and wall time) one upstream POST carries."""
        return self.cap_ms - self.rollover_lead_ms

    @property
    def chunk_bytes(self) -> int:
        return self.chunk_ms * 8  # PCMU: 8000 one-byte samples per second

    def validate(self) -> None:
        if self.chunk_ms not in (20, 40):
            raise ConfigError(f"[talkdown] chunk_ms: expected 20 or 40, got {self.chunk_ms}")
        if self.cap_ms <= 0 or not 0 <= self.rollover_lead_ms < self.cap_ms // 2:
            raise ConfigError(
                f"[talkdown] rollover_lead_ms: expected 0..{self.cap_ms // 2} (half of cap_ms), "
                f"got {self.rollover_lead_ms}"
            )
        if self.post_ms < 4 * self.chunk_ms:
            raise ConfigError(f"[talkdown] cap_ms: {self.cap_ms} leaves too little audio per POST")
        for name in ("idle_timeout", "connect_timeout", "max_file_seconds"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"[talkdown] {name}: expected a positive number, got {getattr(self, name)}")
        if self.max_queue_ms < self.chunk_ms:
            raise ConfigError(
                f"[talkdown] max_queue_ms: expected at least chunk_ms ({self.chunk_ms}), got {self.max_queue_ms}"
            )


@dataclass(frozen=True)
class MetricsConfig:
    enabled: bool = True  # GET /metrics
    require_admin_key: bool = False  # true: /metrics wants the admin key as a Bearer token


@dataclass(frozen=True)
class AmcrestCameraConfig:
    """One `[[amcrest]]` table: an Amcrest/Dahua camera (or one channel of an NVR)."""

    id: str  # the camera id in the API: [a-z0-9-]+, unique across backends
    host: str
    name: str = ""  # shown to people; the id when empty
    http_port: int = 80
    rtsp_port: int = 554
    username: str = "admin"
    password: str = field(default="", repr=False)  # or WEPGW_AMCREST_<ID>_PASSWORD
    channel: int = 1  # 1-based, as the CGI and RTSP URLs count
    # What the speaker takes (postAudio Content-Type): G.711A is what most firmware accepts.
    speaker_codec: str = "G.711A"  # "G.711A" | "G.711Mu"
    ptz: bool = False  # the camera turns and zooms (ptz.cgi); the CGI cannot be asked without trying
    request_timeout: float = 10.0
    connect_timeout: float = 5.0

    @property
    def display_name(self) -> str:
        return self.name or self.id


AMCREST_ID = re.compile(r"[a-z0-9-]+")
AMCREST_SPEAKER_CODECS = ("G.711A", "G.711Mu")


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    wep: WepConfig = field(default_factory=WepConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    hls: HlsConfig = field(default_factory=HlsConfig)
    sources: SourcesConfig = field(default_factory=SourcesConfig)
    live: LiveConfig = field(default_factory=LiveConfig)
    snapshots: SnapshotsConfig = field(default_factory=SnapshotsConfig)
    pushes: PushesConfig = field(default_factory=PushesConfig)
    events: EventsConfig = field(default_factory=EventsConfig)
    rules: RulesConfig = field(default_factory=RulesConfig)
    links: LinksConfig = field(default_factory=LinksConfig)
    alta: AltaConfig = field(default_factory=AltaConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    talkdown: TalkdownConfig = field(default_factory=TalkdownConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    amcrest: tuple[AmcrestCameraConfig, ...] = ()  # [[amcrest]] tables

    @property
    def listen_host_port(self) -> tuple[str, int]:
        return parse_host_port(self.server.listen, "[server] listen")


def parse_host_port(value: str, what: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not is_ascii_digits(port) or len(port) > 5 or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{what}: expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


# Sections that are lists of tables ([[amcrest]]), each item one dataclass.
LIST_SECTIONS = {"amcrest": AmcrestCameraConfig}


def _sections() -> dict[str, type]:
    hints = typing.get_type_hints(Config)
    return {f.name: hints[f.name] for f in dataclasses.fields(Config) if f.name not in LIST_SECTIONS}


def _convert(value: Any, expected: type, where: str) -> Any:
    # bool is an int in Python: check it first so `true` never passes for a number.
    if expected is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
            return value.lower() in ("true", "1", "yes")
    elif expected is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
    elif expected is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif expected is str:
        if isinstance(value, str):
            return value
    elif typing.get_origin(expected) is tuple:
        # A TOML list of strings, or (from the environment) one comma-separated string.
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return tuple(value)
        raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
    shown = "a value" if _is_secret(where) else repr(value)  # never echo a secret
    raise ConfigError(f"{where}: expected {expected.__name__}, got {shown}")


def _is_secret(where: str) -> bool:
    return any(word in where for word in ("password", "user_key", "admin_key", "secret", "redis_url"))


def _build_item(cls: type, values: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in fields:
            raise _unknown(f"key in {where}", key, fields)
        kwargs[key] = _convert(value, hints[key], f"{where} {key}")
    missing = [
        name
        for name, f in fields.items()
        if name not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{where}: missing {', '.join(missing)}")
    return cls(**kwargs)


def _build_amcrest(tables: Any, environ: Mapping[str, str]) -> tuple[AmcrestCameraConfig, ...]:
    """`[[amcrest]]` tables; a camera's password may come from WEPGW_AMCREST_<ID>_PASSWORD
    (the id upper-cased, '-' as '_')."""
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        raise ConfigError("[[amcrest]]: expected a list of tables ([[amcrest]] blocks)")
    cameras = []
    for number, table in enumerate(tables, 1):
        table = dict(table)
        camera_id = table.get("id")
        where = f"[[amcrest]] #{number}" if not isinstance(camera_id, str) else f"[[amcrest]] {camera_id!r}"
        if not isinstance(camera_id, str) or not AMCREST_ID.fullmatch(camera_id):
            raise ConfigError(f"{where} id: expected lower-case letters, digits and '-', got {camera_id!r}")
        env_password = environ.get(f"{ENV_PREFIX}AMCREST_{camera_id.upper().replace('-', '_')}_PASSWORD")
        if env_password is not None:
            table["password"] = env_password
        cameras.append(_build_item(AmcrestCameraConfig, table, where))
    ids = [camera.id for camera in cameras]
    for camera_id in ids:
        if ids.count(camera_id) > 1:
            raise ConfigError(f"[[amcrest]] id {camera_id!r} is used twice")
    for camera in cameras:
        where = f"[[amcrest]] {camera.id!r}"
        if not camera.host or "/" in camera.host:
            raise ConfigError(f"{where} host: expected a host name or address, got {camera.host!r}")
        for key in ("http_port", "rtsp_port"):
            if not 1 <= getattr(camera, key) <= 65535:
                raise ConfigError(f"{where} {key}: expected 1..65535, got {getattr(camera, key)}")
        if camera.channel < 1:
            raise ConfigError(f"{where} channel: expected 1 or more (channels count from 1), got {camera.channel}")
        if camera.speaker_codec not in AMCREST_SPEAKER_CODECS:
            raise ConfigError(
                f"{where} speaker_codec: expected one of {', '.join(AMCREST_SPEAKER_CODECS)}, "
                f"got {camera.speaker_codec!r}"
            )
        if camera.request_timeout <= 0 or camera.connect_timeout <= 0:
            raise ConfigError(f"{where}: request_timeout and connect_timeout must be positive")
    return tuple(cameras)


def _unknown(kind: str, name: str, known: typing.Iterable[str]) -> ConfigError:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"unknown {kind} {name!r}{hint}; expected one of: {', '.join(sorted(known))}")


def build_config(file_values: Mapping[str, Any], environ: Mapping[str, str]) -> Config:
    """Merge TOML values and `WEPGW_*` overrides into a validated Config."""
    sections = _sections()
    merged: dict[str, dict[str, Any]] = {name: {} for name in sections}
    amcrest = _build_amcrest(file_values.get("amcrest", []), environ)
    for section, values in file_values.items():
        if section in LIST_SECTIONS:
            continue
        if section not in sections:
            raise _unknown("config section", f"[{section}]", [f"[{s}]" for s in (*sections, *LIST_SECTIONS)])
        if not isinstance(values, dict):
            raise ConfigError(f"[{section}]: expected a table of keys")
        merged[section].update(values)
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        if rest.startswith("amcrest_") and rest.endswith("_password"):
            continue  # a camera's password, read by _build_amcrest
        named = next((s for s in sections if rest.startswith(s + "_")), None)
        if named is None:
            raise _unknown("environment variable", name, [f"{ENV_PREFIX}{s.upper()}_..." for s in sections])
        merged[named][rest[len(named) + 1 :]] = value
    built = {}
    for section, cls in sections.items():
        hints = typing.get_type_hints(cls)
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {}
        for key, value in merged[section].items():
            if key not in known:
                raise _unknown(f"key in [{section}]", key, known)
            kwargs[key] = _convert(value, hints[key], f"[{section}] {key}")
        built[section] = cls(**kwargs)
    config = Config(**built, amcrest=amcrest)
    validate(config)
    return config


def validate(config: Config) -> None:
    """Checks across values that a type alone cannot express."""
    _ = config.listen_host_port  # raises on a bad listen address
    config.talkdown.validate()
    if config.server.log_format not in ("text", "json"):
        raise ConfigError(f"[server] log_format: expected 'text' or 'json', got {config.server.log_format!r}")
    # An empty url: no WEP backend (a site of Amcrest/Dahua cameras only).
    if config.wep.url and not config.wep.url.startswith(("http://", "https://")):
        raise ConfigError(f"[wep] url: expected an http:// or https:// URL, got {config.wep.url!r}")
    if not config.wep.url and not config.amcrest:
        raise ConfigError("[wep] url is empty and there is no [[amcrest]] camera: nothing to serve")
    if config.wep.ca_file and not Path(config.wep.ca_file).is_file():
        raise ConfigError(f"[wep] ca_file: no such file {config.wep.ca_file!r}")
    positive = {
        "[hls] part_duration": config.hls.part_duration,
        "[hls] segment_min_duration": config.hls.segment_min_duration,
        "[hls] window_segments": config.hls.window_segments,
        "[wep] request_timeout": config.wep.request_timeout,
        "[wep] connect_timeout": config.wep.connect_timeout,
        "[wep] max_connections": config.wep.max_connections,
        "[sources] stall_timeout": config.sources.stall_timeout,
        "[sources] reconnect_initial_delay": config.sources.reconnect_initial_delay,
        "[sources] reconnect_max_delay": config.sources.reconnect_max_delay,
        "[sources] reconnect_watched_max_delay": config.sources.reconnect_watched_max_delay,
        "[sources] reader_queue_frames": config.sources.reader_queue_frames,
        "[sources] max_gop_bytes": config.sources.max_gop_bytes,
        "[snapshots] cache_bytes": config.snapshots.cache_bytes,
        "[live] send_timeout": config.live.send_timeout,
        "[live] max_delay_s": config.live.max_delay_s,
        "[limits] max_viewers_per_camera": config.limits.max_viewers_per_camera,
        "[limits] max_viewers_total": config.limits.max_viewers_total,
        "[limits] hls_viewer_window": config.limits.hls_viewer_window,
        "[limits] max_body_bytes": config.limits.max_body_bytes,
        "[limits] max_upload_bytes": config.limits.max_upload_bytes,
        "[limits] request_timeout": config.limits.request_timeout,
        "[limits] retry_after": config.limits.retry_after,
        "[events] heartbeat_ms": config.events.heartbeat_ms,
        "[events] ring_size": config.events.ring_size,
        "[events] queue_size": config.events.queue_size,
        "[events] subscriber_queue": config.events.subscriber_queue,
        "[events] audit_days": config.events.audit_days,
        "[rules] action_timeout_s": config.rules.action_timeout_s,
        "[rules] speaker_wait_s": config.rules.speaker_wait_s,
        "[rules] history_days": config.rules.history_days,
        "[rules] history_per_rule": config.rules.history_per_rule,
        "[rules] webhook_in_flight": config.rules.webhook_in_flight,
        "[rules] webhook_attempts": config.rules.webhook_attempts,
        "[rules] webhook_timeout_s": config.rules.webhook_timeout_s,
        "[links] max_ttl": config.links.max_ttl,
        "[links] default_ttl": config.links.default_ttl,
        "[alta] request_timeout": config.alta.request_timeout,
        "[alta] connect_timeout": config.alta.connect_timeout,
    }
    for where, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{where}: expected a positive number, got {value!r}")
    if config.hls.part_duration >= config.hls.segment_min_duration:
        raise ConfigError("[hls] part_duration: expected less than segment_min_duration")
    if config.hls.window_segments < 3:
        raise ConfigError("[hls] window_segments: expected at least 3 (RFC 8216 6.2.2)")
    _validate_events(config.events)
    _validate_rules(config.rules, config.links)
    _validate_alta(config.alta)
    _validate_cluster(config.cluster)
    for origin in config.server.cors_origin_list:
        # An origin is scheme://host[:port] (RFC 6454 6.1): no path, no wildcard parts.
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise ConfigError(f"[server] cors_origins: expected '*' or scheme://host[:port] items, got {origin!r}")


def _validate_cluster(cluster: ClusterConfig) -> None:
    if not cluster.redis_url:
        return
    if not cluster.redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            f"[cluster] redis_url: expected a redis://, rediss:// or unix:// URL, got {cluster.redis_url!r}"
        )
    if len(cluster.secret.encode()) < 16:
        raise ConfigError("[cluster] secret: at least 16 bytes are needed when redis_url is set (peers use it)")
    if cluster.advertise_url and not _BASE_URL.fullmatch(cluster.advertise_url):
        raise ConfigError(
            f"[cluster] advertise_url: expected an http:// or https:// URL, got {cluster.advertise_url!r}"
        )
    if cluster.node_id and not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", cluster.node_id):
        raise ConfigError("[cluster] node_id: expected 1 to 64 letters, digits, '.', '_' or '-'")
    if cluster.lease_ms < 500 or cluster.member_ttl_ms < 500:
        raise ConfigError("[cluster] lease_ms and member_ttl_ms: expected at least 500")


def _validate_events(events: EventsConfig) -> None:
    if events.public_url and not _BASE_URL.fullmatch(events.public_url):
        raise ConfigError(
            f"[events] public_url: expected an http:// or https:// URL without query, got {events.public_url!r}"
        )
    if events.clip_pre_s < 0:
        raise ConfigError(f"[events] clip_pre_s: expected 0 or more seconds, got {events.clip_pre_s!r}")
    if events.topics_blacklist and tuple(events.topics_whitelist) != ("ALL",):
        raise ConfigError("[events] topics_whitelist and topics_blacklist: set one of them, not both")
    if not events.topics_whitelist:
        raise ConfigError('[events] topics_whitelist: expected at least one topic (["ALL"] for every event)')
    for topic in (*events.topics_whitelist, *events.topics_blacklist):
        if not _TOPIC.fullmatch(topic):
            raise ConfigError(f"[events] topics: expected WEP topic names like DEVICE_MOTION_START, got {topic!r}")


def _validate_rules(rules: RulesConfig, links: LinksConfig) -> None:
    try:
        zoneinfo.ZoneInfo(rules.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"[rules] timezone: expected an IANA zone name like Europe/Berlin, got {rules.timezone!r}"
        ) from None
    if links.default_ttl > links.max_ttl:
        raise ConfigError(f"[links] default_ttl: expected at most max_ttl ({links.max_ttl}), got {links.default_ttl}")
    if links.clip_post_s < 0:
        raise ConfigError(f"[links] clip_post_s: expected 0 or more seconds, got {links.clip_post_s!r}")


def _validate_alta(alta: AltaConfig) -> None:
    if not alta.url:
        return
    if not _BASE_URL.fullmatch(alta.url):
        raise ConfigError(f"[alta] url: expected https://<deployment>.<region>.alta.avigilon.com, got {alta.url!r}")
    if not alta.username or not alta.password:
        raise ConfigError(
            "[alta] username and password: both are needed with [alta] url (the password better "
            "from WEPGW_ALTA_PASSWORD)"
        )
    if len(alta.webhook_secret) < 16 or not re.fullmatch(r"[A-Za-z0-9_-]+", alta.webhook_secret):
        raise ConfigError(
            "[alta] webhook_secret: expected at least 16 characters of A-Z a-z 0-9 _ - (it is the "
            "webhook URL's last segment; e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
        )
    for name in ("zone_key", "device_key"):
        if not getattr(alta, name):
            raise ConfigError(f"[alta] {name}: expected the payload key Alta's alarm action uses")


_BASE_URL = re.compile(r"https?://[^\s/?#]+(/[^\s?#]*)?")
_TOPIC = re.compile(r"[A-Z][A-Z0-9_]*")
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-]+(:\d{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:\d{1,5})?")


def load_config(path: str | None, environ: Mapping[str, str] | None = None) -> Config:
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    if path:
        try:
            with open(path, "rb") as f:
                values = tomllib.load(f)
        except FileNotFoundError:
            raise ConfigError(f"config file {path!r} not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path!r} is not valid TOML: {exc}") from None
    return build_config(values, environ)
