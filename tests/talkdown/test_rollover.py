"""The 120 s rollover, with the cap made small on both sides: a talk longer than the cap
goes out as several POSTs, each under the emulator's cap, with nothing lost or doubled."""

from __future__ import annotations

import pytest

from gateway.config import TalkdownConfig
from tests.talkdown.audio import dominant_hz, seconds_of
from tests.talkdown.conftest import emulator_posts, upstream_posts
from tests.talkdown.test_whip import talk


@pytest.fixture
def talk_settings() -> TalkdownConfig:
    # WEP's cap made small on both sides: the emulator refuses past 1500 ms, we roll at 1000.
    return TalkdownConfig(idle_timeout=2.0, cap_ms=1000, rollover_lead_ms=300)


@pytest.fixture
def emulator_settings(emulator_settings):
    emulator_settings.talk_cap_ms = 1500
    return emulator_settings


async def test_rollover_spreads_a_long_talk_over_several_posts_without_loss(
    emulator, talk_gateway, talk_url, http, talk_sessions
):
    camera = emulator.camera_ids[0]
    talker = await talk(http, talk_url, camera, int(3.5 * 8000), emulator)
    assert await talker.stop() == 200
    sent = talker.track.seconds

    audio = emulator.talk_audio(camera)
    posts = emulator_posts(emulator, camera)
    assert posts >= 5, posts  # at most 700 ms of audio per POST, 400 ms after the first
    assert upstream_posts(talk_gateway) == (posts, 0)
    assert not emulator.stats["talk_rejected"]  # no POST ran into the cap
    assert talk_sessions.counters.rollovers == posts - 1
    # Nothing lost or doubled at the hand-overs: what left is what arrived, as long as the talk.
    assert talk_sessions.counters.bytes_sent == len(audio)
    assert talk_sessions.counters.bytes_dropped == 0
    assert 0.8 * sent <= seconds_of(audio) <= 1.2 * sent, (seconds_of(audio), sent)
    assert abs(dominant_hz(audio) - 440) <= 10


async def test_a_file_longer_than_the_cap_arrives_whole_over_several_posts(
    emulator, talk_gateway, talk_url, http, talk_sessions
):
    from gateway.talkdown.file_playback import decode_upload
    from tests.talkdown.audio import tone, wav_bytes
    from tests.talkdown.test_file_playback import upload

    camera = emulator.camera_ids[0]
    body = wav_bytes(tone(2.5, 16000), 16000)
    status, answer = await upload(http, talk_url, camera, body)
    assert status == 200, answer
    audio = emulator.talk_audio(camera)
    assert audio == decode_upload(body, 300.0)  # byte for byte: no gap, no double at a hand-over
    # A POST lives 700 ms; the next one is opened 300 ms ahead, so it carries 400 ms.
    posts = answer["posts"]
    assert posts == emulator_posts(emulator, camera) >= 6
    assert upstream_posts(talk_gateway) == (posts, 0) and not emulator.stats["talk_rejected"]
    assert talk_sessions.counters.rollovers == posts - 1
