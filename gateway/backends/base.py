"""The seam between the gateway and the camera systems behind it.

A backend is one camera system (an ACC Web Endpoint, a set of Amcrest/Dahua cameras...).
It says what each of its cameras can do as `Capability` flags, the way aiortc's
`RTCRtpSender.getCapabilities()` does: callers ask `camera.can(...)` and never look at
which backend a camera belongs to. Every part is optional; a backend that lacks one
raises `Unsupported` from it and does not advertise the capability.

What crosses the seam is backend-neutral:
- video: an open `VideoFeed` yields `InitSegment` and `Fragment` events (H.264 as AVCC
  samples, the fMP4 reader's model), whatever the wire was (fMP4 over HTTP, RTP over RTSP);
- camera audio: an open `AudioFeed` yields batches of `AudioTrack` and `AudioFrame`s in the codec
  the camera sends (opus, AAC or G.711); `gateway/media/audio.py` makes the rest, once per
  camera;
- the speaker: a `SpeakerSink` takes G.711 bytes at 8 kHz, streamed in real time;
- events: `CameraEvent`, one shape for every backend (DESIGN.md "Events and alarms").
An upstream fault ends a feed with `UpstreamFailure(cause, message)`: `cause` is a short
label for counters that says what happened: "upstream_<status>" only for a status the
upstream sent ("upstream_503"), else "stall", "connection", "bad_media", "auth",
"unsupported", or WEP's "connection_closed", "timeout", "refused"... (gateway/wep/errors.py
NO_ANSWER_CAUSES); the message one line without secrets.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import AbstractAsyncContextManager as AsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from gateway.media.fmp4.model import Fragment, InitSegment


class Capability(enum.StrEnum):
    VIDEO = "video"  # live video per quality
    AUDIO = "audio"  # the camera's microphone
    SNAPSHOT = "snapshot"  # a live JPEG
    SNAPSHOT_AT = "snapshot_at"  # a JPEG of a past instant (recorded)
    SNAPSHOT_CROP = "snapshot_crop"  # the upstream cuts roi/size itself (else cropped here)
    IMAGE_REF = "image_ref"  # pictures stored with events
    SPEAKER = "speaker"  # talkdown
    EVENTS = "events"
    PTZ = "ptz"  # continuous moves, presets
    PTZ_FOV = "ptz_fov"  # field of view: centre on a point, zoom to a region
    OUTPUTS = "outputs"  # digital outputs (relays)
    RECORDED = "recorded"  # recorded video (HLS ?t=)
    UPSTREAM_PUSH = "upstream_push"  # the camera system pushes RTMP itself (push mode "wep")


class Unsupported(Exception):
    """The camera's backend has no such part; callers check `Camera.can()` first."""

    def __init__(self, camera_id: str, capability: Capability):
        super().__init__(f"camera {camera_id!r} has no {capability.value}")
        self.camera_id = camera_id
        self.capability = capability


class UpstreamFailure(Exception):
    """A feed or call to the camera system failed: `cause` labels it for counters and
    reconnect logs; the message is one line that never carries a secret."""

    def __init__(self, cause: str, message: str, status: int = 502):
        super().__init__(message)
        self.cause = cause
        self.status = status  # what an API answer should say (502 upstream, 504 timeout...)


@dataclass(frozen=True, slots=True)
class VideoQuality:
    """One quality as a player is told about it (HLS multivariant)."""

    width: int
    height: int
    codecs: str  # RFC 6381, "avc1.4D401F"
    bandwidth: int  # bits/s


@dataclass(frozen=True)
class Camera:
    id: str
    name: str
    source: str  # the backend's name: "wep", "amcrest"
    qualities: dict[str, VideoQuality]  # "high"/"low" -> description
    capabilities: frozenset[Capability]
    speaker_codecs: tuple[str, ...] = ()  # as the camera system names them ("audio/PCMU"...)
    available: bool = True
    reason: str = ""  # why not available: one line, no secrets

    @property
    def speaker(self) -> bool:
        return Capability.SPEAKER in self.capabilities

    @property
    def audio(self) -> bool:
        return Capability.AUDIO in self.capabilities

    @property
    def ptz(self) -> bool:
        return Capability.PTZ in self.capabilities

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def public(self) -> dict:
        # Only ids, names and shapes go out: URLs and sessions stay in the backend.
        shown = {
            "id": self.id,
            "name": self.name,
            "qualities": list(self.qualities),
            "speaker": self.speaker,
            "audio": self.audio,
            "source": self.source,
            "ptz": self.ptz,
        }
        if not self.available:
            shown.update(available=False, reason=self.reason)
        return shown


@dataclass(frozen=True, slots=True)
class AudioTrack:
    """The camera's audio as it arrives: opus (48 kHz clock), AAC (AudioSpecificConfig in
    `config`) or G.711 ("pcma"/"pcmu", 8 kHz)."""

    codec: str  # "opus" | "aac" | "pcma" | "pcmu"
    sample_rate: int
    channels: int
    config: bytes = b""  # OpusHead, AudioSpecificConfig


@dataclass(frozen=True, slots=True)
class AudioFrame:
    data: bytes
    pts_ms: float  # on the feed's own clock


