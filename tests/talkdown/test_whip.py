"""WHIP talk with an aiortc talker: a 440 Hz tone reaches the emulator's speaker sink as
PCMU at 440 Hz, as long as it was sent; DELETE closes the upstream POST cleanly; rules."""

from __future__ import annotations

import asyncio
import time

from tests.talkdown.audio import dominant_hz, seconds_of
from tests.talkdown.conftest import emulator_posts, upstream_posts, wait_until
from tests.talkdown.whip_talker import WhipTalker


async def talk(http, url, camera_id, until_bytes: int, emulator) -> WhipTalker:
    talker = WhipTalker(http, url, camera_id)
    response = await talker.start()
    assert response.status == 201, response.answer_text
    assert response.headers["Location"].startswith(f"/whip/{camera_id}/talk/")
    assert "a=recvonly" in response.answer_text
    await asyncio.wait_for(talker.connected.wait(), 10)
    await wait_until(lambda: len(emulator.talk_audio(camera_id)) >= until_bytes, 20, "audio at the speaker")
    return talker


async def receiver_reports(talker: WhipTalker, timeout: float) -> list:
    """What the talker's audio sender learnt from RTCP receiver reports (aiortc's getStats)."""
    deadline = time.monotonic() + timeout
    while True:
        stats = (await talker.pc.getSenders()[0].getStats()).values()
        reports = [report for report in stats if report.type == "remote-inbound-rtp"]
        if reports or time.monotonic() > deadline:
            return reports
        await asyncio.sleep(0.2)


async def test_tone_reaches_the_speaker_and_delete_ends_the_post_cleanly(
    emulator, talk_gateway, talk_url, http, talk_sessions, talk_settings
):
    camera = emulator.camera_ids[0]
    talker = await talk(http, talk_url, camera, 2 * 8000, emulator)
    # The talker heard receiver reports for its audio (the datagram tap keeps aiortc's
    # statistics: RFC 3550 6.4.2), and they say nothing was lost on the loopback.
    reports = await receiver_reports(talker, 5)
    assert len(reports) == 1 and reports[0].packetsLost == 0 and reports[0].packetsReceived > 0
    assert await talker.stop() == 200
    sent = talker.track.seconds

    audio = emulator.talk_audio(camera)
    assert abs(dominant_hz(audio) - 440) <= 10
    assert 0.8 * sent <= seconds_of(audio) <= 1.2 * sent, (seconds_of(audio), sent)
    assert all(len(chunk) <= 2 * talk_settings.chunk_bytes for _, chunk in emulator.talk_chunks(camera))
    # One POST, ended by its body (not aborted): WEP answered it with success.
    assert emulator_posts(emulator, camera) == 1
    assert upstream_posts(talk_gateway) == (1, 0)
    assert emulator.stats["open_streams"] == 0 and not emulator.stats["talk_rejected"]
    assert len(talk_sessions) == 0 and talk_sessions.holder(camera) is None
    assert talk_sessions.counters.bytes_sent == len(audio)
    # Every decoded frame came off the socket through the datagram tap, none through aiortc's receiver.
    counters = talk_sessions.counters
    assert counters.rtp_packets == counters.frames_received >= 0.8 * talker.track.frames
    assert counters.rtp_rejected == 0


async def test_a_dropped_upstream_post_is_replaced_and_the_talk_goes_on(
    emulator, talk_gateway, talk_url, http, talk_sessions
):
    camera = emulator.camera_ids[0]
    talker = await talk(http, talk_url, camera, 8000, emulator)
    assert emulator.drop_streams() == 1  # WEP cuts the speaker POST
    before = len(emulator.talk_audio(camera))
    await wait_until(lambda: len(emulator.talk_audio(camera)) >= before + 8000, 10, "audio on a new POST")
    assert talk_sessions.holder(camera) is not None
    assert await talker.stop() == 200
    assert emulator_posts(emulator, camera) == 2 and talk_sessions.counters.post_failures == 1
    requests, failed = upstream_posts(talk_gateway)
    assert (requests, failed) == (2, 1)
    assert abs(dominant_hz(emulator.talk_audio(camera)[before:]) - 440) <= 10
