"""/api/v1/clips over HTTP: admin only; a raw body with ?name= or a multipart form; every
bad input a JSON error with its code; what is listed is what is on disk."""

from __future__ import annotations

import aiohttp
import pytest

from gateway.rules.clip_routes import CLIPS
from tests.auth.secure import admin_headers, secure_config
from tests.conftest import serving
from tests.talkdown.audio import encoded_bytes, tone, wav_bytes

MAX_UPLOAD = 256 * 1024


@pytest.fixture
async def clip_gateway(emulator, tmp_path):
    config = secure_config(
        emulator,
        rules={"clips_dir": str(tmp_path / "clips")},
        pushes={"db_path": str(tmp_path / "gateway.sqlite3")},
        limits={"max_upload_bytes": MAX_UPLOAD},
    )
    async with serving(config) as server:
        yield server


@pytest.fixture
async def admin(clip_gateway):
    base = str(clip_gateway.make_url("")).rstrip("/")
    async with aiohttp.ClientSession(base_url=base, headers=admin_headers()) as http:
        yield http


async def answer(response: aiohttp.ClientResponse) -> tuple[int, dict | None]:
    return response.status, (await response.json()) if response.content_type == "application/json" else None


async def post_raw(http, body, name: str | None = "hello", **kwargs):
    params = {"name": name} if name is not None else {}
    async with http.post("/api/v1/clips", params=params, data=body, **kwargs) as response:
        return await answer(response)


async def post_form(http, fields: dict[str, bytes | str]):
    form = aiohttp.FormData()
    for field, value in fields.items():
        if isinstance(value, bytes):
            form.add_field(field, value, filename="clip.bin", content_type="application/octet-stream")
        else:
            form.add_field(field, value)
    async with http.post("/api/v1/clips", data=form) as response:
        return await answer(response)


async def test_upload_list_and_delete(admin, clip_gateway, tmp_path):
    status, first = await post_raw(
        admin, wav_bytes(tone(1.0, 8000), 8000), "intruder", headers={"Content-Type": "audio/wav"}
    )
    assert status == 201, first
    assert set(first) == {"id", "name", "seconds", "bytes", "created_at"}
    assert (first["name"], first["seconds"], first["bytes"]) == ("intruder", 1.0, 8000)

    ogg = encoded_bytes(tone(1.5, 48000), 48000, "ogg", "libopus")
    status, second = await post_form(admin, {"name": "leave now", "file": ogg})
    assert status == 201, second
    assert second["name"] == "leave now" and 1.45 <= second["seconds"] <= 1.6

    async with admin.get("/api/v1/clips") as response:
        assert response.status == 200
        assert await response.json() == {"clips": [first, second]}
    assert sorted(path.name for path in (tmp_path / "clips").iterdir()) == sorted(
        f"{clip['id']}.{ext}" for clip in (first, second) for ext in ("wav", "json")
    )
    library = clip_gateway.app[CLIPS]
    assert len(await library.pcmu(await library.resolve("leave now"))) == second["bytes"]

    async with admin.delete(f"/api/v1/clips/{first['id']}") as response:
        assert await answer(response) == (200, first)
    async with admin.delete(f"/api/v1/clips/{first['id']}") as response:
        status, body = await answer(response)
        assert status == 404 and body["error"]["code"] == "not_found"
    async with admin.get("/api/v1/clips") as response:
        assert await response.json() == {"clips": [second]}


async def test_the_form_name_wins_and_the_query_name_serves_a_form_without_one(admin):
    wav = wav_bytes(tone(0.5, 8000), 8000)
    form = aiohttp.FormData()
    form.add_field("file", wav, filename="a.wav", content_type="audio/wav")
    async with admin.post("/api/v1/clips", params={"name": "from query"}, data=form) as response:
        status, clip = await answer(response)
    assert status == 201 and clip["name"] == "from query"
    status, clip = await post_form(admin, {"name": "émoi ☎", "extra": "ignored", "file": wav})
    assert status == 201 and clip["name"] == "émoi ☎"


@pytest.mark.parametrize(
    "body,status,code",
    [
        (b"this is not audio at all, just some text" * 20, 415, "unsupported_audio"),
        (b"\x89PNG\r\n\x1a\n" + bytes(2000), 415, "unsupported_audio"),
        (b"", 400, "empty_file"),
        (bytes(MAX_UPLOAD + 1), 413, "too_large"),
    ],
)
async def test_bad_files_are_refused_and_nothing_is_kept(admin, clip_gateway, body, status, code):
    got, answer_body = await post_raw(admin, body)
    assert (got, answer_body["error"]["code"]) == (status, code), answer_body
    got, answer_body = await post_form(admin, {"name": "x", "file": body})
    assert (got, answer_body["error"]["code"]) == (status, code), answer_body
    assert await clip_gateway.app[CLIPS].list() == []


async def test_a_form_part_with_a_control_character_in_its_header_gets_400(admin, clip_gateway):
    # Found by schemathesis: aiohttp parses a part's headers as HTTP's and raises its own
    # HttpProcessingError (not a ValueError) for a byte HTTP forbids there.
    body = (
        b'--b\r\nContent-Disposition: form-data; name="\x11"\r\n\r\nx\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nx\r\n--b--\r\n'
    )
    got, answer_body = await post_raw(admin, body, headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert got == 400 and "multipart/form-data body is malformed" in answer_body["error"]["message"], answer_body
    assert await clip_gateway.app[CLIPS].list() == []


async def test_a_chunked_body_over_the_limit_gets_413(admin, clip_gateway):
    async def chunks():
        for _ in range(5):
            yield bytes(64 * 1024)  # no Content-Length: the handler bounds what it reads

    got, body = await post_raw(admin, chunks())
    assert got == 413 and body["error"]["code"] == "too_large"


async def test_a_damaged_file_gets_400(admin):
    whole = encoded_bytes(tone(2.0, 48000), 48000, "mp3", "libmp3lame")
    got, body = await post_raw(admin, whole[: len(whole) // 2])
    assert got == 400 and body["error"]["code"] == "damaged_audio" and "truncated" in body["error"]["message"]


async def test_names_missing_bad_or_taken(admin, clip_gateway):
    wav = wav_bytes(tone(0.3, 8000), 8000)
    for name in (None, "", "   ", "x" * 65, "bell\x07"):
        got, body = await post_raw(admin, wav, name)
        assert got == 400 and body["error"]["message"].startswith("name: "), (name, body)
    got, body = await post_form(admin, {"file": wav})
    assert got == 400 and body["error"]["message"].startswith("name: ")
    got, body = await post_form(admin, {"name": "x" * 300, "file": wav})
    assert got == 400 and body["error"]["message"].startswith("name: ")
    assert (await post_raw(admin, wav, "doorbell"))[0] == 201
    got, body = await post_raw(admin, wav, "doorbell")
    assert got == 409 and body["error"]["code"] == "conflict" and "'doorbell'" in body["error"]["message"]
    assert [clip.name for clip in await clip_gateway.app[CLIPS].list()] == ["doorbell"]


async def test_clips_are_for_the_admin_only(clip_gateway):
    base = str(clip_gateway.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as http:
        for method, path in (
            ("GET", "/api/v1/clips"),
            ("POST", "/api/v1/clips?name=x"),
            ("DELETE", "/api/v1/clips/abc"),
        ):
            async with http.request(method, base + path, data=b"x") as response:
                assert response.status == 401, (method, path)
            async with http.request(method, base + path, data=b"x", headers=admin_headers("wrong")) as response:
                assert response.status in (401, 403), (method, path)
