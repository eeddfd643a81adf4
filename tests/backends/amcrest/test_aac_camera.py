"""A camera that sends AAC (RFC 3640 over RTSP): its access units reach HLS and /live
players untouched, and WebRTC viewers get opus made from them once."""

from __future__ import annotations

import asyncio

import pytest

from gateway.emulator.amcrest import AmcrestSettings
from gateway.services import SOURCES
from tests.backends.amcrest.conftest import SMALL, recorded_live
from tests.rtmp.nginx import decoded_seconds

pytestmark = [pytest.mark.peer, pytest.mark.timeout(120)]


@pytest.fixture
def amcrest_settings(emulator_cache) -> AmcrestSettings:
    return AmcrestSettings(channels=1, audio="aac", cache_dir=emulator_cache, **SMALL)


async def test_aac_passes_through_to_live_and_opus_is_made_for_webrtc(porch_ready, gateway, gateway_url, tmp_path):
    kinds, found = await recorded_live(gateway_url, "porch", 6, tmp_path / "porch.mp4")
    assert kinds["audio"]["codec_name"] == "aac" and found["errors"] == ""
    assert decoded_seconds(found["frames"]["audio"]) >= 4.5

    audio = gateway.app[SOURCES].camera_audio("porch")
    assert audio is not None and audio.track.codec == "mp4a.40.2"
    # Passed through: the hubs' AAC is the camera's own (its AudioSpecificConfig, its rate).
    assert audio.track.sample_rate == 16000 and audio.track.codec_config[:2] == bytes.fromhex(
        "1408"
    )  # LC, 16 kHz, mono
    reader = audio.opus_hub.subscribe(queue_frames=500)
    await asyncio.sleep(1.0)
    packets = [reader.get_nowait() for _ in range(reader.queued)]
    assert len(packets) >= 30 and all(frame.sample.duration == 960 for frame in packets)
