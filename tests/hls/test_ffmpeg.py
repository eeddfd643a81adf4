"""ffmpeg (a player this project did not write) reads the gateway's HLS and decodes every
frame, in both emulator fragmenting modes and across upstream drops and expired sessions."""

import asyncio
import itertools

import pytest

from gateway.emulator.settings import EmulatorSettings
from tests.conftest import TEST_EMULATOR, require

pytestmark = [pytest.mark.peer, pytest.mark.timeout(120)]


@pytest.fixture(params=["frame", "gop"])
def emulator_settings(request, emulator_cache) -> EmulatorSettings:
    return EmulatorSettings(host="127.0.0.1", port=0, cache_dir=emulator_cache, fragment=request.param, **TEST_EMULATOR)


async def ffmpeg_frames(url: str, seconds: float) -> tuple[dict[int, list[int]], str]:
    """Decode `seconds` of the stream; returns pts per stream and ffmpeg's error output."""
    require("ffmpeg")
    process = await asyncio.create_subprocess_exec(
        "ffmpeg",
        "-nostdin",
        "-v",
        "error",
        "-i",
        url,
        "-t",
        str(seconds),
        "-f",
        "framemd5",
        "-",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), seconds + 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    pts: dict[int, list[int]] = {}
    for line in out.decode().splitlines():
        if line and not line.startswith("#"):
            fields = [field.strip() for field in line.split(",")]
            pts.setdefault(int(fields[0]), []).append(int(fields[2]))
    return pts, err.decode()


def assert_clean(pts: dict[int, list[int]], errors: str, seconds: float) -> None:
    assert errors == ""  # no decode error, no demuxer complaint
    video = pts[0]  # stream 0 is the video (640x360 at 15 fps); framemd5 pts count frames
    # `-t` counts from the earliest stream of the multivariant playlist: another variant's
    # muxer may have started first, so this one's video begins video[0] frames in.
    assert len(video) >= (seconds * 15 - video[0]) * 0.9
    assert all(b > a for a, b in itertools.pairwise(video)), "video timestamps go backwards"
    for stream, times in pts.items():
        assert all(b >= a for a, b in itertools.pairwise(times)), f"stream {stream} not monotonic"


async def test_ffmpeg_decodes_every_frame(emulator, gateway_url):
    url = f"{gateway_url}/hls/{emulator.camera_ids[0]}/index.m3u8"
    pts, errors = await ffmpeg_frames(url, 6)
    assert_clean(pts, errors, 6)
    video = pts[0]
    assert {b - a for a, b in itertools.pairwise(video)} == {1}, "a frame is missing or repeated"


async def test_ffmpeg_across_drops_and_expired_sessions(emulator, gateway_url):
    url = f"{gateway_url}/hls/{emulator.camera_ids[0]}/high/playlist.m3u8"
    reading = asyncio.ensure_future(ffmpeg_frames(url, 14))
    await asyncio.sleep(5)
    assert emulator.drop_streams() >= 1
    await asyncio.sleep(4)
    emulator.expire_sessions()
    emulator.drop_streams()
    pts, errors = await reading
    assert_clean(pts, errors, 14)
    # the gateway really reconnected upstream while ffmpeg kept reading
    connections = emulator.stats["media_connections"]
    assert connections[f"{emulator.camera_ids[0]}/fmp4/high"] >= 3
