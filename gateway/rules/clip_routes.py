"""`/api/v1/clips` (admin): the named audio clips the talkdown action plays.

    GET    /api/v1/clips                 {"clips": [{"id", "name", "seconds", "bytes", "created_at"}]}
    POST   /api/v1/clips?name=N          the audio file (WAV / Ogg / MP3) as the body, or a
                                         multipart/form-data body with fields name and file
                                         -> 201 {"id", "name", "seconds", "bytes", "created_at"}
    DELETE /api/v1/clips/{id}            200 with the clip that was deleted

The upload is decoded once and kept as 8 kHz mu-law (clips.py). Refusals: not audio 415
`unsupported_audio`, damaged 400 `damaged_audio`, empty 400 `empty_file`, larger than
[limits] max_upload_bytes 413, a missing or bad name 400 naming `name`, a name taken 409.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from gateway.api.errors import ApiError, bad_request, not_found
from gateway.rules.clips import MAX_NAME, ClipLibrary, ClipNameError, ClipNameTaken, clip_name
from gateway.services import CONFIG
from gateway.talkdown.file_playback import DamagedAudio
from gateway.talkdown.routes import TALK_DECODER
from transcoders.pcmu import UnsupportedAudio

log = logging.getLogger("gateway.rules")

CLIPS = web.AppKey("clips", ClipLibrary)

READ_BLOCK = 64 * 1024


async def list_clips(request: web.Request) -> web.Response:
    return web.json_response({"clips": [clip.public() for clip in await request.app[CLIPS].list()]})


async def add_clip(request: web.Request) -> web.Response:
    limit = request.app[CONFIG].limits.max_upload_bytes
    if request.content_type == "multipart/form-data":
        name, data = await _read_form(request, limit)
    else:
        name = _valid_name(request.query.get("name"))  # before reading the body
        data = await _read_body(request, limit)
    if not data:
        raise ApiError(400, "empty_file", "the request has no audio file in its body")
    try:
        clip = await request.app[CLIPS].add(name, data)
    except ClipNameTaken as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    except DamagedAudio as exc:
        raise ApiError(400, "damaged_audio", str(exc)) from None
    except UnsupportedAudio as exc:
        raise ApiError(415, "unsupported_audio", str(exc)) from None
    return web.json_response(clip.public(), status=201)


async def delete_clip(request: web.Request) -> web.Response:
    clip = await request.app[CLIPS].delete(request.match_info["id"])
    if clip is None:
        raise not_found(f"no clip {request.match_info['id']!r}")
    return web.json_response(clip.public())


def _valid_name(name: str | None) -> str:
    try:
        return clip_name(name)
    except ClipNameError as exc:
        raise bad_request(str(exc)) from None


async def _read_limited(read: Callable[[int], Awaitable[bytes]], limit: int, too_large: ApiError) -> bytes:
    """A body, or a form part, of at most `limit` bytes; `too_large` past it."""
    body = bytearray()
    while block := await read(READ_BLOCK):
        body += block
        if len(body) > limit:
            raise too_large
    return bytes(body)


async def _read_body(request: web.Request, limit: int) -> bytes:
    return await _read_limited(request.content.read, limit, _too_large(limit))


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large", f"the audio file is larger than {limit} bytes")


async def _read_form(request: web.Request, limit: int) -> tuple[str, bytes]:
    """The `name` and `file` fields of a multipart/form-data body (RFC 7578); the query's
    name if the form has none."""
    name: str | None = None
    data = b""
    long_name = bad_request(f"name: at most {MAX_NAME} characters")
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):  # a nested multipart: not ours
                continue
            if part.name == "name":
                name = (await _read_limited(part.read_chunk, 4 * MAX_NAME, long_name)).decode(part.get_charset("utf-8"))
            elif part.name == "file":
                data = await _read_limited(part.read_chunk, limit, _too_large(limit))
            else:
                await part.release()
    # aiohttp's multipart parser (a part's headers are parsed as HTTP's: HttpProcessingError), the charset
    except (ValueError, LookupError, AssertionError, HttpProcessingError) as exc:
        raise bad_request(f"the multipart/form-data body is malformed: {exc}") from None
    return _valid_name(name if name is not None else request.query.get("name")), data


async def _clips_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    # Decodes share the talk uploads' one worker, so uploads cannot take both cores.
    library = ClipLibrary(config.rules.clips_dir, config.talkdown.max_file_seconds, app[TALK_DECODER])
    await library.open()
    app[CLIPS] = library
    yield


def add_routes(app: web.Application) -> None:
    # After the talkdown routes: their cleanup_ctx makes the decoder this one borrows.
    app.cleanup_ctx.append(_clips_ctx)
    app.router.add_get("/api/v1/clips", list_clips)
    app.router.add_post("/api/v1/clips", add_clip)
    app.router.add_delete("/api/v1/clips/{id}", delete_clip)
