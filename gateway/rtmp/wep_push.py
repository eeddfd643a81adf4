"""`mode: "wep"`: WEP pushes the camera itself (guide, POST/GET/DELETE /media/rtmp).

One attempt: stop the stream a previous attempt (or a previous gateway process) left
behind, POST /media/rtmp, remember WEP's stream id and the session that owns it
(persisted), then GET /media/rtmp every
`CHECK_INTERVAL` seconds. The guide: GET "returns the streams that were created with the
session", and "dropping the stream on the receiving media server will also terminate the
stream": a stream missing from the list was dropped by the receiver, lost with WEP or
with our session, or still runs under the session we had before logging in again; the
attempt ends so the supervisor stops it (with its session) and starts it again. The polling is
also what keeps the WEP session from idling out while pushes run.

The stop uses the session that started the stream, not the current one: the guide scopes
DELETE /media/rtmp to its session, and after a SIGKILL the old stream belongs to the dead
process's session. Left running, it keeps the receiver's stream name, and the receiver
refuses the new push ("already publishing") until it ends.

A WEP answer that cannot be checked (WEP unreachable) is tolerated `MAX_CHECK_FAILURES`
times: the stream may well still be running, and a restart would push it twice.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from gateway.rtmp.push import PushAttemptError, PushContext
from gateway.rtmp.state import PushState
from gateway.wep.errors import WepError, WepUnavailable, is_session_expired

log = logging.getLogger("gateway.rtmp")

CHECK_INTERVAL = 2.0
MAX_CHECK_FAILURES = 3
# WEP answers these when the request itself is wrong (camera without audio, bad media):
# the same request cannot succeed later.
PERMANENT_STATUSES = frozenset({400, 409, 422})


async def run_wep_push(ctx: PushContext) -> None:
    await stop_wep_stream(ctx)
    spec, wep = ctx.spec, ctx.wep
    if wep is None:  # the API allows mode "wep" only for cameras of a WEP backend
        raise PushAttemptError("no WEP backend to push from", permanent=True)
    try:
        result, session = await wep.rtmp_start_owned(spec.camera, spec.url, media=spec.media, quality=spec.quality)
    except WepError as exc:
        permanent = not isinstance(exc, WepUnavailable) and exc.status in PERMANENT_STATUSES
        raise PushAttemptError(f"WEP did not start the push: {exc}", permanent=permanent) from None
    stream_id = stream_id_of(result)
    if stream_id is None:
        raise PushAttemptError("WEP started the push but answered no stream id")
    ctx.wep_stream_id, ctx.wep_session = stream_id, session
    await ctx.remember_wep_stream(stream_id, session)
    failures = 0
    while True:
        await asyncio.sleep(CHECK_INTERVAL)
        try:
            streams = await wep.rtmp_list()
        except WepError as exc:
            failures += 1
            if failures >= MAX_CHECK_FAILURES:
                raise PushAttemptError(f"cannot check the push on WEP: {exc}") from None
            continue
        failures = 0
        entry = next((stream for stream in streams if stream_id_of(stream) == stream_id), None)
        if entry is None:
            # Not forgotten: missing from this session's list may also mean the client has
            # logged in again while the stream still runs under its old session. The next
            # attempt's stop, with that session, ends it whichever it was.
            raise PushAttemptError(
                "WEP no longer lists the push (receiver dropped it, WEP restarted or the session was lost)"
            )
        if ctx.status.state is PushState.STARTING and entry.get("state") not in ("starting", "connecting"):
            ctx.enter(PushState.LIVE)


async def stop_wep_stream(ctx: PushContext) -> None:
    """Best effort DELETE /media/rtmp of the stream this push last had, with its session.

    A stream stored without a session (a version 1 database) is stopped with the current
    one, as before: it works when the stream is this process's."""
    stream_id = ctx.wep_stream_id
    if stream_id is None or ctx.wep is None:
        return
    try:
        await ctx.wep.rtmp_stop([stream_id], session=ctx.wep_session)
    except WepError as exc:
        extra = {"camera": ctx.spec.camera}
        if not isinstance(exc, WepUnavailable) and is_session_expired(exc):
            # That session is gone, and WEP ended its streams with it: nothing left to stop.
            log.info("push %s: the previous WEP stream's session has expired", ctx.spec.id, extra=extra)
        else:
            log.info(
                "push %s: WEP did not stop its previous stream: %s", ctx.spec.id, ctx.redact(str(exc)), extra=extra
            )
    ctx.wep_stream_id = ctx.wep_session = None
    await ctx.remember_wep_stream(None, None)


def stream_id_of(entry: Any) -> str | None:
    """WEP's id of a stream: the guide shows only `"string"`; accept the usual spellings."""
    if isinstance(entry, str) and entry:
        return entry
    if not isinstance(entry, dict):
        return None
    for key in ("id", "streamId", "stream_id"):
        value = entry.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
            return str(value)
    return None
