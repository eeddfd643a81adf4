"""Rule clips on a camera speaker: how the rules engine's talkdown action is heard.

A clip ranks below people (session.py): it never cuts in. `play_clip` waits up to
`wait_s` for the speaker, first come first served behind other clips, then paces the clip
as an uploaded file is paced (`file_playback.play`). A person who takes the speaker
meanwhile (a WHIP microphone, a file played through the API) preempts it at the next
chunk. Busy, preempted and upstream failures are outcomes the engine records, not
exceptions; only a camera that cannot play talk audio at all raises (`NoSpeaker`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from gateway.api.errors import ApiError
from gateway.backends.base import UpstreamFailure
from gateway.talkdown import file_playback
from gateway.talkdown.session import TalkSessions
from gateway.talkdown.speaker import NoSpeaker, speaker_problem

log = logging.getLogger("gateway.talkdown")

PLAYED = "played"


@dataclass(frozen=True)
class ClipOutcome:
    played: bool  # False: skipped, or preempted (or failed) before any of it went out
    reason: str  # "played", "preempted by a live talker", "skipped: speaker busy for 20 s", an upstream error...
    seconds: float  # audio actually sent
    waited: float  # seconds spent waiting for the speaker


async def play_clip(sessions: TalkSessions, camera_id: str, pcmu: bytes, wait_s: float) -> ClipOutcome:
    """Play `pcmu` (G.711 mu-law, 8 kHz mono) on the camera's speaker once it is free.

    Raises NoSpeaker (a ValueError) for an unknown camera or one whose speaker cannot
    play talk audio (speaker_problem); every other end is in the outcome.
    """
    try:
        camera = await sessions.cameras.get(camera_id)
    except ApiError as exc:  # 404: no such camera
        raise NoSpeaker(exc.status, exc.code, exc.message) from None
    except UpstreamFailure as exc:
        return ClipOutcome(False, f"cameras not listed: {exc}", 0.0, 0.0)
    problem = speaker_problem(camera)
    if problem is not None:
        if problem.status == 409:
            sessions.counters.refused_no_speaker += 1
        raise problem

    asked = time.monotonic()
    try:
        session = await sessions.wait_for_speaker(camera_id, wait_s)
    except ApiError as exc:  # the camera left the listing while the clip waited
        raise NoSpeaker(exc.status, exc.code, exc.message) from None
    waited = time.monotonic() - asked
    if session is None:
        if sessions.closed:
            return ClipOutcome(False, "gateway shutting down", 0.0, waited)
        reason = f"skipped: speaker busy for {wait_s:g} s"
        sessions.counters.clip_skipped += 1
        holder = sessions.holder(camera_id)
        log.info(
            "rule clip of %.1f s not played: %s (held by %s)",
            len(pcmu) / 8000,
            reason,
            holder.source if holder is not None else "nobody",
            extra={"camera": camera_id},
        )
        return ClipOutcome(False, reason, 0.0, waited)

    reason = await file_playback.play(sessions, session, pcmu, lambda: True)
    if session.uplink.failure is not None:
        reason = str(session.uplink.failure)
    elif reason == file_playback.PLAYED:
        reason = PLAYED
    return ClipOutcome(session.bytes_sent > 0, reason, session.seconds_sent, waited)
