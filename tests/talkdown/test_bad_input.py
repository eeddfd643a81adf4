"""Refusals: no speaker, a second talker, bad files, bad offers. Each gets its 4xx with a
message, and the upstream sees nothing broken (no POST at all, or the talker's own POST
goes on and ends cleanly)."""

from __future__ import annotations

import asyncio
import re

import pytest
from aiortc import RTCPeerConnection

from gateway.config import TalkdownConfig
from tests.talkdown.audio import dominant_hz, encoded_bytes, tone, wav_bytes
from tests.talkdown.conftest import emulator_posts, upstream_posts, wait_until
from tests.talkdown.test_file_playback import upload
from tests.talkdown.test_whip import talk
from tests.talkdown.whip_talker import WhipTalker


@pytest.fixture
def talk_settings() -> TalkdownConfig:
    return TalkdownConfig(idle_timeout=1.5)


@pytest.fixture
def max_upload_bytes() -> int:
    return 64 * 1024


async def aiortc_offer(*kinds: tuple[str, str]) -> str:
    pc = RTCPeerConnection()
    for kind, direction in kinds:
        pc.addTransceiver(kind, direction=direction)
    await pc.setLocalDescription(await pc.createOffer())
    offer = pc.localDescription.sdp
    await pc.close()
    return offer


def g722_only(offer: str) -> str:
    lines = []
    for line in offer.split("\r\n"):
        if line.startswith("m=audio"):
            line = " ".join([*line.split()[:3], "9"])
            lines += [line, "a=rtpmap:9 G722/8000"]
            continue
        if not re.match(r"a=(rtpmap|fmtp|rtcp-fb):", line):
            lines.append(line)
    return "\r\n".join(lines)


async def post_offer(http, url: str, camera_id: str, offer: str, content_type: str = "application/sdp"):
    async with http.post(f"{url}/whip/{camera_id}/talk", data=offer, headers={"Content-Type": content_type}) as r:
        return r.status, (await r.json()) if r.content_type == "application/json" else await r.text()


async def test_camera_without_speaker_gets_409_before_any_webrtc_work(
    emulator, talk_gateway, talk_url, http, talk_sessions
):
    camera = emulator.camera_ids[-1]
    offer = await aiortc_offer(("audio", "sendonly"))
    status, answer = await post_offer(http, talk_url, camera, offer)
    assert status == 409 and answer["error"]["code"] == "no_speaker", answer
    assert "has no speaker" in answer["error"]["message"]
    status, answer = await upload(http, talk_url, camera, wav_bytes(tone(0.5, 8000), 8000))
    assert status == 409 and answer["error"]["code"] == "no_speaker"
    assert talk_sessions.counters.sessions_started == 0 and talk_sessions.counters.refused_no_speaker == 2
    assert upstream_posts(talk_gateway) == (0, 0) and emulator_posts(emulator, camera) == 0
    status, answer = await post_offer(http, talk_url, "no-such-camera", offer)
    assert status == 404


async def test_a_second_talker_gets_409_naming_the_holders_start(emulator, talk_gateway, talk_url, http, talk_sessions):
    camera = emulator.camera_ids[0]
    first = await talk(http, talk_url, camera, 4000, emulator)
    holder = talk_sessions.holder(camera)
    second = WhipTalker(http, talk_url, camera)
    response = await second.start()
    assert response.status == 409
    assert f"since {holder.started_iso}" in response.answer_text and "speaker_busy" in response.answer_text
    status, answer = await upload(http, talk_url, camera, wav_bytes(tone(0.5, 8000), 8000))
    assert status == 409 and holder.started_iso in answer["error"]["message"]
    # The first talker never noticed: its one POST carries on and ends cleanly.
    await asyncio.sleep(0.5)
    assert await first.stop() == 200
    assert abs(dominant_hz(emulator.talk_audio(camera)) - 440) <= 10
    assert upstream_posts(talk_gateway) == (1, 0) and emulator_posts(emulator, camera) == 1
    assert talk_sessions.holder(camera) is None


