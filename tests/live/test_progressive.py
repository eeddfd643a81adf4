"""GET /live/{camera}.mp4 in front of the emulator, checked by ffprobe/ffmpeg."""

import asyncio
import itertools
import json
import subprocess
import time
from collections import Counter

import aiohttp
import pytest

from tests.conftest import require


async def read_stream(url: str, seconds: float, during=None) -> bytes:
    """Read a progressive stream for `seconds`; `during(elapsed)` may inject faults."""
    body = bytearray()
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, timeout=aiohttp.ClientTimeout(total=seconds + 30)) as response,
    ):
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"] == "video/mp4"
        start = time.monotonic()
        async for chunk in response.content.iter_any():
            body += chunk
            elapsed = time.monotonic() - start
            if during is not None:
                await during(elapsed)
            if elapsed > seconds:
                break
    return bytes(body)


def probe_packets(path) -> dict[str, list[float]]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "packet=codec_type,dts_time", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    packets: dict[str, list[float]] = {}
    for packet in json.loads(out.stdout)["packets"]:
        packets.setdefault(packet["codec_type"], []).append(float(packet["dts_time"]))
    return packets


def decode_errors(path) -> str:
    result = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr.strip()


def assert_plays(path, seconds: float, fps: int = 15) -> dict[str, list[float]]:
    assert decode_errors(path) == ""
    packets = probe_packets(path)
    video = packets["video"]
    assert all(b > a for a, b in itertools.pairwise(video)), "video timestamps must increase"
    # Real time: about fps frames a second (plus the GOP primed at the start).
    assert len(video) >= fps * (seconds - 2)
    audio = packets.get("audio", [])
    assert len(audio) > 0, "the camera's audio (AAC) is missing"
    assert all(b > a for a, b in itertools.pairwise(audio)), "audio timestamps must increase"
    return packets


@pytest.fixture
def camera_url(gateway_url, emulator):
    return f"{gateway_url}/live/{emulator.camera_ids[0]}.mp4"


@pytest.mark.parametrize("fragment", ["frame", "gop"])
async def test_progressive_stream_decodes_in_both_fragmenting_modes(
    fragment, emulator_settings, aiohttp_server, tmp_path
):
    require("ffprobe", "ffmpeg")
    from gateway.app import create_app
    from gateway.emulator.server import Emulator
    from tests.conftest import config_for

    emulator_settings.fragment = fragment
    emu = Emulator(emulator_settings)
    await emu.start()
    try:
        server = await aiohttp_server(create_app(config_for(emu)))
        body = await read_stream(str(server.make_url(f"/live/{emu.camera_ids[0]}.mp4")), 8)
    finally:
        await emu.stop()
    path = tmp_path / f"live-{fragment}.mp4"
    path.write_bytes(body)
    assert_plays(path, 8)


async def test_stream_survives_upstream_drop_and_session_expiry(camera_url, emulator, tmp_path):
    require("ffprobe", "ffmpeg")
    faults = {}

    async def inject(elapsed):
        if elapsed > 3 and "drop" not in faults:
            faults["drop"] = emulator.drop_streams()
        if elapsed > 7 and "expire" not in faults:
            faults["expire"] = emulator.expire_sessions()
            emulator.drop_streams()

    body = await read_stream(camera_url, 14, inject)
    path = tmp_path / "live-faults.mp4"
    path.write_bytes(body)
    packets = assert_plays(path, 14 - 4)  # reconnects cost a little picture
    video = packets["video"]
    assert faults["drop"] >= 1 and faults["expire"] >= 1
    # Frames kept flowing after both faults, and the timeline stayed continuous.
    assert video[-1] - video[0] > 9
    assert emulator.stats["logins"] >= 2  # re-login after the expiry
    opened = emulator.stats["media_connections"]
    assert sum(count for key, count in opened.items() if "/fmp4/" in key) >= 3


async def test_many_viewers_share_one_upstream_connection(camera_url, emulator):
    async def viewer(session):
        async with session.get(camera_url) as response:
            assert response.status == 200
            received = 0
            async for chunk in response.content.iter_any():
                received += len(chunk)
                if received > 50_000:
                    return received

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        results = await asyncio.wait_for(asyncio.gather(*(viewer(session) for _ in range(100))), 60)
    assert all(received > 50_000 for received in results)
    opened = emulator.stats["media_connections"]
    assert [count for key, count in opened.items() if "/fmp4/" in key] == [1]


async def test_stalled_viewer_is_dropped_and_does_not_delay_others(emulator_settings, aiohttp_server, tmp_path):
    require("ffprobe", "ffmpeg")
    import socket

    from gateway.app import create_app
    from gateway.emulator.server import Emulator
    from tests.conftest import config_for

    emu = Emulator(emulator_settings)
    await emu.start()
    try:
        app = create_app(config_for(emu, live={"send_timeout": 1.0}, sources={"reader_queue_frames": 30}))

        async def small_send_buffer(request, response):
            # Loopback socket buffers grow to megabytes, hours of this small test stream:
            # a small one stands for a real network path that stops moving.
            request.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)

        app.on_response_prepare.append(small_send_buffer)
        server = await aiohttp_server(app)
        path = f"/live/{emu.camera_ids[0]}.mp4"
        # A viewer that stops reading: a tiny receive window (set before connect, so the
        # kernel cannot absorb the stream) and a transport that is paused.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (server.host, server.port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {server.host}\r\n\r\n".encode())
        await writer.drain()
        writer.transport.pause_reading()
        body = await read_stream(str(server.make_url(path)), 16)
        # The gateway must have given up on the stalled viewer: once it reads again it
        # finds the end of the stream, not a live stream that goes on.
        writer.transport.resume_reading()
        deadline = time.monotonic() + 20
        ended = False
        while time.monotonic() < deadline:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), deadline - time.monotonic())
            except ConnectionResetError:
                ended = True
                break
            except TimeoutError:
                break
            if not chunk:
                ended = True
                break
        writer.close()
        assert ended, "the stalled viewer was never dropped"
    finally:
        await emu.stop()
    path = tmp_path / "normal-viewer.mp4"
    path.write_bytes(body)
    assert_plays(path, 16)


async def test_unknown_camera_and_bad_quality_get_json_errors(gateway_url, emulator):
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gateway_url}/live/nope.mp4") as response:
            assert response.status == 404
            assert (await response.json())["error"]["code"] == "not_found"
        async with session.get(f"{gateway_url}/live/{emulator.camera_ids[0]}.mp4?quality=ultra") as response:
            assert response.status == 400
            assert "quality" in (await response.json())["error"]["message"]


async def test_a_stalled_upstream_is_reconnected_and_counted_as_a_stall(gateway, camera_url, emulator):
    from gateway.app import SOURCES

    async def stall(elapsed):
        if elapsed > 2 and not stalled:
            stalled.append(True)
            emulator.stall_streams(5.0)  # longer than the test config's 3 s stall_timeout

    stalled: list[bool] = []
    body = await read_stream(camera_url, 10, stall)
    assert body[4:8] == b"ftyp"
    causes = sum((source.counters.reconnects for source in gateway.app[SOURCES].running()), Counter())
    assert causes["stall"] >= 1, causes
