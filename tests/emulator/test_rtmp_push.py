"""/media/rtmp really pushes FLV over RTMP: FFmpeg listening as the receiver checks it."""

import asyncio
import socket
import subprocess

import pytest

from tests.emulator.conftest import api, assert_envelope, login

pytestmark = pytest.mark.peer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def receiver(url: str, seconds: float, out) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        "ffmpeg", "-v", "error", "-y", "-listen", "1", "-i", url, "-t", str(seconds), "-c", "copy", str(out)
    )
    await asyncio.sleep(0.5)  # let it bind
    return proc


async def pushes(http, emulator, session) -> list[dict]:
    async with http.get(api(emulator, "media/rtmp"), params={"session": session}) as resp:
        return (await resp.json())["result"]["streams"]


async def test_push_both_reaches_the_receiver_and_ends_when_it_drops(emulator, http, tmp_path):
    session = await login(http, emulator)
    url = f"rtmp://127.0.0.1:{free_port()}/live/stream-key"
    out = tmp_path / "got.flv"
    proc = await receiver(url, 2.0, out)
    body = {"session": session, "cameraId": emulator.camera_ids[0], "url": url, "time": "live",
            "media": "both", "quality": "low"}  # fmt: skip
    async with http.post(api(emulator, "media/rtmp"), json=body) as resp:
        push_id = (await resp.json())["result"]["id"]
    listed = await pushes(http, emulator, session)
    assert [(p["id"], p["url"], p["media"], p["quality"]) for p in listed] == [(push_id, url, "both", "low")]
    assert await asyncio.wait_for(proc.wait(), 20) == 0
    probed = await asyncio.to_thread(subprocess.run, ["ffprobe", "-v", "error", "-show_entries",
                                     "stream=codec_name,width,height", "-of", "csv=p=0", str(out)],
                                     capture_output=True, text=True, timeout=30, check=True)  # fmt: skip
    streams = probed.stdout.split()
    assert streams == ["h264,160,90", "aac"]
    for _ in range(100):  # the receiver left: the push ends and leaves the list
        if not await pushes(http, emulator, session):
            break
        await asyncio.sleep(0.1)
    assert await pushes(http, emulator, session) == []
    assert emulator.stats["pushes_started"] == 1


async def test_delete_stops_the_sessions_pushes(emulator, http, tmp_path):
    session = await login(http, emulator)
    url = f"rtmp://127.0.0.1:{free_port()}/live/k"
    proc = await receiver(url, 30, tmp_path / "x.flv")
    try:
        body = {"session": session, "cameraId": emulator.camera_ids[1], "url": url, "media": "video"}
        async with http.post(api(emulator, "media/rtmp"), json=body) as resp:
            push_id = (await resp.json())["result"]["id"]
        async with http.delete(api(emulator, "media/rtmp"), json={"session": session, "ids": []}) as resp:
            assert (await resp.json())["result"]["ids"] == [push_id]
        assert await pushes(http, emulator, session) == []
        body["media"] = "audio"  # the plain camera has no microphone
        async with http.post(api(emulator, "media/rtmp"), json=body) as resp:
            assert_envelope(await resp.json(), 409, "CONFLICT")
        body.update(media="video", url="http://example.invalid/")
        async with http.post(api(emulator, "media/rtmp"), json=body) as resp:
            assert_envelope(await resp.json(), 400, "BAD_REQUEST")
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
