"""The Alta emulator's one typed configuration, built by the CLI (or a test) and passed in."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.emulator.settings import SettingsError

WEBHOOK_FORMATS = ("json", "form")
ENVELOPES = ("wrapped", "bare")
ID_TYPES = ("int", "str")
END_AGAIN = ("conflict", "ok")


@dataclass(frozen=True)
class DeviceSpec:
    id: int
    name: str


@dataclass(frozen=True)
class ZoneSpec:
    id: int
    name: str
    devices: tuple[DeviceSpec, ...]
    armed: bool = True


DEFAULT_ZONES = (
    ZoneSpec(1, "Warehouse Perimeter", (DeviceSpec(101, "Loading Dock North"), DeviceSpec(102, "Loading Dock South"))),
    ZoneSpec(2, "Main Office", (DeviceSpec(201, "Lobby Entrance"), DeviceSpec(202, "Server Room Door"))),
)


def check_webhook(url: str, format: str, zone_key: str, device_key: str) -> None:
    """SettingsError unless this is an alarm action a user could have typed."""
    if url and not url.startswith(("http://", "https://")):
        raise SettingsError(f"webhook_url must be empty or an http(s) URL, not {url!r}")
    if format not in WEBHOOK_FORMATS:
        raise SettingsError(f"webhook_format must be one of {WEBHOOK_FORMATS}, not {format!r}")
    if not zone_key or not device_key:
        raise SettingsError("zone_key and device_key must not be empty")
    if zone_key == device_key:
        raise SettingsError(f"zone_key and device_key must differ, both are {zone_key!r}")


@dataclass
class AltaSettings:
    host: str = "127.0.0.1"
    port: int = 0  # 0: pick a free port
    tls: bool = False  # True: HTTPS with a self-signed certificate (cert_path once started)
    username: str = "operator@example.com"  # the deployment user's e-mail (matched case-insensitively)
    password: str = "alta-emulator"
    cookie_name: str = "_alta_session"  # the guide never names it; a client must not depend on it
    zones: tuple[ZoneSpec, ...] = DEFAULT_ZONES
    session_ttl: float = 3600.0  # seconds from dologin; then every call answers 401
    merge_window_s: float = 30.0  # a detection this close to an alert's last one joins it
    alert_lag_s: float = 0.0  # a new alert shows in the API this long after its webhook is sent
    webhook_url: str = ""  # the zones' alarm action; empty: no webhook
    webhook_format: str = "json"  # "json" body or "form" fields
    zone_key: str = "alarmZoneId"  # the key the user typed for $alarmZoneId
    device_key: str = "deviceId"  # ... and for $deviceId
    webhook_timeout_s: float = 5.0
    webhook_verify_tls: bool = True  # False for https receivers with self-signed certificates
    envelope: str = "wrapped"  # lists as {"alerts": [...]} ("wrapped") or a bare JSON array ("bare")
    ids: str = "int"  # zone, device, bookmark and user ids as JSON numbers ("int") or strings ("str")
    end_again: str = "conflict"  # ending an ended alert: 409 ("conflict") or 200 with the alert ("ok")

    def validate(self) -> None:
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"port must be 0..65535, not {self.port}")
        if not self.username or not self.password:
            raise SettingsError("username and password must not be empty")
        if not self.cookie_name or not self.cookie_name.replace("_", "").replace("-", "").isalnum():
            raise SettingsError(f"cookie_name must be letters, digits, '_' or '-', not {self.cookie_name!r}")
        for name in ("session_ttl", "webhook_timeout_s"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be positive, not {getattr(self, name)}")
        for name in ("merge_window_s", "alert_lag_s"):
            if getattr(self, name) < 0:
                raise SettingsError(f"{name} must be 0 or more, not {getattr(self, name)}")
        for name, allowed in (("envelope", ENVELOPES), ("ids", ID_TYPES), ("end_again", END_AGAIN)):
            if getattr(self, name) not in allowed:
                raise SettingsError(f"{name} must be one of {allowed}, not {getattr(self, name)!r}")
        check_webhook(self.webhook_url, self.webhook_format, self.zone_key, self.device_key)
        check_zones(self.zones)


def check_zones(zones: tuple[ZoneSpec, ...]) -> None:
    if not zones:
        raise SettingsError("zones must hold at least one alarm zone")
    zone_ids = [z.id for z in zones]
    if len(set(zone_ids)) != len(zone_ids):
        raise SettingsError(f"zone ids must be unique, not {zone_ids}")
    for zone in zones:
        if not isinstance(zone.id, int) or isinstance(zone.id, bool) or zone.id <= 0:
            raise SettingsError(f"zone id must be a positive integer, not {zone.id!r}")
        if not zone.name:
            raise SettingsError(f"zone {zone.id} needs a name")
        if not zone.devices:
            raise SettingsError(f"zone {zone.id} needs at least one device")
        device_ids = [d.id for d in zone.devices]
        if len(set(device_ids)) != len(device_ids):
            raise SettingsError(f"zone {zone.id}: device ids must be unique, not {device_ids}")
        for device in zone.devices:
            if not isinstance(device.id, int) or isinstance(device.id, bool) or device.id <= 0:
                raise SettingsError(f"zone {zone.id}: device id must be a positive integer, not {device.id!r}")
            if not device.name:
                raise SettingsError(f"zone {zone.id}: device {device.id} needs a name")
