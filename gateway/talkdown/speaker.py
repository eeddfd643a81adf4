"""Whether a camera's speaker can play talk audio, asked without a request.

The talk routes answer a problem as an HTTP error (`NoSpeaker.status`); the rules
engine's clips (`clip_playback.play_clip`) raise it. Both ask before any WebRTC, decoding
or upstream work.
"""

from __future__ import annotations

from gateway.backends.base import Camera, Capability

# Speaker codecs, as backends name them, that the talk path feeds: WEP's PCMU (the guide
# allows nothing else), Amcrest's G.711 of either law (SpeakerUplink translates the law).
G711_NAMES = frozenset({"audio/pcmu", "audio/g.711a", "audio/g.711mu"})


class NoSpeaker(ValueError):
    """The camera cannot play talk audio now: `code` says why, `status` is the HTTP answer."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code


def speaker_problem(camera: Camera) -> NoSpeaker | None:
    """Why `camera`'s speaker cannot take G.711 now (no speaker, unavailable, no codec); None if it can."""
    if not camera.can(Capability.SPEAKER):
        why = "spkc: speakerEnabled is false" if camera.source == "wep" else "not configured"
        return NoSpeaker(409, "no_speaker", f"camera {camera.id!r} has no speaker ({why})")
    if not camera.available:
        return NoSpeaker(503, "camera_unavailable", f"camera {camera.id!r} is unavailable: {camera.reason}")
    # Guide, POST /media: "Audio must be in PCMU format"; an empty list is taken as PCMU.
    if camera.speaker_codecs and not any(codec.lower() in G711_NAMES for codec in camera.speaker_codecs):
        return NoSpeaker(
            409,
            "no_speaker_codec",
            f"camera {camera.id!r} speaker does not take audio/PCMU (spkc: {', '.join(camera.speaker_codecs)})",
        )
    return None
