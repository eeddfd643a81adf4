"""WEP behind the seam: cameras from GET /cameras + MPD + spkc, video and audio from
GET /media, JPEGs, the speaker (POST /media), recorded video and WEP-side RTMP pushes.

Nothing here changes how the gateway talks to WEP: it is the code that used to sit in
the camera directory, the source and the camera audio, moved behind `Backend`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager as AsyncContextManager
from dataclasses import dataclass
from typing import cast

from gateway.backends.base import AudioFrame as SeamAudioFrame
from gateway.backends.base import (
    AudioTrack,
    Bookmark,
    Camera,
    CameraEvent,
    Capability,
    OutputState,
    Preset,
    PtzVector,
    Timeline,
    VideoQuality,
)
from gateway.backends.wep.control import WepCameraControl
from gateway.backends.wep.recordings import WepRecordings
from gateway.media.fmp4 import Fmp4Reader, Fragment, InitSegment
from gateway.media.webm import AudioFrame, WebmReader
from gateway.media.webm import AudioTrack as WebmAudioTrack
from gateway.wep.client import WepClient
from gateway.wep.control_api import WepControlApi
from gateway.wep.errors import WepAuthError, WepError
from gateway.wep.mpd import MediaPresentation
from gateway.wep.recording_api import WepRecordingApi
from gateway.wep.stream import MediaStream

log = logging.getLogger("gateway.backends.wep")

NAME = "wep"
# What every WEP camera has; the speaker and audio come from spkc and the MPD.
_BASE = frozenset(
    {
        Capability.VIDEO,
        Capability.SNAPSHOT,
        Capability.SNAPSHOT_AT,
        Capability.SNAPSHOT_CROP,
        Capability.IMAGE_REF,
        Capability.RECORDED,
        Capability.UPSTREAM_PUSH,
        Capability.OUTPUTS,
    }
)


def qualities_of(presentation: MediaPresentation) -> dict[str, VideoQuality]:
    found = {}
    for quality in ("high", "low"):
        try:
            rep = presentation.for_quality(quality)
        except ValueError:
            continue
        found[quality] = VideoQuality(rep.width, rep.height, rep.codecs, rep.bandwidth)
    return found


class _Fmp4Feed:
    """A GET /media fMP4 stream as init segments and fragments."""

    def __init__(self, stream: MediaStream):
        self._stream = stream

    async def events(self) -> AsyncIterator[InitSegment | Fragment]:
        reader = Fmp4Reader()
        async for chunk in self._stream.chunks():
            for event in reader.feed(chunk):
                yield event


class _WebmAudioFeed:
    """A GET /media webm/opus stream as the seam's audio track and frames."""

    def __init__(self, stream: MediaStream):
        self._stream = stream

    async def batches(self) -> AsyncIterator[list[AudioTrack | SeamAudioFrame]]:
        reader = WebmReader()
        async for chunk in self._stream.chunks():
            events = reader.feed(chunk)
            if events:
                yield [as_seam_audio(event) for event in events]


def as_seam_audio(event: WebmAudioTrack | AudioFrame) -> AudioTrack | SeamAudioFrame:
    """WebM's track as the seam's; its frames already have the seam's shape (.data, .pts_ms)."""
    if isinstance(event, WebmAudioTrack):
        return AudioTrack("opus", 48_000, event.channels, event.codec_private)
    return cast(SeamAudioFrame, event)  # the same fields: handed on as they are, not copied


@dataclass
class _WepSpeaker:
    """POST /media: PCMU, chunked, at most `max_stream_ms` per POST (guide: 120000 ms)."""

    client: WepClient
    camera_id: str
    max_stream_ms: int
    codec: str = "pcmu"

    async def post(self, body: AsyncIterable[bytes]) -> None:
        await self.client.post_audio(self.camera_id, body)