class VideoFeed(Protocol):
    """One open upstream video connection."""

    def events(self) -> AsyncIterator[InitSegment | Fragment]: ...


class AudioFeed(Protocol):
    """One open upstream audio connection. Each batch is what arrived together (one read),
    so the camera's audio is transcoded once per read, not once per frame."""

    def batches(self) -> AsyncIterator[list[AudioTrack | AudioFrame]]: ...


class SpeakerSink(Protocol):
    """A camera speaker: one streamed upload of G.711 at 8 kHz (one byte a sample)."""

    codec: str  # "pcmu" | "pcma": what `post` takes
    max_stream_ms: int  # the longest one upload may last; longer talks chain uploads

    async def post(self, body: AsyncIterable[bytes]) -> None: ...


@dataclass(frozen=True, slots=True)
class PtzVector:
    """A continuous move: each part in [-1, 1] (right, up and zoom-in positive); zeros stop."""

    pan: float = 0.0
    tilt: float = 0.0
    zoom: float = 0.0

    @property
    def still(self) -> bool:
        return self.pan == self.tilt == self.zoom == 0


@dataclass(frozen=True, slots=True)
class Preset:
    number: int
    name: str


@dataclass(frozen=True, slots=True)
class Timeline:
    """Where a camera has recorded video and motion (ISO 8601 UTC pairs, oldest first)."""

    recordings: tuple[tuple[str, str], ...]
    motion: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Bookmark:
    id: str
    name: str
    start: str  # ISO 8601 UTC
    end: str
    description: str = ""


class OutputState(enum.StrEnum):
    ON = "on"
    OFF = "off"
    PULSE = "pulse"  # on, then off by itself


@dataclass(frozen=True, slots=True)
class CameraEvent:
    """One event, normalised (DESIGN.md "Events and alarms"). `type` uses WEP's topic names
    where one exists (DEVICE_MOTION_START...), else `<SOURCE>_<CODE>`; the raw fields stay
    in `data`."""

    id: str
    camera: str
    type: str
    state: str  # "start" | "stop" | "pulse"
    time: str  # ISO 8601 UTC
    source: str
    data: dict = field(default_factory=dict)

    def public(self) -> dict:
        return {
            "id": self.id,
            "camera": self.camera,
            "type": self.type,
            "state": self.state,
            "time": self.time,
            "source": self.source,
            "data": self.data,
        }


@runtime_checkable
class Backend(Protocol):
    """A camera system. Parts a backend lacks raise `Unsupported`."""

    name: str

    async def start(self) -> None:
        """Begin background work (logins, camera monitors); returns at once."""

    async def close(self) -> None: ...

    def readiness(self) -> str | None:
        """None when ready to serve, else why not (one line for /readyz)."""

    async def cameras(self) -> list[Camera]: ...

    def open_video(self, camera_id: str, quality: str, stall_timeout: float) -> AsyncContextManager[VideoFeed]: ...

    def open_audio(self, camera_id: str, stall_timeout: float, t: str | None = None) -> AsyncContextManager[AudioFeed]:
        """Live audio, or (`t`, with RECORDED) the recorded audio from that time."""

    def open_recorded(
        self, camera_id: str, quality: str, t: str, stall_timeout: float
    ) -> AsyncContextManager[VideoFeed]: ...

    async def snapshot(
        self, camera_id: str, *, t: str = "live", roi: str | None = None, size: str | None = None
    ) -> bytes: ...

    async def image_ref(self, camera_id: str, path: str, ref_type: str) -> bytes: ...

    def speaker(self, camera_id: str) -> SpeakerSink: ...

    def events(self) -> AsyncIterator[CameraEvent]: ...

    async def ptz_move(self, camera_id: str, vector: PtzVector) -> None:
        """Start (or change) a continuous move; it runs until the next move or a stop."""

    async def ptz_stop(self, camera_id: str) -> None: ...

    async def ptz_center(self, camera_id: str, x: float, y: float) -> None:
        """Centre the view on a normalised point of the picture (PTZ_FOV)."""

    async def ptz_zoom_to(self, camera_id: str, roi: tuple[float, float, float, float]) -> None:
        """Zoom to a normalised region (left, top, right, bottom) of the picture (PTZ_FOV)."""

    async def ptz_presets(self, camera_id: str) -> list[Preset]: ...

    async def ptz_goto_preset(self, camera_id: str, preset: int) -> None: ...

    async def ptz_home(self, camera_id: str) -> None: ...

    async def set_output(self, camera_id: str, output: int, state: OutputState) -> None:
        """Digital output `output` (1-based) of the camera (OUTPUTS); UpstreamFailure 404 if none."""

    # Recordings (RECORDED): what the camera system keeps.
    async def timeline(self, camera_id: str, start: str, end: str, scope: str) -> Timeline: ...

    async def bookmarks(self, camera_id: str) -> list[Bookmark]: ...

    async def add_bookmark(self, camera_id: str, name: str, start: str, end: str, description: str) -> Bookmark: ...

    async def record(self, camera_id: str, start: bool, seconds: int) -> None:
        """Start (for at most `seconds`) or stop recording on demand."""

    async def record_state(self, camera_id: str) -> str | None:
        """When the on-demand recording started (ISO 8601), or None when there is none."""
