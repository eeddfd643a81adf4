"""start/stop: every connection closes, and the CLI hook beside the WEP emulator."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

import aiohttp
import pytest

from gateway.emulator.server import add_arguments, amcrest_settings_from_args, run_from_args
from tests.emulator.amcrest.rtsp_client import RtspClient


async def test_stop_closes_event_streams_and_rtsp_sessions(make_amcrest):
    amcrest = await make_amcrest()
    s = amcrest.settings
    rtsp = await RtspClient.connect(amcrest.rtsp_port, s.username, s.password)
    base = amcrest.rtsp_url(1, 1) + "/"
    setup = await rtsp.request("SETUP", base + "trackID=0", [("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")])
    await rtsp.request("PLAY", base, [("Session", setup.headers["session"])])
    auth = aiohttp.DigestAuthMiddleware(s.username, s.password)
    url = f"{amcrest.http_url}/cgi-bin/eventManager.cgi?action=attach&codes=[All]"
    async with aiohttp.ClientSession(middlewares=(auth,)) as http, http.get(url) as events:
        assert events.status == 200
        await amcrest.stop()
        assert await asyncio.wait_for(events.content.read(), 3) == b""  # a clean end of the response
    with contextlib.suppress(ConnectionError):  # stop() aborts: EOF or a reset, but soon
        while await asyncio.wait_for(rtsp.reader.read(65536), 3):
            pass
    rtsp.close()
    assert amcrest.stats["rtsp_sessions"] == 0 and amcrest.stats["event_streams"] == 0


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_defaults():
    assert amcrest_settings_from_args(parse()) is None
    settings = amcrest_settings_from_args(parse("--amcrest", "3", "--fps", "10", "--cache-dir", ""))
    assert (settings.host, settings.http_port, settings.rtsp_port) == ("127.0.0.1", 8081, 8554)
    assert (settings.channels, settings.fps, settings.cache_dir) == (3, 10, None)
    with pytest.raises(ValueError, match="must use one host"):
        amcrest_settings_from_args(parse("--amcrest", "1", "--amcrest-rtsp", "0.0.0.0:554"))


async def test_cli_starts_both_emulators(emulator_cache, capsys):
    args = parse("--listen", "127.0.0.1:0", "--http", "--cameras", "1", "--loop-seconds", "4",
                 "--high-size", "640x360", "--low-size", "320x180", "--cache-dir", emulator_cache,
                 "--amcrest", "2", "--amcrest-http", "127.0.0.1:0", "--amcrest-rtsp", "127.0.0.1:0")  # fmt: skip
    task = asyncio.create_task(run_from_args(args))
    printed = ""
    try:
        while "events/ptz/talk/stats" not in printed:
            assert not task.done(), task.exception()
            await asyncio.sleep(0.05)
            printed += capsys.readouterr().out
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    lines = printed.splitlines()
    assert lines[0].startswith("WEP emulator: http://127.0.0.1:")
    amcrest = lines.index(next(line for line in lines if line.startswith("Amcrest emulator: ")))
    assert lines[amcrest].endswith("(2 channels)")
    assert lines[amcrest + 1].startswith("  rtsp: rtsp://127.0.0.1:")
    assert lines[amcrest + 1].endswith("/cam/realmonitor?channel=1&subtype=0  (channel=1..2, subtype=0|1)")
    assert lines[amcrest + 2] == "  username=admin password=amcrest-emulator  (HTTP and RTSP Digest)"