class WepBackend:
    name = NAME

    def __init__(self, client: WepClient, talk_cap_ms: int, on_refused: Callable[[], None]):
        self.client = client
        self._talk_cap_ms = talk_cap_ms
        self._on_refused = on_refused  # a refused login cannot heal: the service stops
        self._login: asyncio.Task | None = None
        # The latest MPD per camera: its audio BaseURL opens the camera's audio pull.
        self._presentations: dict[str, MediaPresentation] = {}
        self._control = WepCameraControl(WepControlApi(client))
        self._recordings = WepRecordings(WepRecordingApi(client))

    async def start(self) -> None:
        await self.client.open()
        self._login = asyncio.get_running_loop().create_task(self._login_until_ready(), name="wep login")

    async def close(self) -> None:
        if self._login is not None:
            self._login.cancel()
        await self.client.close()

    def readiness(self) -> str | None:
        return None if self.client.logged_in else "not logged in to WEP"

    async def _login_until_ready(self) -> None:
        """Log in with backoff; a refused login (wrong password or key) cannot heal: stop."""
        delay = 1.0
        while True:
            try:
                await self.client.login()
                log.info("logged in to WEP")
                return
            except WepAuthError as exc:
                log.error("WEP refused the login: %s (check [wep] username, password, user_nonce, user_key)", exc)
                self._on_refused()
                return
            except WepError as exc:
                log.warning("WEP not reachable yet: %s; retrying in %.0fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    # -- cameras ------------------------------------------------------------------------------

    async def cameras(self) -> list[Camera]:
        raw = await self.client.cameras()
        described = await asyncio.gather(*(self._describe(camera) for camera in raw))
        return [camera for camera in described if camera is not None]

    async def _describe(self, raw: dict) -> Camera | None:
        camera_id = str(raw.get("id", ""))
        if not camera_id:
            return None
        try:
            presentation, speaker = await asyncio.gather(self.client.mpd(camera_id), self.client.speaker(camera_id))
        except (WepError, ValueError) as exc:
            log.warning("camera left out of the list: %s", exc, extra={"camera": camera_id})
            return None
        self._presentations[camera_id] = presentation
        capabilities = set(_BASE)
        reported = raw.get("capabilities")
        if isinstance(reported, dict) and reported.get("ptz") is True:
            capabilities |= {Capability.PTZ, Capability.PTZ_FOV}
        if speaker.enabled:
            capabilities.add(Capability.SPEAKER)
        if presentation.audio:
            capabilities.add(Capability.AUDIO)
        return Camera(
            camera_id,
            str(raw.get("name") or camera_id),
            NAME,
            qualities_of(presentation),
            frozenset(capabilities),
            speaker_codecs=speaker.codecs,
        )

    # -- media --------------------------------------------------------------------------------

    def open_video(self, camera_id: str, quality: str, stall_timeout: float) -> AsyncContextManager[_Fmp4Feed]:
        return self._open_fmp4(camera_id, quality, stall_timeout)

    def open_recorded(
        self, camera_id: str, quality: str, t: str, stall_timeout: float
    ) -> AsyncContextManager[_Fmp4Feed]:
        return self._open_fmp4(camera_id, quality, stall_timeout, t)

    @contextlib.asynccontextmanager
    async def _open_fmp4(
        self, camera_id: str, quality: str, stall_timeout: float, t: str | None = None
    ) -> AsyncIterator[_Fmp4Feed]:
        """The quality's Representation from a fresh MPD (its BaseURL), live or from `t`."""
        presentation = await self.client.mpd(camera_id)
        self._presentations[camera_id] = presentation
        representation = presentation.for_quality(quality)
        async with self.client.open_stream(
            camera_id, base_url=representation.base_url, t=t, read_timeout=stall_timeout
        ) as stream:
            yield _Fmp4Feed(stream)

    @contextlib.asynccontextmanager
    async def open_audio(
        self, camera_id: str, stall_timeout: float, t: str | None = None
    ) -> AsyncIterator[_WebmAudioFeed]:
        presentation = self._presentations.get(camera_id) or await self.client.mpd(camera_id)
        base_url = presentation.audio[0].base_url if presentation.audio else None
        async with self.client.open_stream(
            camera_id, format="webm", base_url=base_url, t=t, read_timeout=stall_timeout
        ) as stream:
            yield _WebmAudioFeed(stream)

    async def snapshot(
        self, camera_id: str, *, t: str = "live", roi: str | None = None, size: str | None = None
    ) -> bytes:
        return await self.client.jpeg(camera_id, t=t, roi=roi, size=size)

    async def image_ref(self, camera_id: str, path: str, ref_type: str) -> bytes:
        return await self.client.image_ref(camera_id, path, ref_type)

    def speaker(self, camera_id: str) -> _WepSpeaker:
        return _WepSpeaker(self.client, camera_id, self._talk_cap_ms)

    @property
    def rtmp(self) -> WepClient:
        """WEP-side pushes (Capability.UPSTREAM_PUSH): POST/GET/DELETE /media/rtmp."""
        return self.client

    # -- not offered here yet -----------------------------------------------------------------

    async def events(self) -> AsyncIterator[CameraEvent]:
        # WEP's events arrive by webhook (the events issue), not from a stream the gateway reads.
        return
        yield  # an empty async generator

    # -- camera control (gateway/backends/wep/control.py) -----------------------------------------

    async def ptz_move(self, camera_id: str, vector: PtzVector) -> None:
        await self._control.move(camera_id, vector)

    async def ptz_stop(self, camera_id: str) -> None:
        await self._control.stop(camera_id)

    async def ptz_center(self, camera_id: str, x: float, y: float) -> None:
        await self._control.center(camera_id, x, y)

    async def ptz_zoom_to(self, camera_id: str, roi: tuple[float, float, float, float]) -> None:
        await self._control.zoom_to(camera_id, roi)

    async def ptz_presets(self, camera_id: str) -> list[Preset]:
        return await self._control.presets(camera_id)

    async def ptz_goto_preset(self, camera_id: str, preset: int) -> None:
        await self._control.goto_preset(camera_id, preset)

    async def ptz_home(self, camera_id: str) -> None:
        await self._control.home(camera_id)

    async def set_output(self, camera_id: str, output: int, state: OutputState) -> None:
        await self._control.set_output(camera_id, output, state)

    # -- recordings (gateway/backends/wep/recordings.py) --------------------------------------------

    async def timeline(self, camera_id: str, start: str, end: str, scope: str) -> Timeline:
        return await self._recordings.timeline(camera_id, start, end, scope)

    async def bookmarks(self, camera_id: str) -> list[Bookmark]:
        return await self._recordings.bookmarks(camera_id)

    async def add_bookmark(self, camera_id: str, name: str, start: str, end: str, description: str) -> Bookmark:
        return await self._recordings.add_bookmark(camera_id, name, start, end, description)

    async def record(self, camera_id: str, start: bool, seconds: int) -> None:
        await self._recordings.record(camera_id, start, seconds)

    async def record_state(self, camera_id: str) -> str | None:
        return await self._recordings.record_state(camera_id)
