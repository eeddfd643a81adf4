"""RTSP requests and answers at the protocol level: auth, SDP, transports, sessions."""

from __future__ import annotations

import asyncio
import base64

import pytest

from gateway.emulator.amcrest.rtp_h265 import nal_type as h265_nal_type
from gateway.media.h264 import nal_type, sps_dimensions
from tests.emulator.amcrest.rtsp_client import RtspClient

TCP = [("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")]


@pytest.fixture
async def client(amcrest):
    s = amcrest.settings
    rtsp = await RtspClient.connect(amcrest.rtsp_port, s.username, s.password)
    yield rtsp
    rtsp.close()


def sdp_lines(body: bytes) -> list[str]:
    assert body.endswith(b"\r\n")
    return body.decode().split("\r\n")[:-1]


def fmtp(lines: list[str], payload_type: int) -> dict[str, str]:
    line = next(line for line in lines if line.startswith(f"a=fmtp:{payload_type} "))
    return dict(item.split("=", 1) for item in line.split(" ", 1)[1].split(";"))


async def test_options_is_open_and_echoes_cseq(amcrest):
    rtsp = await RtspClient.connect(amcrest.rtsp_port)
    try:
        response = await rtsp.request("OPTIONS", amcrest.rtsp_url(1, 0), auth=False)
        assert response.status == 200
        assert response.headers["cseq"] == "1"
        assert "DESCRIBE" in response.headers["public"] and "PLAY" in response.headers["public"]
    finally:
        rtsp.close()


async def test_describe_needs_digest(amcrest):
    rtsp = await RtspClient.connect(amcrest.rtsp_port, amcrest.settings.username, "wrong")
    try:
        response = await rtsp.request("DESCRIBE", amcrest.rtsp_url(1, 0), auth=False)
        assert response.status == 401
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith('Digest realm="Login to ') and ' nonce="' in challenge
        response = await rtsp.request("DESCRIBE", amcrest.rtsp_url(1, 0))  # answers the challenge, wrongly
        assert response.status == 401
        assert response.headers["www-authenticate"] != challenge  # a fresh nonce
        assert amcrest.stats["unauthorized"] == 3
    finally:
        rtsp.close()


async def test_h264_sdp(amcrest, client):
    url = amcrest.rtsp_url(1, 0)
    response = await client.request("DESCRIBE", url, [("Accept", "application/sdp")])
    assert response.status == 200
    assert response.headers["content-type"] == "application/sdp"
    assert response.headers["content-base"] == url + "/"
    lines = sdp_lines(response.body)
    assert lines[0] == "v=0" and "a=range:npt=0-" in lines
    video = lines.index("m=video 0 RTP/AVP 96")
    audio = lines.index("m=audio 0 RTP/AVP 8")
    assert video < lines.index("a=control:trackID=0") < audio < lines.index("a=control:trackID=1")
    assert "a=rtpmap:96 H264/90000" in lines and "a=rtpmap:8 PCMA/8000" in lines
    params = fmtp(lines, 96)
    assert params["packetization-mode"] == "1"
    sps, pps = (base64.b64decode(p) for p in params["sprop-parameter-sets"].split(","))
    assert (nal_type(sps), nal_type(pps)) == (7, 8)
    assert params["profile-level-id"] == sps[1:4].hex()
    assert sps_dimensions(sps) == (640, 360)


async def test_h265_sdp(amcrest, client):
    response = await client.request("DESCRIBE", amcrest.rtsp_url(2, 1))
    lines = sdp_lines(response.body)
    assert "a=rtpmap:96 H265/90000" in lines
    params = fmtp(lines, 96)
    kinds = [h265_nal_type(base64.b64decode(params[name])) for name in ("sprop-vps", "sprop-sps", "sprop-pps")]
    assert kinds == [32, 33, 34]


