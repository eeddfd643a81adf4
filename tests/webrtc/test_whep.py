"""WHEP end to end: the gateway in front of the emulator, an aiortc viewer that never decodes."""

import asyncio
import time

import aiohttp
import pytest

from gateway.webrtc import sdp
from gateway.webrtc.routes import WHEP_SESSIONS

from .whep_viewer import WhepViewer, counting_decoders


async def wait_for(predicate, timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(step)
    return predicate()


@pytest.fixture
def whep_url(gateway_url, emulator):
    return f"{gateway_url}/whep/{emulator.camera_ids[0]}"


async def test_aiortc_viewer_receives_frames_then_deletes(gateway, whep_url, codec_spy):
    sessions = gateway.app[WHEP_SESSIONS]
    with counting_decoders():
        async with aiohttp.ClientSession() as http:
            viewer = WhepViewer(http, whep_url + "?quality=low")
            await viewer.start()
            codecs = list(sdp.video_codecs(viewer.answer).values())
            assert [c.split()[0] for c in codecs] == ["H264", "RTX"]
            assert "packetization-mode=1" in codecs[0]
            assert await wait_for(lambda: viewer.tally.frames >= 30, 20), viewer.tally
            tally = viewer.tally
            assert tally.first_is_keyframe and tally.keyframes >= 1
            assert len(sessions) == 1
            assert await viewer.stop() == 200
    assert len(sessions) == 0
    assert sessions.counters.frames_sent >= 30 and sessions.counters.send_delay.total >= 30
    # Nothing in this process decoded or encoded video: the gateway packed what the hub had.
    assert codec_spy.h264_packs >= 30
    assert (codec_spy.h264_decoders, codec_spy.h264_encodes, codec_spy.vp8_coders, codec_spy.codec_contexts) == (0, 0, 0, [])


async def test_bad_offers(gateway_url, emulator, chromium_offer):
    camera = emulator.camera_ids[0]
    url = f"{gateway_url}/whep/{camera}"
    vp8_only = chromium_offer.replace("H264/90000", "H265/90000")
    async with aiohttp.ClientSession() as http:
        cases = [
            ("not an offer", "application/sdp", 400, "bad_offer"),
            (chromium_offer, "text/plain", 415, "unsupported_media_type"),
            (vp8_only, "application/sdp", 406, "no_common_codec"),
        ]
        for body, content_type, status, code in cases:
            async with http.post(url, data=body, headers={"Content-Type": content_type}) as response:
                assert response.status == status, await response.text()
                assert (await response.json())["error"]["code"] == code
                assert response.headers["Access-Control-Allow-Origin"] == "*"
        async with http.post(f"{gateway_url}/whep/nope", data=chromium_offer,
                             headers={"Content-Type": "application/sdp"}) as response:
            assert response.status == 404
        async with http.options(url) as response:
            assert response.status == 204
            assert "POST" in response.headers["Access-Control-Allow-Methods"]
            assert "Location" in response.headers["Access-Control-Expose-Headers"]
            assert response.headers["Accept-Post"] == "application/sdp"
        async with http.delete(f"{url}/no-such-session") as response:
            assert response.status == 404
        async with http.patch(f"{url}/no-such-session") as response:
            assert response.status == 405


async def test_session_that_never_connects_is_cleaned_up(gateway, whep_url, aiortc_offer):
    """An offer whose ICE never answers: the session and its hub reader go within seconds."""
    sessions = gateway.app[WHEP_SESSIONS]
    object.__setattr__(sessions.settings, "connect_timeout", 2.0)  # frozen settings; test only
    # Candidates on a TEST-NET-3 address nobody answers from, no end-of-candidates.
    offer = "\r\n".join(line for line in aiortc_offer.splitlines() if not line.startswith("a=candidate")
                        and line != "a=end-of-candidates") + "\r\n"
    async with aiohttp.ClientSession() as http:
        async with http.post(whep_url, data=offer, headers={"Content-Type": "application/sdp"}) as response:
            assert response.status == 201, await response.text()
    assert len(sessions) == 1
    hub = next(iter(sessions._units.keys()))
    assert await wait_for(lambda: len(sessions) == 0, 8)
    assert sessions.counters.connect_timeouts == 1
    assert hub.reader_count == 0
