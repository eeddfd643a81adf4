"""/cgi-bin behind Digest: curl and aiohttp's DigestAuthMiddleware as clients."""

from __future__ import annotations

import asyncio
import io
import logging
import time

import aiohttp
import av
import pytest

from tests.conftest import require

BAD_REQUEST = "Error\r\nBad Request!\r\n"


async def curl(*argv: str) -> tuple[int, bytes, str]:
    require("curl")
    process = await asyncio.create_subprocess_exec(
        "curl", "-s", "-g", *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 20)
    return process.returncode, out, err.decode()


def credentials(amcrest) -> str:
    return f"{amcrest.settings.username}:{amcrest.settings.password}"


def jpeg_size(data: bytes) -> tuple[int, int]:
    with av.open(io.BytesIO(data), format="mjpeg") as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height


@pytest.mark.peer
async def test_curl_digest_snapshot(amcrest):
    url = f"{amcrest.http_url}/cgi-bin/snapshot.cgi?channel=2"
    code, body, err = await curl("--digest", "-u", credentials(amcrest), "-w", "\n%{http_code} %{content_type}", url)
    assert code == 0, err
    jpeg, _, status = body.rpartition(b"\n")
    assert status == b"200 image/jpeg"
    assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
    assert jpeg_size(jpeg) == (640, 360)
    assert amcrest.stats["snapshots"] == 1


@pytest.mark.peer
async def test_curl_without_credentials_gets_a_challenge(amcrest):
    code, head, _ = await curl("-i", f"{amcrest.http_url}/cgi-bin/snapshot.cgi?channel=1")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 401 Unauthorized"
    challenge = next(line for line in lines if line.lower().startswith("www-authenticate:"))
    assert 'Digest realm="Login to ' in challenge and 'qop="auth"' in challenge
    assert ' nonce="' in challenge and ' opaque="' in challenge
    code, _, _ = await curl("--digest", "-u", f"{amcrest.settings.username}:wrong", "-f",
                            f"{amcrest.http_url}/cgi-bin/snapshot.cgi?channel=1")  # fmt: skip
    assert code == 22  # curl -f: HTTP 401 after the digest round
    assert amcrest.stats["unauthorized"] == 3 and amcrest.stats["snapshots"] == 0


async def test_aiohttp_digest_is_preemptive(amcrest, http):
    for _ in range(3):
        async with http.get(f"{amcrest.http_url}/cgi-bin/snapshot.cgi", params={"channel": "1"}) as resp:
            assert resp.status == 200
            assert resp.content_type == "image/jpeg"
            assert jpeg_size(await resp.read()) == (640, 360)
    assert amcrest.stats["unauthorized"] == 1  # only the first request went without credentials


async def test_unknown_channel_is_a_dahua_400(amcrest, http):
    for query in ("channel=3", "channel=0", "channel=x"):
        async with http.get(f"{amcrest.http_url}/cgi-bin/snapshot.cgi?{query}") as resp:
            assert resp.status == 400
            assert resp.content_type == "text/plain"
            assert await resp.text() == BAD_REQUEST


async def test_ptz_calls_are_logged(amcrest, http, plain_http):
    url = f"{amcrest.http_url}/cgi-bin/ptz.cgi"
    before = time.time()
    for action in ("start", "stop"):
        params = {"action": action, "channel": "2", "code": "Left", "arg1": "0", "arg2": "5", "arg3": "0"}
        async with http.get(url, params=params) as resp:
            assert (resp.status, await resp.text()) == (200, "OK\r\n")
    async with http.get(url, params={"action": "start", "channel": "1", "code": "GotoPreset", "arg2": "3"}) as resp:
        assert resp.status == 200
    for bad in ({"action": "start", "code": "Spin"}, {"action": "move", "code": "Left"}, {"code": "Left"},
                {"action": "start", "code": "Left", "arg2": "fast"}):  # fmt: skip
        async with http.get(url, params={"channel": "1", **bad}) as resp:
            assert (resp.status, await resp.text()) == (400, BAD_REQUEST)
    log = amcrest.ptz_log
    assert [{k: v for k, v in entry.items() if k != "time"} for entry in log] == [
        {"channel": 2, "action": "start", "code": "Left", "arg1": 0, "arg2": 5, "arg3": 0},
        {"channel": 2, "action": "stop", "code": "Left", "arg1": 0, "arg2": 5, "arg3": 0},
        {"channel": 1, "action": "start", "code": "GotoPreset", "arg1": 0, "arg2": 3, "arg3": 0},
    ]
    assert all(before <= entry["time"] <= time.time() for entry in log)
    async with plain_http.get(f"{amcrest.http_url}/_emulator/ptz") as resp:
        assert await resp.json() == log