async def test_aac_and_silent_sdp(make_amcrest):
    for audio, expected in (("aac", "a=rtpmap:97 MPEG4-GENERIC/16000/1"), ("pcmu", "a=rtpmap:0 PCMU/8000")):
        emulator = await make_amcrest(audio=audio)
        rtsp = await RtspClient.connect(emulator.rtsp_port, emulator.settings.username, emulator.settings.password)
        try:
            lines = sdp_lines((await rtsp.request("DESCRIBE", emulator.rtsp_url(1, 1))).body)
        finally:
            rtsp.close()
        assert expected in lines
        if audio == "aac":
            params = fmtp(lines, 97)
            assert params["mode"] == "AAC-hbr" and params["streamtype"] == "5" and params["profile-level-id"] == "1"
            assert (params["sizelength"], params["indexlength"], params["indexdeltalength"]) == ("13", "3", "3")
            assert params["config"].startswith("1408")  # AAC-LC, 16 kHz, mono (ISO/IEC 14496-3 1.6.2.1)
    emulator = await make_amcrest(audio="none")
    rtsp = await RtspClient.connect(emulator.rtsp_port, emulator.settings.username, emulator.settings.password)
    try:
        response = await rtsp.request("DESCRIBE", emulator.rtsp_url(1, 0))
        assert b"m=audio" not in response.body
        setup = await rtsp.request("SETUP", emulator.rtsp_url(1, 0) + "/trackID=1", TCP)
        assert setup.status == 404
    finally:
        rtsp.close()


@pytest.mark.parametrize(
    "path, status",
    [
        ("/cam/realmonitor?channel=3&subtype=0", 400),
        ("/cam/realmonitor?channel=1&subtype=2", 400),
        ("/cam/realmonitor?channel=x", 400),
        ("/live/ch1", 404),
    ],
)
async def test_unknown_streams(amcrest, client, path, status):
    response = await client.request("DESCRIBE", f"rtsp://127.0.0.1:{amcrest.rtsp_port}{path}")
    assert response.status == status


async def test_udp_is_refused(amcrest, client):
    url = amcrest.rtsp_url(1, 0) + "/trackID=0"
    response = await client.request("SETUP", url, [("Transport", "RTP/AVP;unicast;client_port=5000-5001")])
    assert response.status == 461
    assert amcrest.stats["rtsp_sessions_total"] == 0


async def test_video_only_session_plays_and_tears_down(amcrest, client):
    base = amcrest.rtsp_url(1, 1) + "/"
    setup = await client.request("SETUP", base + "trackID=0", [("Transport", "RTP/AVP/TCP;unicast;interleaved=4-5")])
    assert setup.status == 200
    assert setup.headers["transport"].startswith("RTP/AVP/TCP;unicast;interleaved=4-5;ssrc=")
    session = setup.headers["session"].split(";")[0]
    assert setup.headers["session"] == f"{session};timeout=60"
    assert (await client.request("PLAY", base, [("Session", "nope")])).status == 454
    play = await client.request("PLAY", base, [("Session", session), ("Range", "npt=0.000-")])
    assert play.status == 200
    url, seq, rtptime = play.headers["rtp-info"].split(";")
    assert url == f"url={base}trackID=0" and seq.startswith("seq=") and rtptime.startswith("rtptime=")
    assert amcrest.stats["rtsp_sessions"] == 1
    await asyncio.sleep(0.5)
    keepalive = await client.request("GET_PARAMETER", base, [("Session", session)])
    assert keepalive.status == 200
    assert {channel for channel, _ in client.frames} == {4, 5}  # RTP and its sender reports, no audio
    first = next(packet for channel, packet in client.frames if channel == 4)
    assert first[1] & 0x7F == 96 and int.from_bytes(first[2:4], "big") == int(seq[4:])
    assert int.from_bytes(first[4:8], "big") == int(rtptime[8:])
    assert (await client.request("TEARDOWN", base, [("Session", session)])).status == 200
    assert amcrest.stats["rtsp_sessions"] == 0
    assert amcrest.stats["rtsp_sessions_total"] == 1


async def test_a_closed_socket_ends_the_session(amcrest, client):
    base = amcrest.rtsp_url(1, 0) + "/"
    setup = await client.request("SETUP", base + "trackID=1", TCP)
    await client.request("PLAY", base, [("Session", setup.headers["session"])])
    assert amcrest.stats["rtsp_sessions"] == 1
    client.close()
    for _ in range(50):
        if amcrest.stats["rtsp_sessions"] == 0:
            break
        await asyncio.sleep(0.02)
    assert amcrest.stats["rtsp_sessions"] == 0


async def test_garbage_gets_400_and_the_connection_closes(amcrest):
    reader, writer = await asyncio.open_connection("127.0.0.1", amcrest.rtsp_port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert await asyncio.wait_for(reader.read(), 5) == b"RTSP/1.0 400 Bad Request\r\n\r\n"
    writer.close()
