"""Amcrest/Dahua cameras attached directly, one `[[amcrest]]` table each.

Video and camera audio come over RTSP (rtsp.py), snapshots, PTZ, the speaker and events
over the camera's CGI (cgi.py, events.py). Each camera has a monitor: it looks at the
stream at start-up (codec, picture size, audio) and, while the camera can't be used
(wrong password, unreachable, H.265), again with capped backoff. What it finds is the
camera's entry in `/api/v1/cameras` (`available`, `reason`), and one log line per change,
so a camera failing the same way is not logged again and again. A pull that fails the
same way wakes the monitor; other cameras never notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field

from gateway.backends.amcrest.cgi import AmcrestCgi
from gateway.backends.amcrest.events import AUTH_RETRY_DELAY, AmcrestEventStream
from gateway.backends.amcrest.ptz import PRESETS, ptz_command
from gateway.backends.amcrest.rtsp import (
    Probe,
    RtspAudioFeed,
    RtspTarget,
    RtspVideoFeed,
    probe,
    unsupported_video,
)
from gateway.backends.base import (
    Bookmark,
    Camera,
    CameraEvent,
    Capability,
    OutputState,
    Preset,
    PtzVector,
    Timeline,
    Unsupported,
    UpstreamFailure,
    VideoQuality,
)
from gateway.config import AmcrestCameraConfig, SourcesConfig
from gateway.media.h264 import AvcConfig, split_annexb
from gateway.media.reconnect import backoff_delay

log = logging.getLogger("gateway.backends.amcrest")

NAME = "amcrest"
# postAudio declares `Content-Length: 9999999` (amcrest-cgi-facts.md): at 8000 bytes a
# second of G.711 that is the longest one upload can be.
POST_AUDIO_BYTES = 9_999_999
# Nominal bitrates for the HLS BANDWIDTH attribute: the camera's SDP does not say.
NOMINAL_BANDWIDTH = {"high": 4_000_000, "low": 1_000_000}
# Failures the monitor looks into: the camera, not the moment, is wrong.
CAMERA_CAUSES = frozenset({"auth", "connection", "timeout", "unsupported", "upstream_404"})
# ptz.cgi codes (amcrest-cgi-facts.md): arg2 is the speed 1-8 for moves.
EVENT_QUEUE = 1024


def codec_string(extradata: bytes) -> str:
    """RFC 6381 `avc1.PPCCLL` from the SPS in an Annex-B extradata."""
    for nal in split_annexb(extradata):
        if nal[0] & 0x1F == 7 and len(nal) >= 4:
            return AvcConfig(nal[1], nal[2], nal[3], 4, (nal,), ()).codec_string
    return "avc1.640028"


@dataclass
class _CameraState:
    config: AmcrestCameraConfig
    cgi: AmcrestCgi
    target: RtspTarget
    available: bool = False
    reason: str = "not reached yet"
    probe: Probe | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    up: asyncio.Event = field(default_factory=asyncio.Event)  # set while available
    last_ptz_code: str | None = None
    monitor: asyncio.Task | None = None


@dataclass
class _AmcrestSpeaker:
    cgi: AmcrestCgi
    codec: str  # "pcma" | "pcmu"
    max_stream_ms: int = POST_AUDIO_BYTES // 8

    async def post(self, body: AsyncIterable[bytes]) -> None:
        await self.cgi.post_audio(body, "Audio/G.711A" if self.codec == "pcma" else "Audio/G.711Mu")


class AmcrestBackend:
    name = NAME

    def __init__(
        self,
        cameras: tuple[AmcrestCameraConfig, ...],
        sources: SourcesConfig,
        on_change: Callable[[], None] = lambda: None,
    ):
        self._sources = sources
        self._on_change = on_change
        self._cameras: dict[str, _CameraState] = {}
        for config in cameras:
            cgi = AmcrestCgi(
                camera_id=config.id,
                host=config.host,
                http_port=config.http_port,
                username=config.username,
                password=config.password,
                channel=config.channel,
                request_timeout=config.request_timeout,
                connect_timeout=config.connect_timeout,
            )
            target = RtspTarget(
                config.id, config.host, config.rtsp_port, config.username, config.password, config.channel
            )
            self._cameras[config.id] = _CameraState(config, cgi, target)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for state in self._cameras.values():
            await state.cgi.open()
            state.monitor = loop.create_task(self._monitor(state), name=f"amcrest monitor {state.config.id}")

    async def close(self) -> None:
        monitors = [state.monitor for state in self._cameras.values() if state.monitor is not None]
        for task in monitors:
            task.cancel()
        await asyncio.gather(*monitors, return_exceptions=True)
        for state in self._cameras.values():
            await state.cgi.close()

    def readiness(self) -> str | None:
        return None  # an unreachable camera is that camera's state, not the gateway's

    # -- the monitor ----------------------------------------------------------------------------

    async def _monitor(self, state: _CameraState) -> None:
        attempt = 0
        while True:
            try:
                found = await asyncio.to_thread(probe, state.target, 0, state.config.connect_timeout + 5)
                if found.codec != "h264":
                    raise unsupported_video(state.config.id, found.codec)
                state.probe = found
                self._set_state(state, True, "")
                attempt = 0
                state.wake.clear()
                await state.wake.wait()  # until a pull finds the camera wrong again
                continue
            except UpstreamFailure as exc:
                self._set_state(state, False, str(exc))
                cause = exc.cause
            except Exception as exc:  # noqa: BLE001  a probe must never end the monitor
                self._set_state(state, False, f"camera {state.config.id!r}: {type(exc).__name__}")
                cause = "bad_media"
            delay = backoff_delay(attempt, self._sources.reconnect_initial_delay, self._sources.reconnect_max_delay)
            if cause == "auth":
                delay = max(delay, AUTH_RETRY_DELAY)  # Dahua firmware locks accounts after failed logins
            attempt += 1
            state.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.wake.wait(), delay)

    def _set_state(self, state: _CameraState, available: bool, reason: str) -> None:
        if (state.available, state.reason) == (available, reason):
            return
        state.available, state.reason = available, reason
        (state.up.set if available else state.up.clear)()
        if available:
            assert state.probe is not None  # _monitor sets it before it says available
            log.info(
                "camera reachable (%dx%d%s)",
                state.probe.width,
                state.probe.height,
                f", audio {state.probe.audio}" if state.probe.audio else ", no audio",
                extra={"camera": state.config.id},
            )
        else:
            log.warning("camera unavailable: %s", reason, extra={"camera": state.config.id})
        self._on_change()

    def _report(self, state: _CameraState, exc: UpstreamFailure) -> None:
        """A pull or call failed: if it says something about the camera, look again now."""
        if exc.cause in CAMERA_CAUSES and state.available:
            self._set_state(state, False, str(exc))
            state.wake.set()

    # -- cameras --------------------------------------------------------------------------------

    async def cameras(self) -> list[Camera]:
        return [self._camera(state) for state in self._cameras.values()]

    def _camera(self, state: _CameraState) -> Camera:
        config, found = state.config, state.probe
        capabilities = {Capability.VIDEO, Capability.SNAPSHOT, Capability.SPEAKER, Capability.EVENTS}
        if config.ptz:
            capabilities.add(Capability.PTZ)
        if found is not None and found.audio:
            capabilities.add(Capability.AUDIO)
        codecs = codec_string(found.extradata) if found is not None else "avc1.640028"
        qualities = {}
        for quality in ("high", "low"):
            width, height = (found.width, found.height) if found is not None and quality == "high" else (0, 0)
            qualities[quality] = VideoQuality(width, height, codecs, NOMINAL_BANDWIDTH[quality])
        return Camera(
            config.id,
            config.display_name,
            NAME,
            qualities,
            frozenset(capabilities),
            speaker_codecs=(f"Audio/{config.speaker_codec}",),
            available=state.available,
            reason=state.reason,
        )

    def _state(self, camera_id: str) -> _CameraState:
        state = self._cameras.get(camera_id)
        if state is None:
            raise UpstreamFailure("unknown_camera", f"no Amcrest camera {camera_id!r}", 404)
        return state

    # -- media ----------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def open_video(self, camera_id: str, quality: str, stall_timeout: float) -> AsyncIterator[RtspVideoFeed]:
        state = self._state(camera_id)
        try:
            yield RtspVideoFeed(state.target, quality, state.config.connect_timeout + 5, stall_timeout)
        except UpstreamFailure as exc:
            self._report(state, exc)
            raise

    @contextlib.asynccontextmanager
    async def open_audio(
        self, camera_id: str, stall_timeout: float, t: str | None = None
    ) -> AsyncIterator[RtspAudioFeed]:
        if t is not None:
            raise Unsupported(camera_id, Capability.RECORDED)  # as open_recorded: no SD-card playback
        state = self._state(camera_id)
        try:
            yield RtspAudioFeed(state.target, state.config.connect_timeout + 5, stall_timeout)
        except UpstreamFailure as exc:
            self._report(state, exc)
            raise

    @contextlib.asynccontextmanager
    async def open_recorded(self, camera_id: str, quality: str, t: str, stall_timeout: float) -> AsyncIterator:
        raise Unsupported(camera_id, Capability.RECORDED)  # SD-card playback is not offered (yet)
        yield

    async def snapshot(
        self, camera_id: str, *, t: str = "live", roi: str | None = None, size: str | None = None
    ) -> bytes:
        state = self._state(camera_id)
        try:
            return await state.cgi.snapshot()  # the whole picture: the store crops (no SNAPSHOT_CROP)
        except UpstreamFailure as exc:
            self._report(state, exc)
            raise

    async def image_ref(self, camera_id: str, path: str, ref_type: str) -> bytes:
        raise Unsupported(camera_id, Capability.IMAGE_REF)

    def speaker(self, camera_id: str) -> _AmcrestSpeaker:
        state = self._state(camera_id)
        return _AmcrestSpeaker(state.cgi, "pcma" if state.config.speaker_codec == "G.711A" else "pcmu")

    # -- events ---------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[CameraEvent]:
        """Every camera's event stream while the caller iterates; attached on the first
        iteration, detached when the caller stops. A full queue drops the oldest event."""
        queue: asyncio.Queue[CameraEvent] = asyncio.Queue(EVENT_QUEUE)

        def publish(event: CameraEvent) -> None:
            if queue.full():
                queue.get_nowait()
                log.warning("event queue full: oldest event dropped", extra={"camera": event.camera})
            queue.put_nowait(event)

        streams = [
            AmcrestEventStream(
                state.cgi,
                state.config.id,
                state.config.channel,
                publish,
                initial_delay=self._sources.reconnect_initial_delay,
                max_delay=self._sources.reconnect_max_delay,
                until_available=state.up.wait,
            )
            for state in self._cameras.values()
        ]
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(stream.run(), name=f"amcrest events {stream.camera_id}") for stream in streams]
        try:
            while True:
                yield await queue.get()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- PTZ --------------------------------------------------------------------------------------

    async def ptz_move(self, camera_id: str, vector: PtzVector) -> None:
        """Start (or change) a move; Dahua keeps the last `start` going until its `stop`."""
        if vector.still:
            await self.ptz_stop(camera_id)
            return
        state = self._state(camera_id)
        code, arg1, arg2 = ptz_command(vector)
        if state.last_ptz_code not in (None, code):
            await state.cgi.ptz("stop", state.last_ptz_code, 0, 0, 0)  # a new direction: end the old one
        await state.cgi.ptz("start", code, arg1, arg2, 0)
        state.last_ptz_code = code

    async def ptz_stop(self, camera_id: str) -> None:
        state = self._state(camera_id)
        # Dahua stops the move it is told: the code of the last one started.
        await state.cgi.ptz("stop", state.last_ptz_code or "Left", 0, 0, 0)
        state.last_ptz_code = None

    async def ptz_center(self, camera_id: str, x: float, y: float) -> None:
        raise Unsupported(camera_id, Capability.PTZ_FOV)

    async def ptz_zoom_to(self, camera_id: str, roi: tuple[float, float, float, float]) -> None:
        raise Unsupported(camera_id, Capability.PTZ_FOV)

    async def ptz_presets(self, camera_id: str) -> list[Preset]:
        self._state(camera_id)
        return [Preset(number, f"Preset {number}") for number in PRESETS]

    async def ptz_goto_preset(self, camera_id: str, preset: int) -> None:
        if preset not in PRESETS:
            raise UpstreamFailure(
                "not_found", f"camera {camera_id!r} has presets {PRESETS[0]}-{PRESETS[-1]}, not {preset}", 404
            )
        await self._state(camera_id).cgi.ptz("start", "GotoPreset", 0, preset, 0)

    async def ptz_home(self, camera_id: str) -> None:
        raise UpstreamFailure(
            "not_supported", f"camera {camera_id!r}: Dahua's ptz.cgi has no home command; go to a preset instead", 501
        )

    async def set_output(self, camera_id: str, output: int, state: OutputState) -> None:
        raise Unsupported(camera_id, Capability.OUTPUTS)

    # -- recordings: not offered (no SD-card playback yet) ----------------------------------------------

    async def timeline(self, camera_id: str, start: str, end: str, scope: str) -> Timeline:
        raise Unsupported(camera_id, Capability.RECORDED)

    async def bookmarks(self, camera_id: str) -> list[Bookmark]:
        raise Unsupported(camera_id, Capability.RECORDED)

    async def add_bookmark(self, camera_id: str, name: str, start: str, end: str, description: str) -> Bookmark:
        raise Unsupported(camera_id, Capability.RECORDED)

    async def record(self, camera_id: str, start: bool, seconds: int) -> None:
        raise Unsupported(camera_id, Capability.RECORDED)

    async def record_state(self, camera_id: str) -> str | None:
        raise Unsupported(camera_id, Capability.RECORDED)