async def read_exactly(resp: aiohttp.ClientResponse, size: int) -> bytes:
    return await asyncio.wait_for(resp.content.readexactly(size), 5)


MOTION_1 = b"--myboundary\r\nContent-Type: text/plain\r\nContent-Length: 37\r\n\r\nCode=VideoMotion;action=Start;index=1\r\n\r\n"
HEARTBEAT = b"--myboundary\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nHeartbeat\r\n\r\n"


async def attached(amcrest, count: int) -> None:
    for _ in range(100):
        if amcrest.stats["event_streams"] == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"event_streams stayed {amcrest.stats['event_streams']}, not {count}")


async def test_events_arrive_as_exact_multipart_bytes(amcrest, http, plain_http):
    url = f"{amcrest.http_url}/cgi-bin/eventManager.cgi"
    async with http.get(url, params={"action": "attach", "codes": "[All]", "heartbeat": "30"}) as every, \
            http.get(url, params={"action": "attach", "codes": "[AudioMutation]"}) as audio_only:  # fmt: skip
        assert every.status == 200
        assert every.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=myboundary"
        await attached(amcrest, 2)
        amcrest.inject_event(2, "VideoMotion", "Start")
        assert await read_exactly(every, len(MOTION_1)) == MOTION_1
        body = {"channel": 1, "code": "AudioMutation", "action": "Stop", "data": {"Level": 7}}
        async with plain_http.post(f"{amcrest.http_url}/_emulator/events", json=body) as resp:
            assert resp.status == 200
        expected_body = b'Code=AudioMutation;action=Stop;index=0;data={\n   "Level" : 7\n}'
        expected = (b"--myboundary\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%b\r\n\r\n"
                    % (len(expected_body), expected_body))  # fmt: skip
        assert await read_exactly(every, len(expected)) == expected
        assert await read_exactly(audio_only, len(expected)) == expected  # VideoMotion was not for it
    await attached(amcrest, 0)


async def test_heartbeats(amcrest, http):
    url = f"{amcrest.http_url}/cgi-bin/eventManager.cgi?action=attach&codes=[VideoMotion]&heartbeat=0.5"
    async with http.get(url) as resp:
        started = time.monotonic()
        assert await read_exactly(resp, len(HEARTBEAT)) == HEARTBEAT
        assert await read_exactly(resp, len(HEARTBEAT)) == HEARTBEAT
        assert 0.9 < time.monotonic() - started < 1.5


async def test_bad_attach_requests(amcrest, http):
    for query in ("action=attach", "action=attach&codes=[All]&heartbeat=x", "action=detach&codes=[All]"):
        async with http.get(f"{amcrest.http_url}/cgi-bin/eventManager.cgi?{query}") as resp:
            assert (resp.status, await resp.text()) == (400, BAD_REQUEST)


async def test_event_faults(amcrest, http, plain_http, caplog):
    url = f"{amcrest.http_url}/cgi-bin/eventManager.cgi?action=attach&codes=[All]"
    async with http.get(url) as resp:
        await attached(amcrest, 1)
        async with plain_http.post(f"{amcrest.http_url}/_emulator/event-fault", json={"kind": "garbage"}) as ctl:
            assert ctl.status == 200
        garbage = await asyncio.wait_for(resp.content.readany(), 5)
        assert not garbage.startswith(b"--myboundary")
        amcrest.event_fault("cut")
        rest = b""
        with pytest.raises(aiohttp.ClientPayloadError):  # the connection closes after a short part
            while chunk := await asyncio.wait_for(resp.content.readany(), 5):
                rest += chunk
        assert rest.startswith(b"--myboundary\r\nContent-Type: text/plain\r\nContent-Length: 37\r\n\r\nCode=")
        assert len(rest.partition(b"\r\n\r\n")[2]) < 37
    await attached(amcrest, 0)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    with pytest.raises(ValueError, match="event fault kind must be one of"):
        amcrest.event_fault("stall")
    with pytest.raises(ValueError, match=r"channel must be 1\.\.2, not 3"):
        amcrest.inject_event(3, "VideoMotion", "Start")


