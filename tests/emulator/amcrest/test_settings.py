from __future__ import annotations

import pytest

from gateway.emulator.amcrest import AmcrestEmulator, AmcrestSettings


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"channels": 0}, "channels must be 1..64, not 0"),
        ({"channels": 2, "h265_channels": (3,)}, r"h265_channels \[3\] are not channels 1..2"),
        ({"audio": "opus"}, "audio must be one of"),
        ({"fps": 0}, "fps must be 1..60, not 0"),
        ({"loop_seconds": 2.5}, "loop_seconds must be a whole number of seconds >= 1, not 2.5"),
        ({"high_size": (641, 360)}, "video size 641x360 must be even and at least 16x16"),
        ({"heartbeat_default": 0}, "heartbeat_default must be positive, not 0"),
        ({"username": "a:b"}, "username must not contain ':'"),
        ({"rtsp_port": 70000}, "rtsp_port must be 0..65535, not 70000"),
    ],
)
def test_validate_names_the_setting(overrides, message):
    with pytest.raises(ValueError, match=message):
        AmcrestSettings(**overrides).validate()
    with pytest.raises(ValueError, match=message):
        AmcrestEmulator(AmcrestSettings(**overrides))


def test_urls_before_start_use_the_configured_ports():
    emulator = AmcrestEmulator(AmcrestSettings(http_port=8081, rtsp_port=8554, channels=4))
    assert emulator.http_url == "http://127.0.0.1:8081"
    assert emulator.rtsp_url(3, 1) == "rtsp://127.0.0.1:8554/cam/realmonitor?channel=3&subtype=1"
    assert emulator.rtsp_url(1, 0, credentials=True) == (
        "rtsp://admin:amcrest-emulator@127.0.0.1:8554/cam/realmonitor?channel=1&subtype=0"
    )
