"""WHEP end to end: the gateway in front of the emulator, an aiortc viewer that never decodes."""

import asyncio
import itertools
import time
from collections import Counter

import aiohttp
import av
import numpy as np
import pytest

from gateway.emulator.encode import encode_opus_webm
from gateway.media.webm import AudioFrame, WebmReader
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
    # Nothing in this process decoded or encoded video: the gateway cut what the hub had into
    # RTP payloads itself (aiortc's per-viewer packetizer never ran).
    assert sessions.counters.video_packets_sent >= sessions.counters.frames_sent
    assert codec_spy.h264_packs == 0
    assert (codec_spy.h264_decoders, codec_spy.h264_encodes, codec_spy.vp8_coders, codec_spy.codec_contexts) == (
        0,
        0,
        0,
        [],
    )


@pytest.mark.parametrize("rtx", [True, False], ids=["rtx", "no-rtx"])
async def test_lost_video_packets_are_sent_again(gateway, whep_url, rtx):
    """NACKs (RFC 4585) are answered from the sender's history: as RTX packets (RFC 4588)
    where the viewer offered RTX, else as the same packet again."""
    sessions = gateway.app[WHEP_SESSIONS]
    with counting_decoders():
        async with aiohttp.ClientSession() as http:
            viewer = WhepViewer(http, whep_url + "?quality=low", lose_every=15, rtx=rtx)
            await viewer.start()
            codecs = [codec.split()[0] for codec in sdp.video_codecs(viewer.answer).values()]
            assert codecs == (["H264", "RTX"] if rtx else ["H264"])
            assert await wait_for(lambda: viewer.tally.frames >= 45 and len(viewer.lost) >= 5, 30), viewer.tally
            session = next(iter(sessions._sessions.values()))
            # Every lost packet came back, so no frame was left incomplete: all but the ones in
            # flight arrived. In flight are a NACK round trip and the viewer's decoder thread,
            # which a busy machine slows: looked at a few times over two seconds. A frame lost
            # for good would stay missing at every look (and one is lost every 15 packets).
            looks = []
            for _ in range(20):
                sent = session.track.frames_sent
                received = viewer.tally.frames  # read after `sent`: in flight only shrinks the gap
                looks.append((received, sent))
                if received >= sent - 3:
                    break
                await asyncio.sleep(0.1)
            await viewer.stop()
    assert sessions.counters.video_retransmissions >= len(viewer.lost) - 2  # the last NACKs may be in flight
    assert received >= sent - 3, (looks, len(viewer.lost))


def camera_opus_packets(emulator, camera_index: int) -> set[bytes]:
    settings = emulator.settings
    webm = encode_opus_webm(camera_index, settings.loop_seconds, settings.cache_dir)  # the emulator's cached loop
    return {event.data for event in WebmReader().feed(webm) if isinstance(event, AudioFrame)}


def dominant_frequency(payloads: list[bytes]) -> float:
    """Decode opus packets here, in the test (not the gateway's code), and find the tone."""
    decoder = av.CodecContext.create("opus", "r")
    decoder.sample_rate, decoder.layout = 48000, "mono"
    pcm = [
        frame.to_ndarray().reshape(frame.samples, -1).mean(axis=1)
        for payload in payloads
        for frame in decoder.decode(av.Packet(payload))
    ]
    signal = np.concatenate(pcm)
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return float(np.fft.rfftfreq(len(signal), 1 / 48000)[int(np.argmax(spectrum))])


async def test_aiortc_viewer_receives_camera_opus_as_is(gateway, emulator, whep_url, codec_spy, audio_codec_spy):
    sessions = gateway.app[WHEP_SESSIONS]
    with counting_decoders():
        async with aiohttp.ClientSession() as http:
            viewer = WhepViewer(http, whep_url + "?quality=low", audio=True)
            await viewer.start()
            direction, codecs = sdp.audio_codecs(viewer.answer)
            assert direction == "sendonly" and list(codecs.values()) == ["opus/48000/2"], viewer.answer
            assert await wait_for(lambda: viewer.opus.packets >= 25, 20), viewer.opus
            # Real time: over a few seconds of wall time, one 20 ms packet per 20 ms.
            start = (viewer.opus.packets, time.monotonic())
            await asyncio.sleep(4.0)
            end = (viewer.opus.packets, time.monotonic())
            rate = (end[0] - start[0]) / (end[1] - start[1])
            assert 40 <= rate <= 60, rate
            assert viewer.tally.frames > 0  # video still flows beside it
            payloads = list(viewer.opus.payloads)
            assert await viewer.stop() == 200
    # Contiguous 20 ms packets on the 48 kHz RTP clock: nothing lost, repeated or re-timed.
    steps = Counter(b[0] - a[0] for a, b in itertools.pairwise(payloads))
    assert steps.most_common(1)[0][0] == 960 and steps[960] >= 0.95 * (len(payloads) - 1), steps
    # Byte for byte the camera's own packets (the emulator's webm loop), none re-encoded.
    camera_index = emulator.camera_ids.index(whep_url.rsplit("/", 1)[1])
    assert {payload for _, payload in payloads} <= camera_opus_packets(emulator, camera_index)
    assert abs(dominant_frequency([payload for _, payload in payloads]) - (440 + 110 * camera_index)) < 5
    assert sessions.counters.audio_sessions == 1
    assert sessions.counters.audio_packets_sent >= len(payloads)
    # Nothing on the WebRTC path decoded or encoded audio: the only opus codec the gateway
    # made is the one decoder of the camera's AAC transcoder (HLS), and aiortc made none.
    assert audio_codec_spy.transcoders == 1
    assert Counter(audio_codec_spy.contexts) == Counter({("opus", "r"): 1, ("aac", "w"): 1})
    assert audio_codec_spy.opus_coders == 0
    assert audio_codec_spy.opus_packs >= len(payloads)
    assert (codec_spy.h264_decoders, codec_spy.h264_encodes, codec_spy.vp8_coders, codec_spy.codec_contexts) == (
        0,
        0,
        0,
        [],
    )


