"""POST /media: the speaker sink keeps what it received and enforces the cap."""

import asyncio
import itertools

from tests.emulator.conftest import api, assert_envelope, login


async def chunked(parts: list[bytes], pause: float = 0.02):
    for part in parts:
        yield part
        await asyncio.sleep(pause)


def talk_params(session: str, camera_id: str) -> dict:
    return {"session": session, "cameraId": camera_id, "media": "audio"}


async def test_streamed_pcmu_is_kept_with_arrival_times(emulator, http):
    session = await login(http, emulator)
    cid = emulator.camera_ids[0]
    parts = [bytes([i]) * 160 for i in range(10)]  # ten 20 ms PCMU packets
    async with http.post(api(emulator, "media"), params=talk_params(session, cid), data=chunked(parts),
                         headers={"Content-Type": "audio/PCMU"}) as resp:  # fmt: skip
        assert resp.status == 200, await resp.text()
    assert emulator.talk_audio(cid) == b"".join(parts)
    chunks = emulator.talk_chunks(cid)
    assert len(chunks) >= 2  # arrived over time, not as one body
    assert all(b[0] >= a[0] for a, b in itertools.pairwise(chunks))
    assert emulator.stats["talk_bytes"][cid] == 1600


async def test_cap_answers_413_and_keeps_what_came_before(make_emulator, http):
    emulator = await make_emulator(talk_cap_ms=100)  # 800 bytes of PCMU
    session = await login(http, emulator)
    cid = emulator.camera_ids[0]
    parts = [b"\x55" * 160] * 20  # 400 ms offered
    async with http.post(api(emulator, "media"), params=talk_params(session, cid), data=chunked(parts),
                         headers={"Content-Type": "audio/PCMU"}) as resp:  # fmt: skip
        assert resp.status == 413
        assert_envelope(await resp.json(), 413, "PAYLOAD_TOO_LARGE")
    assert emulator.talk_audio(cid) == b"\x55" * 800
    assert emulator.stats["talk_rejected"][cid] == 1


async def test_no_speaker_is_409_and_other_types_415(emulator, http):
    session = await login(http, emulator)
    plain, speaker = emulator.camera_ids[1], emulator.camera_ids[0]
    cases = [
        (plain, "audio/PCMU", 409, "CONFLICT"),
        (speaker, "audio/wav", 415, "UNSUPPORTED_MEDIA_TYPE"),
    ]
    for cid, ctype, status, name in cases:
        async with http.post(api(emulator, "media"), params=talk_params(session, cid), data=b"\x00" * 160,
                             headers={"Content-Type": ctype}) as resp:  # fmt: skip
            assert_envelope(await resp.json(), status, name)
    assert emulator.talk_audio(plain) == b"" and emulator.talk_audio(speaker) == b""
