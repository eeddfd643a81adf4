"""POST /media: the camera speaker, an audio sink that keeps what it heard (guide,
POST /media: "Audio must be in PCMU format. The maximum stream duration is 120000 ms")."""

from __future__ import annotations

from aiohttp import web

from gateway.emulator.access import require_camera, require_session
from gateway.emulator.envelope import WepError, error_response, success
from gateway.emulator.state import EMULATOR

PCMU_TYPES = ("audio/pcmu", "audio/basic")
routes = web.RouteTableDef()


@routes.post("/media")
async def talk(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    session = require_session(emu.sessions, request)
    camera = require_camera(emu.cameras, request.query.get("cameraId"))
    if request.query.get("media", "video") != "audio":
        raise WepError(400, "POST /media streams audio: media must be audio")
    if not camera.has_speaker:
        raise WepError(409, "camera has no speaker.")
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type not in PCMU_TYPES:
        raise WepError(415, f"Content-Type must be audio/PCMU, not {content_type or 'missing'!r}")

    cap = emu.settings.talk_cap_bytes
    record = emu.talk_records[camera.id]
    received = 0
    async with emu.live_stream(request, session, camera.id, "talk", None) as stream:
        try:
            async for chunk in request.content.iter_any():
                kept = chunk[: cap - received]
                if kept:
                    record.add(kept)
                    received += len(kept)
                    emu.counters.talk_bytes[camera.id] += len(kept)
                if len(kept) < len(chunk):
                    # Keep what fits, stop reading, answer 413 and close: the rest of
                    # the upload is past the 120 s the camera accepts.
                    emu.counters.talk_rejected[camera.id] += 1
                    response = error_response(413, f"audio stream exceeds the maximum of {emu.settings.talk_cap_ms} ms")
                    response.force_close()
                    return response
        except ConnectionError:
            return error_response(400, "audio upload ended before its end")
    if stream.dropped:
        return error_response(503, "connection dropped")
    return success({"receivedBytes": received})