async def test_post_audio_streams_until_the_client_closes(amcrest, http, caplog):
    caplog.set_level(logging.DEBUG)
    url = f"{amcrest.http_url}/cgi-bin/audio.cgi?action=postAudio&httptype=singlepart&channel=2"
    async with http.get(f"{amcrest.http_url}/cgi-bin/ptz.cgi?action=stop&channel=1&code=Up") as resp:
        assert resp.status == 200  # the middleware now holds a challenge: the upload goes preemptively
    sent = []

    async def microphone():
        for i in range(1000):
            chunk = bytes([i % 256]) * 160  # 20 ms of G.711
            sent.append(chunk)
            yield chunk
            await asyncio.sleep(0.02)

    headers = {"Content-Type": "Audio/G.711A", "Content-Length": "9999999"}
    upload = asyncio.create_task(http.post(url, data=microphone(), headers=headers))
    for _ in range(100):
        if len(amcrest.talk_audio(2)) >= 160 * 5:
            break
        await asyncio.sleep(0.02)
    grown = len(amcrest.talk_audio(2))
    await asyncio.sleep(0.2)
    assert len(amcrest.talk_audio(2)) > grown >= 160 * 5  # kept as it arrives
    upload.cancel()  # the talk button released: the client just closes
    await asyncio.gather(upload, return_exceptions=True)
    await asyncio.sleep(0.1)
    received = amcrest.talk_audio(2)
    assert received == b"".join(sent)[: len(received)] and len(received) >= len(b"".join(sent)) - 160
    assert amcrest.talk_content_types(2) == ["Audio/G.711A"]
    assert amcrest.talk_audio(1) == b""
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


@pytest.mark.peer
async def test_post_audio_with_curl(amcrest, plain_http, tmp_path):
    audio = tmp_path / "talk.aac"
    audio.write_bytes(bytes(range(256)) * 40)
    url = f"{amcrest.http_url}/cgi-bin/audio.cgi?action=postAudio&httptype=singlepart&channel=1"
    code, body, err = await curl("--digest", "-u", credentials(amcrest), "-H", "Content-Type: Audio/AAC",
                                 "--data-binary", f"@{audio}", url)  # fmt: skip
    assert (code, body) == (0, b"OK\r\n"), err
    code, body, _ = await curl("--digest", "-u", credentials(amcrest), "-H", "Content-Type: audio/wav",
                               "--data-binary", f"@{audio}", url)  # fmt: skip
    assert body == BAD_REQUEST.encode()
    assert amcrest.talk_audio(1) == audio.read_bytes()
    assert amcrest.talk_content_types(1) == ["Audio/AAC"]
    async with plain_http.get(f"{amcrest.http_url}/_emulator/talk/1") as resp:
        assert await resp.read() == audio.read_bytes()


async def test_control_routes(amcrest, plain_http):
    async with plain_http.get(f"{amcrest.http_url}/_emulator/stats") as resp:
        stats = await resp.json()
    assert set(stats) >= {"rtsp_sessions", "rtsp_sessions_total", "rtp_packets_sent", "rtp_bytes_sent",
                          "event_streams", "snapshots", "unauthorized"}  # fmt: skip
    for path, body in (("events", {"channel": 9, "code": "VideoMotion", "action": "Start"}),
                       ("events", {"channel": 1}), ("event-fault", {"kind": "nope"})):  # fmt: skip
        async with plain_http.post(f"{amcrest.http_url}/_emulator/{path}", json=body) as resp:
            assert resp.status == 400
    async with plain_http.get(f"{amcrest.http_url}/_emulator/talk/7") as resp:
        assert resp.status == 404
