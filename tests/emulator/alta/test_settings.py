"""AltaSettings.validate: one clear message per mistake."""

from __future__ import annotations

import pytest

from gateway.emulator.alta import AltaEmulator, AltaSettings, DeviceSpec, ZoneSpec
from gateway.emulator.settings import SettingsError

CAM = (DeviceSpec(1, "Cam"),)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"port": 70000}, "port must be 0..65535, not 70000"),
        ({"password": ""}, "username and password must not be empty"),
        ({"cookie_name": "a b"}, "cookie_name must be letters, digits, '_' or '-', not 'a b'"),
        ({"session_ttl": 0}, "session_ttl must be positive, not 0"),
        ({"webhook_timeout_s": -1}, "webhook_timeout_s must be positive, not -1"),
        ({"merge_window_s": -1}, "merge_window_s must be 0 or more, not -1"),
        ({"alert_lag_s": -0.5}, "alert_lag_s must be 0 or more, not -0.5"),
        ({"envelope": "data"}, "envelope must be one of ('wrapped', 'bare'), not 'data'"),
        ({"ids": "uuid"}, "ids must be one of ('int', 'str'), not 'uuid'"),
        ({"end_again": "maybe"}, "end_again must be one of ('conflict', 'ok'), not 'maybe'"),
        ({"webhook_url": "example.com/hook"}, "webhook_url must be empty or an http(s) URL, not 'example.com/hook'"),
        ({"webhook_format": "xml"}, "webhook_format must be one of ('json', 'form'), not 'xml'"),
        ({"zone_key": ""}, "zone_key and device_key must not be empty"),
        ({"zones": ()}, "zones must hold at least one alarm zone"),
        ({"zones": (ZoneSpec(1, "A", CAM), ZoneSpec(1, "B", CAM))}, "zone ids must be unique, not [1, 1]"),
        ({"zones": (ZoneSpec(0, "A", CAM),)}, "zone id must be a positive integer, not 0"),
        ({"zones": (ZoneSpec("1", "A", CAM),)}, "zone id must be a positive integer, not '1'"),
        ({"zones": (ZoneSpec(1, "", CAM),)}, "zone 1 needs a name"),
        ({"zones": (ZoneSpec(1, "A", ()),)}, "zone 1 needs at least one device"),
        ({"zones": (ZoneSpec(1, "A", CAM * 2),)}, "zone 1: device ids must be unique, not [1, 1]"),
        ({"zones": (ZoneSpec(1, "A", (DeviceSpec(-2, "x"),)),)}, "zone 1: device id must be a positive integer"),
        ({"zones": (ZoneSpec(1, "A", (DeviceSpec(2, ""),)),)}, "zone 1: device 2 needs a name"),
    ],
)
def test_validate(overrides, message):
    with pytest.raises(SettingsError) as caught:
        AltaEmulator(AltaSettings(**overrides))
    assert str(caught.value).startswith(message)


def test_defaults_are_valid():
    s = AltaSettings()
    s.validate()
    assert (s.host, s.port, s.tls, s.username) == ("127.0.0.1", 0, False, "operator@example.com")
    assert (s.merge_window_s, s.alert_lag_s, s.envelope, s.ids) == (30.0, 0.0, "wrapped", "int")
    assert (s.zone_key, s.device_key, s.webhook_format, s.cookie_name) == ("alarmZoneId", "deviceId", "json",
                                                                           "_alta_session")  # fmt: skip
    assert len(s.zones) == 2 and all(len(z.devices) == 2 for z in s.zones)