async def test_camera_without_microphone_and_video_only_offers(gateway, gateway_url, emulator, audio_codec_spy):
    """The emulator's last camera has no microphone: its audio section is answered inactive;
    an offer with no audio section gets a video-only answer. Video flows in both."""
    sessions = gateway.app[WHEP_SESSIONS]
    with_audio, plain = emulator.camera_ids[0], emulator.camera_ids[-1]
    with counting_decoders():
        async with aiohttp.ClientSession() as http:
            no_mic = WhepViewer(http, f"{gateway_url}/whep/{plain}?quality=low", audio=True)
            video_only = WhepViewer(http, f"{gateway_url}/whep/{with_audio}?quality=low")
            await asyncio.gather(no_mic.start(), video_only.start())
            assert sdp.audio_codecs(no_mic.answer)[0] == "inactive", no_mic.answer
            assert "m=audio" not in video_only.answer
            assert await wait_for(lambda: no_mic.tally.frames >= 15 and video_only.tally.frames >= 15, 20)
            assert (no_mic.opus.packets, sessions.counters.audio_sessions) == (0, 0)
            assert [await viewer.stop() for viewer in (no_mic, video_only)] == [200, 200]
    assert sessions.counters.audio_packets_sent == 0 and audio_codec_spy.opus_coders == 0


@pytest.fixture
async def open_gateway_url(aiohttp_server, emulator) -> str:
    """A gateway that lets players of any origin call it ([server] cors_origins = "*")."""
    from gateway.app import create_app
    from tests.conftest import config_for

    server = await aiohttp_server(create_app(config_for(emulator, server={"cors_origins": "*"})))
    return str(server.make_url("")).rstrip("/")


async def test_bad_offers(open_gateway_url, emulator, chromium_offer):
    gateway_url = open_gateway_url
    camera = emulator.camera_ids[0]
    url = f"{gateway_url}/whep/{camera}"
    player = {"Origin": "https://player.example"}
    vp8_only = chromium_offer.replace("H264/90000", "H265/90000")
    async with aiohttp.ClientSession() as http:
        cases = [
            ("not an offer", "application/sdp", 400, "bad_offer"),
            (chromium_offer, "text/plain", 415, "unsupported_media_type"),
            (vp8_only, "application/sdp", 406, "no_common_codec"),
        ]
        for body, content_type, status, code in cases:
            async with http.post(url, data=body, headers={"Content-Type": content_type, **player}) as response:
                assert response.status == status, await response.text()
                assert (await response.json())["error"]["code"] == code
                # A player on another origin can read why its offer was refused.
                assert response.headers["Access-Control-Allow-Origin"] == "*"
                assert "Location" in response.headers["Access-Control-Expose-Headers"]
        async with http.post(
            f"{gateway_url}/whep/nope", data=chromium_offer, headers={"Content-Type": "application/sdp"}
        ) as response:
            assert response.status == 404
        preflight = {
            **player,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        }
        async with http.options(url, headers=preflight) as response:
            assert response.status == 204
            assert "POST" in response.headers["Access-Control-Allow-Methods"]
            assert response.headers["Access-Control-Allow-Origin"] == "*"
        async with http.options(url) as response:  # WHEP's own OPTIONS (RFC 9725 4.1)
            assert response.status == 204
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
    offer = (
        "\r\n".join(
            line
            for line in aiortc_offer.splitlines()
            if not line.startswith("a=candidate") and line != "a=end-of-candidates"
        )
        + "\r\n"
    )
    async with (
        aiohttp.ClientSession() as http,
        http.post(whep_url, data=offer, headers={"Content-Type": "application/sdp"}) as response,
    ):
        assert response.status == 201, await response.text()
    assert len(sessions) == 1
    hub = next(iter(sessions._units.keys()))
    assert await wait_for(lambda: len(sessions) == 0, 8)
    assert sessions.counters.connect_timeouts == 1
    assert hub.reader_count == 0
