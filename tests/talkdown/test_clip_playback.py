"""Rule clips on the emulated WEP speaker, and the speaker queue: a stored clip arrives as
the 8 kHz PCMU it was kept as; a clip waits behind a person (then plays, or is skipped)
and behind earlier clips; a live talker or a file preempts a clip at once, the clip's
unsent audio dropped and its POST ended cleanly."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import aiohttp
import pytest

from gateway.rules.clip_routes import CLIPS
from gateway.talkdown.clip_playback import ClipOutcome, play_clip
from gateway.talkdown.file_playback import decode_upload
from gateway.talkdown.speaker import NoSpeaker
from tests.talkdown.audio import dominant_hz, tone, wav_bytes
from tests.talkdown.conftest import emulator_posts, upstream_posts, wait_until
from tests.talkdown.test_file_playback import upload
from tests.talkdown.test_whip import talk
from tests.talkdown.whip_talker import WhipTalker


@pytest.fixture
def gateway_config(gateway_config, tmp_path):
    return dataclasses.replace(
        gateway_config,
        rules=dataclasses.replace(gateway_config.rules, clips_dir=str(tmp_path / "clips")),
        pushes=dataclasses.replace(gateway_config.pushes, db_path=str(tmp_path / "gateway.sqlite3")),
    )


async def metrics(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(f"{url}/metrics") as response:
        return await response.text()


def clip_audio(seconds: float, freq: float) -> bytes:
    return decode_upload(wav_bytes(tone(seconds, 8000, freq=freq), 8000), 300.0)


async def test_a_stored_clip_reaches_the_speaker_as_8_khz_pcmu(emulator, talk_gateway, talk_sessions, talk_settings):
    camera = emulator.camera_ids[0]
    library = talk_gateway.app[CLIPS]
    clip = await library.add("warning", wav_bytes(tone(1.2, 16000, freq=600.0), 16000))
    pcmu = await library.pcmu(clip)
    assert len(pcmu) == clip.bytes == 9600

    outcome = await play_clip(talk_sessions, camera, pcmu, wait_s=5.0)
    assert outcome == ClipOutcome(True, "played", 1.2, outcome.waited)
    audio = emulator.talk_audio(camera)
    assert audio == pcmu  # every sample once, in order: 1.2 s at 8000 bytes a second
    assert abs(dominant_hz(audio) - 600) <= 10
    assert {len(chunk) for _, chunk in emulator.talk_chunks(camera)} == {talk_settings.chunk_bytes}
    assert upstream_posts(talk_gateway) == (1, 0) and emulator_posts(emulator, camera) == 1
    assert talk_sessions.holder(camera) is None and len(talk_sessions) == 0


async def test_a_clip_during_a_live_talk_waits_then_is_skipped(emulator, talk_gateway, talk_url, http, talk_sessions):
    camera = emulator.camera_ids[0]
    talker = await talk(http, talk_url, camera, 4000, emulator)
    live = talk_sessions.holder(camera)

    outcome = await play_clip(talk_sessions, camera, clip_audio(1.0, 1000.0), wait_s=0.3)
    assert (outcome.played, outcome.reason, outcome.seconds) == (False, "skipped: speaker busy for 0.3 s", 0.0)
    assert outcome.waited > 0
    assert talk_sessions.holder(camera) is live and live.end_reason is None  # the talker never noticed
    assert talk_sessions.counters.clip_skipped == 1 and talk_sessions.counters.preempted == 0
    assert talk_sessions.waiting(camera) == 0
    assert "wepgw_talk_clip_skipped_total 1.0" in await metrics(http, talk_url)
    assert await talker.stop() == 200
    assert abs(dominant_hz(emulator.talk_audio(camera)) - 440) <= 10  # nothing of the clip
    assert upstream_posts(talk_gateway) == (1, 0)


async def test_a_clip_during_a_live_talk_plays_once_the_talk_ends(
    emulator, talk_gateway, talk_url, http, talk_sessions
):
    camera = emulator.camera_ids[0]
    talker = await talk(http, talk_url, camera, 4000, emulator)
    pcmu = clip_audio(0.8, 1000.0)
    clip = asyncio.create_task(play_clip(talk_sessions, camera, pcmu, wait_s=30.0))
    await wait_until(lambda: talk_sessions.waiting(camera) == 1, 5, "the clip to queue")
    assert await talker.stop() == 200

    outcome = await clip
    assert (outcome.played, outcome.reason, outcome.seconds) == (True, "played", 0.8) and outcome.waited > 0
    audio = emulator.talk_audio(camera)
    assert audio.endswith(pcmu) and abs(dominant_hz(audio[: -len(pcmu)]) - 440) <= 10
    assert upstream_posts(talk_gateway) == (2, 0) and talk_sessions.counters.clip_skipped == 0


async def test_waiting_clips_play_in_the_order_they_came(emulator, talk_gateway, talk_sessions):
    camera = emulator.camera_ids[0]
    first, second, third = clip_audio(0.6, 500.0), clip_audio(0.4, 700.0), clip_audio(0.4, 900.0)
    playing = asyncio.create_task(play_clip(talk_sessions, camera, first, wait_s=30.0))
    await wait_until(lambda: talk_sessions.holder(camera) is not None, 5, "the first clip to start")

    async def queue(pcmu: bytes, place: int) -> asyncio.Task:
        task = asyncio.create_task(play_clip(talk_sessions, camera, pcmu, wait_s=30.0))
        await wait_until(lambda: talk_sessions.waiting(camera) == place, 5, "the clip to queue")
        return task

    queued = [await queue(second, 1), await queue(third, 2)]

    outcomes = await asyncio.gather(playing, *queued)
    assert [(outcome.played, outcome.reason) for outcome in outcomes] == [(True, "played")] * 3
    assert emulator.talk_audio(camera) == first + second + third
    assert upstream_posts(talk_gateway) == (3, 0) and talk_sessions.counters.preempted == 0


async def test_a_live_talker_takes_over_a_playing_clip_within_200_ms(
    emulator, talk_gateway, talk_url, talk_sessions, talk_settings
):
    camera = emulator.camera_ids[0]
    pcmu = clip_audio(6.0, 1000.0)
    clip = asyncio.create_task(play_clip(talk_sessions, camera, pcmu, wait_s=1.0))
    await wait_until(lambda: len(emulator.talk_audio(camera)) >= 4000, 10, "the clip at the speaker")

    answered: list[float] = []

    async def on_request_end(session, context, params: aiohttp.TraceRequestEndParams) -> None:
        if params.method == "POST" and params.url.path.endswith("/talk"):
            answered.append(time.monotonic())  # the 201 and its SDP answer are in

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_request_end)
    async with aiohttp.ClientSession(trace_configs=[trace]) as http:
        talker = WhipTalker(http, talk_url, camera)
        response = await talker.start()
        assert response.status == 201, response.answer_text
        outcome = await clip
        await wait_until(
            lambda: any(at > answered[0] for at, _ in emulator.talk_chunks(camera)),
            10,
            "the live talker at the speaker",
        )
        await wait_until(
            lambda: len(emulator.talk_audio(camera)) >= outcome.seconds * 8000 + 8000, 10, "a second of the live talker"
        )
        assert await talker.stop() == 200

    chunks = emulator.talk_chunks(camera)
    before = b"".join(chunk for at, chunk in chunks if at <= answered[0])
    after = b"".join(chunk for at, chunk in chunks if at > answered[0])
    takeover = min(at for at, _ in chunks if at > answered[0]) - answered[0]
    print(f"the live talker's first audio reached the speaker {takeover * 1000:.0f} ms after the answer")
    assert takeover < 0.200

    assert (outcome.played, outcome.reason) == (True, "preempted by a live talker")
    # The clip stopped between whole chunks, none of its queue went out after the answer,
    # and what it sent is what the speaker got: a prefix of the clip.
    assert 0.5 <= outcome.seconds < 6.0 and len(before) == outcome.seconds * 8000
    assert len(before) % talk_settings.chunk_bytes == 0 and before == pcmu[: len(before)]
    assert abs(dominant_hz(after) - 440) <= 10
    # Both POSTs ended by their bodies, and WEP answered them with success.
    assert upstream_posts(talk_gateway) == (2, 0) and emulator.stats["open_streams"] == 0
    assert talk_sessions.counters.preempted == 1 and talk_sessions.holder(camera) is None
    async with aiohttp.ClientSession() as http:
        assert "wepgw_talk_preempted_total 1.0" in await metrics(http, talk_url)


async def test_a_file_preempts_a_clip_and_a_live_talker_preempts_the_file(
    emulator, talk_gateway, talk_url, http, talk_sessions
):
    camera = emulator.camera_ids[0]
    clip = asyncio.create_task(play_clip(talk_sessions, camera, clip_audio(5.0, 1000.0), wait_s=1.0))
    await wait_until(lambda: len(emulator.talk_audio(camera)) >= 2000, 10, "the clip at the speaker")
    played = asyncio.create_task(upload(http, talk_url, camera, wav_bytes(tone(6.0, 8000, freq=600.0), 8000)))
    outcome = await clip
    assert (outcome.played, outcome.reason) == (True, "preempted by a file being played")

    await wait_until(
        lambda: talk_sessions.holder(camera) is not None and talk_sessions.holder(camera).bytes_sent >= 4000,
        10,
        "the file at the speaker",
    )
    talker = await talk(http, talk_url, camera, len(emulator.talk_audio(camera)) + 4000, emulator)
    status, answer = await played
    assert status == 200 and answer["ended"] == "preempted by a live talker", answer
    assert 0.4 <= answer["duration"] < 6.0
    assert await talker.stop() == 200
    assert upstream_posts(talk_gateway) == (3, 0) and talk_sessions.counters.preempted == 2


async def test_a_clip_cancelled_while_waiting_leaves_no_trace(emulator, talk_gateway, talk_url, http, talk_sessions):
    camera = emulator.camera_ids[0]
    talker = await talk(http, talk_url, camera, 4000, emulator)
    waiting = asyncio.create_task(play_clip(talk_sessions, camera, clip_audio(0.5, 1000.0), wait_s=30.0))
    await wait_until(lambda: talk_sessions.waiting(camera) == 1, 5, "the clip to queue")
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert talk_sessions.waiting(camera) == 0
    assert await talker.stop() == 200
    assert talk_sessions.holder(camera) is None and len(talk_sessions) == 0
    assert upstream_posts(talk_gateway) == (1, 0)


async def test_a_camera_without_a_speaker_raises(emulator, talk_gateway, talk_sessions):
    with pytest.raises(NoSpeaker, match="has no speaker") as refused:
        await play_clip(talk_sessions, emulator.camera_ids[-1], clip_audio(0.2, 1000.0), wait_s=1.0)
    assert isinstance(refused.value, ValueError) and refused.value.code == "no_speaker"
    with pytest.raises(NoSpeaker, match="no camera 'nope'"):
        await play_clip(talk_sessions, "nope", clip_audio(0.2, 1000.0), wait_s=1.0)
    assert talk_sessions.counters.sessions_started == 0 and upstream_posts(talk_gateway) == (0, 0)


async def test_a_waiting_clip_gives_up_when_the_gateway_shuts_down(
    emulator, talk_gateway, talk_url, http, talk_sessions
):
    camera = emulator.camera_ids[0]
    talker = await talk(http, talk_url, camera, 4000, emulator)
    live = talk_sessions.holder(camera)
    waiting = asyncio.create_task(play_clip(talk_sessions, camera, clip_audio(0.5, 1000.0), wait_s=30.0))
    await wait_until(lambda: talk_sessions.waiting(camera) == 1, 5, "the clip to queue")
    await talk_sessions.close_all()
    assert await waiting == ClipOutcome(False, "gateway shutting down", 0.0, (await waiting).waited)
    assert live.end_reason == "gateway shutting down" and talk_sessions.counters.clip_skipped == 0
    assert talk_sessions.holder(camera) is None and upstream_posts(talk_gateway) == (1, 0)
    await talker.pc.close()
