"""FFmpeg as the RTSP client: it must authenticate, set up, and decode every frame."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.conftest import require

pytestmark = pytest.mark.peer
SECONDS = 1


async def run(*argv: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 30)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode, out.decode(), err.decode()


async def probe(url: str, *extra: str) -> dict[str, dict]:
    """ffprobe's streams by codec type, every frame of `SECONDS` decoded and counted."""
    require("ffprobe")
    code, out, err = await run(
        "ffprobe", "-v", "error", "-rtsp_transport", "tcp", *extra, "-read_intervals", f"%+{SECONDS}",
        "-count_frames", "-show_streams", "-of", "json", url,
    )  # fmt: skip
    assert code == 0 and err == "", err
    return {s["codec_type"]: s for s in json.loads(out)["streams"]}


def assert_video(stream: dict, codec: str, width: int, height: int) -> None:
    assert stream["codec_name"] == codec
    assert (stream["width"], stream["height"]) == (width, height)
    assert stream["r_frame_rate"] == "15/1"
    # the backlog since the last keyframe (< 1 s) comes at once, then 15 frames a second
    assert 15 * SECONDS - 2 <= int(stream["nb_read_frames"]) <= 15 * (SECONDS + 1) + 2


async def test_h264_and_pcma(amcrest):
    streams = await probe(amcrest.rtsp_url(1, 0, credentials=True))
    assert_video(streams["video"], "h264", 640, 360)
    audio = streams["audio"]
    assert (audio["codec_name"], audio["sample_rate"], audio["channels"]) == ("pcm_alaw", "8000", 1)
    assert int(audio["nb_read_frames"]) >= 50 * SECONDS - 2  # 20 ms packets
    assert amcrest.stats["rtsp_sessions_total"] == 1
    for _ in range(100):  # FFmpeg sends TEARDOWN and closes without waiting for the answer
        if amcrest.stats["rtsp_sessions"] == 0:
            break
        await asyncio.sleep(0.02)
    assert amcrest.stats["rtsp_sessions"] == 0


async def test_h265_channel(amcrest):
    streams = await probe(amcrest.rtsp_url(2, 0, credentials=True))
    assert_video(streams["video"], "hevc", 640, 360)


async def test_sub_stream_decodes_without_errors(amcrest):
    """ffmpeg decodes both tracks of subtype 1 to the end; not one warning on stderr."""
    require("ffmpeg")
    code, out, err = await run(
        "ffmpeg", "-v", "warning", "-rtsp_transport", "tcp", "-i", amcrest.rtsp_url(1, 1, credentials=True),
        "-t", str(SECONDS), "-f", "framemd5", "-",
    )  # fmt: skip
    assert code == 0 and err == "", err
    assert "#dimensions 0: 320x180" in out
    video = [line for line in out.splitlines() if line.startswith("0,")]
    audio = [line for line in out.splitlines() if line.startswith("1,")]
    assert len(video) == 15 * SECONDS
    assert len(audio) >= 50 * SECONDS - 2


async def test_aac_audio(make_amcrest):
    emulator = await make_amcrest(audio="aac")
    streams = await probe(emulator.rtsp_url(1, 1, credentials=True))
    assert_video(streams["video"], "h264", 320, 180)
    audio = streams["audio"]
    assert (audio["codec_name"], audio["profile"], audio["sample_rate"], audio["channels"]) == ("aac", "LC", "16000", 1)
    assert int(audio["nb_read_frames"]) >= SECONDS * 16000 // 1024 - 2


async def test_video_only_setup(amcrest):
    streams = await probe(amcrest.rtsp_url(1, 1, credentials=True), "-allowed_media_types", "video")
    assert list(streams) == ["video"]


async def test_wrong_password_is_401(amcrest):
    require("ffprobe")
    url = amcrest.rtsp_url(1, 0, credentials=True).replace(amcrest.settings.password, "wrong")
    code, _, err = await run("ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_streams", url)
    assert code != 0
    assert "401 Unauthorized" in err
    assert amcrest.stats["rtsp_sessions_total"] == 0