@pytest.mark.parametrize(
    "body,status,code",
    [
        (b"this is not audio at all, just some text" * 20, 415, "unsupported_audio"),
        (b"\x89PNG\r\n\x1a\n" + bytes(2000), 415, "unsupported_audio"),
        (b"", 400, "empty_file"),
        (bytes(70 * 1024), 413, "too_large"),
    ],
)
async def test_bad_files_are_refused_with_nothing_sent_upstream(
    emulator, talk_gateway, talk_url, http, body, status, code
):
    camera = emulator.camera_ids[0]
    got, answer = await upload(http, talk_url, camera, body)
    assert (got, answer["error"]["code"]) == (status, code), answer
    assert upstream_posts(talk_gateway) == (0, 0) and emulator_posts(emulator, camera) == 0


# An Ogg cut between pages plays what it holds (transcoders.pcmu cannot tell the cut from
# the end: the last granule position it finds is the cut's); cut inside its headers it fails.
@pytest.mark.parametrize("container,codec,keep", [("mp3", "libmp3lame", 0.5), ("ogg", "libopus", 0.05)])
async def test_truncated_files_get_400_with_nothing_sent_upstream(
    emulator, talk_gateway, talk_url, http, container, codec, keep
):
    camera = emulator.camera_ids[0]
    whole = encoded_bytes(tone(2.0, 48000), 48000, container, codec)
    got, answer = await upload(http, talk_url, camera, whole[: int(len(whole) * keep)])
    assert got == 400 and answer["error"]["code"] == "damaged_audio", answer
    assert "truncated" in answer["error"]["message"]
    assert upstream_posts(talk_gateway) == (0, 0) and emulator_posts(emulator, camera) == 0
    got, answer = await upload(http, talk_url, camera, whole)
    assert got == 200, answer


async def test_bad_offers_get_4xx_and_hold_nothing(emulator, talk_gateway, talk_url, http, talk_sessions):
    camera = emulator.camera_ids[0]
    cases = [
        (await aiortc_offer(("video", "recvonly")), 400, "no audio section"),
        (await aiortc_offer(("audio", "recvonly")), 400, "the audio section is recvonly"),
        (await aiortc_offer(("audio", "sendonly"), ("video", "sendrecv")), 400, "audio only"),
        (g722_only(await aiortc_offer(("audio", "sendonly"))), 406, "offered: G722"),
        ("v=0\r\nthis is not sdp\r\n", 400, "not <type>=<value>"),
        ("hello", 400, "v=0"),
    ]
    for offer, status, words in cases:
        got, answer = await post_offer(http, talk_url, camera, offer)
        assert got == status and words in answer["error"]["message"], (offer[:80], answer)
    got, _ = await post_offer(http, talk_url, camera, "v=0\r\n", content_type="text/plain")
    assert got == 415
    assert talk_sessions.counters.sessions_started == 0 and talk_sessions.holder(camera) is None
    assert upstream_posts(talk_gateway) == (0, 0)
    async with http.delete(f"{talk_url}/whip/{camera}/talk/nope") as response:
        assert response.status == 404
    async with http.options(f"{talk_url}/whip/{camera}/talk") as response:
        assert response.status == 204 and response.headers["Accept-Post"] == "application/sdp"


async def test_a_silent_microphone_ends_after_the_idle_timeout(emulator, talk_gateway, talk_url, http, talk_sessions):
    camera = emulator.camera_ids[0]
    talker = await talk(http, talk_url, camera, 4000, emulator)
    talker.track.pause()
    await wait_until(lambda: talk_sessions.holder(camera) is None, 10, "the idle talk to end")
    received = len(emulator.talk_audio(camera))
    await asyncio.sleep(0.3)
    assert len(emulator.talk_audio(camera)) == received  # no silence padded
    assert upstream_posts(talk_gateway) == (1, 0) and emulator.stats["open_streams"] == 0
    await talker.stop()  # its DELETE comes late: the session is gone
