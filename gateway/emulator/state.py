"""What the emulated WEP holds (cameras, sessions, faults, counters, events, PTZ heads,
outputs, recordings, bookmarks) and the typed key under which routes find it.

The routes take everything from here; server.py adds the serving (the aiohttp app, start,
stop, the CLI) on top, so the imports run one way: server -> routes -> state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from aiohttp import web

from gateway.emulator.bookmarks import BookmarkBook
from gateway.emulator.cameras import make_cameras
from gateway.emulator.faults import Faults
from gateway.emulator.library import QUALITIES
from gateway.emulator.manual_record import ManualRecordings
from gateway.emulator.outputs import OutputBank
from gateway.emulator.ptz_camera import PtzCamera
from gateway.emulator.ptz_video import PtzLiveVideo
from gateway.emulator.recording_timeline import Span, recorded
from gateway.emulator.rtmp_push import PushRegistry
from gateway.emulator.sessions import Session, SessionStore
from gateway.emulator.settings import EmulatorSettings, check_gap
from gateway.emulator.site_events import SiteEvents
from gateway.emulator.speaker import SpeakerRecord
from gateway.emulator.stats import Stats
from gateway.emulator.streams import LiveStream, StreamRegistry

BASE_PATH = "/mt/api/rest/v1"


class EmulatorState:
    """A WEP with `settings.cameras` looping test cameras, as its routes and tests see it:
    faults to inject, events to raise, and what clients did."""

    def __init__(self, settings: EmulatorSettings):
        settings.validate()
        self.settings = settings
        self.cameras = {c.id: c for c in make_cameras(settings.cameras, settings.ptz_camera)}
        self.sessions = SessionStore(settings.session_idle_expiry)
        self.faults = Faults()
        self.counters = Stats()
        self.streams = StreamRegistry()
        self.pushes = PushRegistry()
        self.talk_records = {camera_id: SpeakerRecord() for camera_id in self.cameras}
        self.site = SiteEvents(settings, self.cameras)
        self.ptz = {c.id: PtzCamera(c.id) for c in self.cameras.values() if c.has_ptz}
        self.ptz_video: dict[tuple[str, str], PtzLiveVideo] = {}  # (camera id, quality), made at start
        self.outputs = OutputBank(self.cameras)
        self.recording_gaps: list[tuple[float, float]] = list(settings.recording_gaps)
        self.manual = ManualRecordings()
        self.bookmark_book = BookmarkBook()
        # Made by the start-up encode (server.Emulator.start), then read by the routes:
        self.library: dict = {}
        self.ctx_table: dict[str, tuple[str, str]] = {}
        self.epoch_mono = time.monotonic()
        self.epoch_wall = time.time()

    @property
    def camera_ids(self) -> list[str]:
        return list(self.cameras)

    @asynccontextmanager
    async def live_stream(self, request: web.Request, session: Session, camera_id: str,
                          fmt: str, quality: str | None) -> AsyncIterator[LiveStream]:  # fmt: skip
        """Register an open media connection for faults, stats and session keep-alive.

        A drop fault (`drop_streams()`) aborts the connection and cancels its handler: the
        block ends there and the cancellation stops here (`stream.dropped` tells the handler),
        so it is not taken for a shutdown."""
        stream = self.streams.add(request)
        self.sessions.stream_started(session)
        self.counters.open_streams += 1
        self.counters.media_opened(camera_id, fmt, quality)
        try:
            yield stream
        except asyncio.CancelledError:
            if not stream.dropped:
                raise
            task = asyncio.current_task()
            assert task is not None  # a handler runs as a task
            task.uncancel()  # our own drop fault, not a shutdown
        finally:
            self.streams.remove(stream)
            self.sessions.stream_ended(session)
            self.counters.open_streams -= 1

    # Fault injection ---------------------------------------------------------------
    def drop_streams(self) -> int:
        """Abort every live media connection (GET streams and talk uploads)."""
        count = self.streams.drop_all()
        self.counters.streams_dropped += count
        return count

    def fail_next(self, n: int, status: int = 503) -> None:
        """The next `n` WEP requests answer `status` with the error envelope."""
        self.faults.fail_next(n, status)

    def stall_streams(self, seconds: float) -> None:
        """Live streams send nothing for `seconds` (sockets stay open), then catch up."""
        self.faults.stall(seconds)

    def expire_sessions(self) -> int:
        """Forget every session now; open streams keep running."""
        return self.sessions.expire_all()

    # Events, webhooks, alarms ----------------------------------------------------------
    def inject_event(self, camera: str | int, type: str, **fields) -> dict:
        """Raise an event of `type` on a camera (id or 1-based index): logged and sent to the
        webhooks whose topics match. KeyError for an unknown camera, ValueError for a bad type."""
        return dict(self.site.inject(camera, type, **fields))

    def trigger_alarm(self, name: str, cameras: Sequence[str | int] = (), priority: int = 1) -> dict:
        """Create the alarm `name`, or trigger it again; raises ALARM_TRIGGERED."""
        return self.site.trigger_alarm(name, list(cameras), priority).to_json()

    def alarm(self, alarm_id: str) -> dict:
        """The alarm as GET /alarm shows it; alarms.UnknownAlarm (a KeyError) when there is none."""
        return self.site.alarms.get(alarm_id).to_json()

    def pause_webhooks(self) -> None:
        """WEP loses its webhook connections: nothing is posted; events are still logged."""
        self.site.webhooks.pause()

    def resume_webhooks(self) -> None:
        """Reconnect: every webhook gets HELLO first, then the events raised from now on."""
        self.site.webhooks.resume()

    @property
    def webhooks(self) -> list[dict]:
        """Registered webhooks as GET /webhooks shows them (never the authenticationToken)."""
        return [w.public() for w in self.site.webhooks.get()]

    @property
    def webhook_stats(self) -> dict:
        """{"paused", "total": counters, "webhooks": {id: {"connected", ...counters}}}."""
        return self.site.webhooks.stats()

    @property
    def events(self) -> list[dict]:
        """Every event still in the log, oldest first."""
        return self.site.log.events()

    # PTZ and digital outputs -------------------------------------------------------------
    def _ptz_camera(self, camera: str | int) -> PtzCamera:
        camera_id = self.site.camera_id(camera)
        if camera_id not in self.ptz:
            raise KeyError(f"camera {camera!r} has no PTZ")
        return self.ptz[camera_id]

    def ptz_state(self, camera: str | int) -> dict:
        """{"pan", "tilt", "zoom", "moving", "amounts", "lockSessionGid"} of the PTZ camera
        (id or 1-based index); KeyError for a camera without PTZ."""
        return self._ptz_camera(camera).state()

    def ptz_log(self, camera: str | int) -> list[dict]:
        """Every accepted PTZ command, oldest first: {"time", "kind", "sessionGid", "params",
        "state"}; kinds continuous, stop, fov, preset, home, preset-save, preset-delete, lock,
        lock-override."""
        return self._ptz_camera(camera).log()

    def ptz_video_stats(self, camera: str | int) -> dict:
        """Per quality: {"viewers", "encoding", "runs", "frames", "dropped"} of the live encoder."""
        camera_id = self._ptz_camera(camera).camera_id
        return {q: self.ptz_video[(camera_id, q)].stats() for q in QUALITIES if (camera_id, q) in self.ptz_video}

    def output_entities(self, camera: str | int | None = None) -> list[dict]:
        """Digital output entities as GET /entities shows them (of one camera when given)."""
        return self.outputs.entities(None if camera is None else self.site.camera_id(camera))

    def output_log(self, camera: str | int | None = None) -> list[dict]:
        """Every trigger, oldest first: {"time", "entityId", "cameraId", "isToggle", "state",
        "sessionGid", "pulseSeconds"?}."""
        return self.outputs.log(None if camera is None else self.site.camera_id(camera))

    # Recordings, bookmarks, manual recording ---------------------------------------------
    def add_recording_gap(self, start_s: float, end_s: float) -> None:
        """From `start_s` to `end_s` seconds after the start no camera recorded: GET /timeline
        shows a hole there (recorded media at those times is still served).
        settings.SettingsError (a ValueError) unless 0 <= start_s < end_s."""
        check_gap(start_s, end_s)
        self.recording_gaps.append((start_s, end_s))

    def recorded_spans(self, now_ms: int) -> list[Span]:
        """What every camera recorded, as Unix ms spans: from the start to now, less the gaps."""
        epoch_ms = int(self.epoch_wall * 1000)
        gaps = [(epoch_ms + round(start * 1000), epoch_ms + round(end * 1000)) for start, end in self.recording_gaps]
        return recorded(epoch_ms, now_ms, gaps)

    def manual_recording(self, camera: str | int) -> dict | None:
        """{"cameraId", "startTime", "maxDurationSec"} while the camera (id or 1-based index)
        records manually, else None; KeyError for an unknown camera."""
        recording = self.manual.get(self.site.camera_id(camera))
        return None if recording is None else recording.to_json()

    @property
    def bookmarks(self) -> list[dict]:
        """Every bookmark as GET /bookmarks shows it, oldest first."""
        return [b.to_json() for b in self.bookmark_book.all()]

    # Inspection ----------------------------------------------------------------------
    @property
    def stats(self) -> dict:
        """Counters as plain JSON-able data (also GET /_emulator/stats)."""
        snapshot = self.counters.snapshot(len(self.pushes), len(self.sessions))
        snapshot["webhooks"] = {"registered": len(self.site.webhooks), **self.site.webhooks.stats()["total"]}
        snapshot["events_logged"] = len(self.site.log)
        return snapshot

    def talk_audio(self, camera_id: str) -> bytes:
        return self.talk_records[camera_id].audio()

    def talk_chunks(self, camera_id: str) -> list[tuple[float, bytes]]:
        return list(self.talk_records[camera_id].chunks)


EMULATOR: web.AppKey[EmulatorState] = web.AppKey("wep_emulator")
