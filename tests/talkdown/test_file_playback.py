"""File playback: WAV / Ogg-opus / MP3 uploads arrive at the emulator's speaker sink as
the PCMU FFmpeg decodes them to, at the tone's frequency and as long as the file."""

from __future__ import annotations

import pytest

from gateway.talkdown.file_playback import decode_upload
from tests.talkdown.audio import dominant_hz, encoded_bytes, seconds_of, tone, wav_bytes
from tests.talkdown.conftest import emulator_posts, upstream_posts


async def upload(http, url: str, camera_id: str, body: bytes, content_type: str = "application/octet-stream"):
    async with http.post(
        f"{url}/api/v1/cameras/{camera_id}/talkdown", data=body, headers={"Content-Type": content_type}
    ) as response:
        return response.status, await response.json()


async def test_a_3_s_wav_tone_arrives_as_3_s_of_440_hz_pcmu(
    emulator, talk_gateway, talk_url, http, talk_sessions, talk_settings
):
    camera = emulator.camera_ids[0]
    body = wav_bytes(tone(3.0, 48000), 48000)
    status, answer = await upload(http, talk_url, camera, body, "audio/wav")
    assert status == 200, answer
    audio = emulator.talk_audio(camera)
    assert abs(seconds_of(audio) - 3.0) <= 0.05
    assert answer == {
        "camera": camera,
        "duration": seconds_of(audio),
        "bytes": len(audio),
        "posts": 1,
        "ended": "file played",
    }
    assert abs(dominant_hz(audio) - 440) <= 10
    assert audio == decode_upload(body, 300.0)  # every chunk once, in order
    # Paced as a microphone would send it, in chunks of chunk_ms.
    assert {len(chunk) for _, chunk in emulator.talk_chunks(camera)} == {talk_settings.chunk_bytes}
    assert upstream_posts(talk_gateway) == (1, 0) and emulator_posts(emulator, camera) == 1
    assert talk_sessions.holder(camera) is None


@pytest.mark.parametrize("container,codec,rate", [("ogg", "libopus", 48000), ("mp3", "libmp3lame", 44100)])
async def test_compressed_uploads_play_at_the_right_frequency(
    emulator, talk_gateway, talk_url, http, container, codec, rate
):
    camera = emulator.camera_ids[0]
    body = encoded_bytes(tone(1.0, rate, freq=600.0), rate, container, codec)
    status, answer = await upload(http, talk_url, camera, body)
    assert status == 200, answer
    audio = emulator.talk_audio(camera)
    assert 0.95 <= seconds_of(audio) <= 1.1  # encoder priming and padding
    assert abs(dominant_hz(audio) - 600) <= 10
    assert upstream_posts(talk_gateway) == (1, 0)
