"""Uploaded audio files on the camera speaker: decoded whole, then paced in real time.

Decoding (PyAV, in `transcoders.pcmu.decode_audio_file`) is all or nothing and runs in an
executor before the speaker is taken, so a damaged file is refused (400/415) before a
single byte goes upstream. The PCMU is then queued on the uplink one chunk per chunk
time against absolute deadlines (no drift), as a microphone would send it: the camera
plays what it receives, and a burst would overflow its buffer or be cut at the cap.
`play` paces rule clips too (clip_playback.py); a preempted file or clip stops at the
next chunk boundary, never inside a chunk.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from gateway.talkdown.session import TalkSession, TalkSessions
from transcoders.pcmu import UnsupportedAudio, decode_audio_file

PLAYED = "file played"  # the end of a session whose audio was all queued


class DamagedAudio(ValueError):
    """The upload is a supported format but damaged or truncated (HTTP 400)."""


def decode_upload(data: bytes, max_seconds: float) -> bytes:
    """The upload as PCMU (CPU-bound: call in an executor).

    Raises UnsupportedAudio (415: not audio we take) or DamagedAudio (400: our format,
    but cut or broken). decode_audio_file says which in its message only.
    """
    try:
        return b"".join(decode_audio_file(data, max_seconds))
    except UnsupportedAudio as exc:
        message = str(exc)
        if message.startswith(("truncated", "damaged", "the file decodes to no audio")):
            raise DamagedAudio(message) from None
        raise


async def play(sessions: TalkSessions, session: TalkSession, pcmu: bytes, still_wanted: Callable[[], bool]) -> str:
    """Pace `pcmu` onto the session's uplink, end the session; returns why it ended."""
    stopped = asyncio.Event()

    async def stop_source() -> None:
        stopped.set()

    session.stop_source = stop_source
    chunk = sessions.settings.chunk_bytes
    seconds_per_chunk = sessions.settings.chunk_ms / 1000
    loop = asyncio.get_running_loop()
    reason = "cancelled"  # unless the loop below says otherwise
    try:
        start = loop.time()
        for index, offset in enumerate(range(0, len(pcmu), chunk)):
            delay = start + index * seconds_per_chunk - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if stopped.is_set() or session.preempted or session.uplink.failure is not None:
                reason = "stopped"
                break
            if not still_wanted():
                reason = "the uploader went away"
                break
            session.uplink.send(pcmu[offset : offset + chunk], time.monotonic())
        else:
            reason = PLAYED
    finally:
        await sessions.end(session, reason)
    return session.end_reason or reason
