"""WepClient against the real WEP emulator (gateway/emulator, the root conftest's fixture),
with ffprobe as the judge of the media bytes."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess

import pytest

from gateway.config import WepConfig
from gateway.emulator.server import Emulator
from gateway.media.fmp4.boxes import parse_box_header
from gateway.wep.client import SpeakerInfo, WepClient
from gateway.wep.errors import WepUnavailable

STREAM_FRAMES = 20  # about 1.3 s at the test emulator's 15 fps


def emulator_config(emu: Emulator, **overrides) -> WepConfig:
    settings = emu.settings
    values = {
        "url": emu.url,
        "username": settings.username,
        "password": settings.password,
        "user_nonce": settings.user_nonce,
        "user_key": settings.user_key,
        "ca_file": emu.cert_path or "",
        "request_timeout": 5.0,
        "connect_timeout": 2.0,
    }
    values.update(overrides)
    return WepConfig(**values)


@pytest.fixture
async def wep(emulator):
    client = WepClient(emulator_config(emulator))
    await client.start()
    try:
        yield client
    finally:
        await client.close()


async def read_fragments(stream, frames: int) -> bytes:
    """Bytes up to the end of the `frames`-th complete moof+mdat (whole boxes only)."""
    buffer = bytearray()
    offset, moofs = 0, 0
    async for chunk in stream.chunks():
        buffer += chunk
        while (header := parse_box_header(buffer, offset)) is not None and header.end <= len(buffer):
            offset = header.end
            moofs += header.type == b"moof"
            if header.type == b"mdat" and moofs >= frames:
                return bytes(buffer[:offset])
    raise AssertionError(f"stream ended after {moofs} fragments")


def ffprobe_video(path) -> dict:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=codec_name,width,height,nb_read_frames",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stderr == ""
    return json.loads(out.stdout)["streams"][0]


async def test_login_and_cameras(wep, emulator):
    assert wep.logged_in
    cameras = await wep.cameras()
    assert [camera["id"] for camera in cameras] == emulator.camera_ids
    first = emulator.camera_ids[0]
    assert [camera["id"] for camera in await wep.camera([first])] == [first]
    assert await wep.health() == "GOOD"


async def test_mpd_qualities_match_the_emulator(wep, emulator):
    presentation = await wep.mpd(emulator.camera_ids[0])
    high, low = presentation.for_quality("high"), presentation.for_quality("low")
    assert (high.width, high.height) == emulator.settings.high_size
    assert (low.width, low.height) == emulator.settings.low_size
    assert high.base_url.startswith(emulator.url + "/mt/api/rest/v1/media?")
    assert len(presentation.tiles) == 4


async def test_speaker_codecs(wep, emulator):
    with_speaker, plain = emulator.camera_ids[0], emulator.camera_ids[-1]
    assert await wep.speaker(with_speaker) == SpeakerInfo(True, ("audio/PCMU",))
    assert await wep.speaker(plain) == SpeakerInfo(False, ())


async def test_jpeg_decodes(wep, emulator, tmp_path):
    picture = await wep.jpeg(emulator.camera_ids[0], size="320,180")
    path = tmp_path / "snapshot.jpg"
    path.write_bytes(picture)
    video = ffprobe_video(path)
    assert video["codec_name"] == "mjpeg"


async def test_stream_bytes_decode(wep, emulator, tmp_path):
    camera = emulator.camera_ids[0]
    representation = (await wep.mpd(camera)).for_quality("low")
    async with wep.open_stream(camera, base_url=representation.base_url, read_timeout=5.0) as stream:
        assert stream.content_type == "video/mp4"
        media = await asyncio.wait_for(read_fragments(stream, STREAM_FRAMES), 30)
    path = tmp_path / "low.mp4"
    path.write_bytes(media)
    video = ffprobe_video(path)
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", *emulator.settings.low_size)
    assert int(video["nb_read_frames"]) == STREAM_FRAMES


async def test_relogin_after_expiry_mid_run(wep, emulator, tmp_path):
    camera = emulator.camera_ids[0]
    stale = (await wep.mpd(camera)).for_quality("low").base_url
    async with wep.open_stream(camera, quality="high", read_timeout=5.0) as stream:
        await asyncio.wait_for(read_fragments(stream, 3), 30)
        assert emulator.expire_sessions() >= 1
        # The open stream keeps running (guide: streaming sessions don't expire) ...
        await asyncio.wait_for(read_fragments(stream, 3), 30)
        # ... and the next ordinary call re-logs in.
        assert len(await wep.cameras()) == len(emulator.camera_ids)
    assert wep.stats.relogins == 1
    # The BaseURL fetched before the expiry still opens: its session is swapped for the new one.
    async with wep.open_stream(camera, base_url=stale, read_timeout=5.0) as stream:
        media = await asyncio.wait_for(read_fragments(stream, 5), 30)
    path = tmp_path / "after.mp4"
    path.write_bytes(media)
    assert int(ffprobe_video(path)["nb_read_frames"]) == 5
    assert wep.stats.relogins == 1


async def test_expired_session_on_stream_open(wep, emulator):
    camera = emulator.camera_ids[0]
    stale = (await wep.mpd(camera)).for_quality("high").base_url
    emulator.expire_sessions()
    async with wep.open_stream(camera, base_url=stale, read_timeout=5.0) as stream:
        await asyncio.wait_for(read_fragments(stream, 2), 30)
    assert wep.stats.relogins == 1


async def test_stall_is_detected(wep, emulator):
    camera = emulator.camera_ids[0]
    with pytest.raises(WepUnavailable, match="read timeout"):
        async with wep.open_stream(camera, quality="low", read_timeout=0.5) as stream:
            await asyncio.wait_for(read_fragments(stream, 2), 30)
            emulator.stall_streams(5.0)
            async for _ in stream.chunks():
                pass


async def test_injected_503_is_unavailable_and_not_retried(wep, emulator):
    emulator.fail_next(1, 503)
    with pytest.raises(WepUnavailable) as caught:
        await wep.cameras()
    assert (caught.value.status, caught.value.name) == (503, "SERVICE_UNAVAILABLE")
    assert len(await wep.cameras()) == len(emulator.camera_ids)
    assert wep.stats.relogins == 0


async def test_dropped_stream_is_connection_closed(wep, emulator):
    camera = emulator.camera_ids[0]
    with pytest.raises(WepUnavailable) as caught:
        async with wep.open_stream(camera, quality="low", read_timeout=5.0) as stream:
            await asyncio.wait_for(read_fragments(stream, 2), 30)
            assert emulator.drop_streams() >= 1
            async for _ in stream.chunks():
                pass
    # WEP closed the connection: no 502 came, so none is logged or counted (issue 19).
    assert (caught.value.name, caught.value.cause) == ("CONNECTION_CLOSED", "connection_closed")
    assert str(caught.value) == f"WEP CONNECTION_CLOSED: camera {camera}: stream cut short, WEP closed it mid-transfer"


async def test_injected_502_is_counted_as_a_502(wep, emulator):
    emulator.fail_next(1, 502)
    with pytest.raises(WepUnavailable) as caught:
        await wep.cameras()
    assert (caught.value.status, caught.value.cause) == (502, "upstream_502")
    assert str(caught.value).startswith("WEP 502 ")


async def test_talkdown_audio_arrives(wep, emulator):
    camera = emulator.camera_ids[0]
    tone = bytes(range(256)) * 8  # 2048 bytes, 256 ms of PCMU

    async def chunks():
        for start in range(0, len(tone), 160):
            yield tone[start : start + 160]

    await wep.post_audio(camera, chunks())
    assert emulator.talk_audio(camera) == tone


async def test_logout_on_close(emulator):
    client = WepClient(emulator_config(emulator))
    await client.start()
    assert emulator.stats["sessions"] == 1
    await client.close()
    assert emulator.stats["sessions"] == 0


async def test_tls_verification(emulator_settings):
    emu = Emulator(dataclasses.replace(emulator_settings, tls=True))
    await emu.start()
    try:
        assert emu.url.startswith("https://")
        # Verification is on by default: a self-signed certificate is refused.
        refused = WepClient(emulator_config(emu, ca_file=""))
        with pytest.raises(WepUnavailable) as caught:
            await refused.start()
        await refused.close()
        assert caught.value.name == "TLS_ERROR"
        for config in (emulator_config(emu), emulator_config(emu, ca_file="", verify_tls=False)):
            client = WepClient(config)
            await client.start()
            assert len(await client.cameras()) == emu.settings.cameras
            await client.close()
    finally:
        await emu.stop()
