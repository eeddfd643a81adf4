"""The WEP emulator: state, start-up encode, the aiohttp app, faults, CLI entry points."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from gateway.api.query import is_ascii_digits
from gateway.emulator import (
    routes_alarms,
    routes_bookmarks,
    routes_control,
    routes_events,
    routes_media,
    routes_outputs,
    routes_ptz,
    routes_recording,
    routes_rtmp,
    routes_session,
    routes_talk,
)
from gateway.emulator.alta import AltaEmulator, AltaSettings
from gateway.emulator.amcrest import AmcrestEmulator, AmcrestSettings
from gateway.emulator.bookmarks import BookmarkBook
from gateway.emulator.cameras import make_cameras
from gateway.emulator.envelope import WepError, error_response
from gateway.emulator.faults import Faults
from gateway.emulator.library import QUALITIES, build_library, ctx_table
from gateway.emulator.manual_record import ManualRecordings
from gateway.emulator.outputs import OutputBank
from gateway.emulator.ptz_camera import PtzCamera
from gateway.emulator.ptz_video import LiveSpec, PtzLiveVideo
from gateway.emulator.ptz_view import render_view
from gateway.emulator.recording_timeline import Span, recorded
from gateway.emulator.routes_talk import TalkRecord
from gateway.emulator.rtmp_push import PushRegistry
from gateway.emulator.sessions import Session, SessionStore
from gateway.emulator.settings import FRAGMENT_MODES, EmulatorSettings, check_gap
from gateway.emulator.site_events import SiteEvents
from gateway.emulator.state import BASE_PATH, EMULATOR
from gateway.emulator.stats import Stats
from gateway.emulator.streams import LiveStream, StreamRegistry
from gateway.emulator.tls import server_context, write_self_signed

log = logging.getLogger(__name__)
CONTROL_PATH = "/_emulator/"


@web.middleware
async def wep_errors(request: web.Request, handler) -> web.StreamResponse:
    """Guide, "Error Response Format": every error is the envelope; injected 503s too."""
    if request.path.startswith(CONTROL_PATH):
        return await handler(request)
    emu = request.app[EMULATOR]
    emu.counters.requests += 1
    status = emu.faults.take_failure()
    if status is not None:
        emu.counters.failures_injected += 1
        return error_response(status, "service unavailable (injected fault)")
    try:
        return await handler(request)
    except WepError as exc:
        return error_response(exc.status, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = "route not found." if exc.status == 404 else exc.reason
        return error_response(exc.status, message)
    except (ConnectionError, asyncio.CancelledError):
        raise
    except Exception:
        log.exception("emulator handler failed on %s %s", request.method, request.path)
        return error_response(500, "internal error")


class Emulator:
    """A WEP with `settings.cameras` looping test cameras. `start()`, then `.url`."""

    def __init__(self, settings: EmulatorSettings):
        settings.validate()
        self.settings = settings
        self.cameras = {c.id: c for c in make_cameras(settings.cameras, settings.ptz_camera)}
        self.sessions = SessionStore(settings.session_idle_expiry)
        self.faults = Faults()
        self.counters = Stats()
        self.streams = StreamRegistry()
        self.pushes = PushRegistry()
        self.talk_records = {camera_id: TalkRecord() for camera_id in self.cameras}
        self.site = SiteEvents(settings, self.cameras)
        self.ptz = {c.id: PtzCamera(c.id) for c in self.cameras.values() if c.has_ptz}
        self.ptz_video: dict[tuple[str, str], PtzLiveVideo] = {}  # (camera id, quality), made at start
        self.outputs = OutputBank(self.cameras)
        self.recording_gaps: list[tuple[float, float]] = list(settings.recording_gaps)
        self.manual = ManualRecordings()
        self.bookmark_book = BookmarkBook()
        self.library: dict = {}
        self.ctx_table: dict[str, tuple[str, str]] = {}
        self.epoch_mono = time.monotonic()
        self.epoch_wall = time.time()
        self.url: str | None = None
        self.cert_path: str | None = None
        self._runner: web.AppRunner | None = None
        self._tls_dir: str | None = None

    @property
    def camera_ids(self) -> list[str]:
        return list(self.cameras)

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[wep_errors], client_max_size=1024 * 1024)
        app[EMULATOR] = self
        tables = (routes_session.routes, routes_media.routes, routes_talk.routes, routes_rtmp.routes,
                  routes_events.routes, routes_alarms.routes, routes_ptz.routes, routes_outputs.routes,
                  routes_recording.routes, routes_bookmarks.routes)  # fmt: skip
        for table in tables:
            for route in table:
                app.router.add_route(route.method, BASE_PATH + route.path, route.handler)
        app.add_routes(routes_control.routes)
        return app

    async def start(self) -> None:
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        self.library = await loop.run_in_executor(None, build_library, self.settings, list(self.cameras.values()))
        self.ctx_table = ctx_table(self.library)
        log.info("emulator media ready in %.1f s", time.monotonic() - started)
        # Timeline zero: every live reader of a camera shares this clock.
        self.epoch_mono, self.epoch_wall = time.monotonic(), time.time()
        self.ptz_video = {
            (camera_id, q): self._live_video(ptz, q) for camera_id, ptz in self.ptz.items() for q in QUALITIES
        }
        self._runner = web.AppRunner(self.build_app(), access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        ssl_context = None
        if self.settings.tls:
            self._tls_dir = tempfile.mkdtemp(prefix="wep-emulator-tls-")
            cert, key = write_self_signed(Path(self._tls_dir))
            ssl_context = server_context(cert, key)
            self.cert_path = str(cert)
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port, ssl_context=ssl_context)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # the real port when asked for 0
        host = self.settings.host
        host = "127.0.0.1" if host in ("0.0.0.0", "") else (f"[{host}]" if ":" in host else host)
        self.url = f"{'https' if self.settings.tls else 'http'}://{host}:{port}"
        self.site.start()

    def _live_video(self, ptz: PtzCamera, quality: str) -> PtzLiveVideo:
        s = self.settings
        (width, height), bitrate = (s.high_size, s.high_bitrate) if quality == "high" else (s.low_size, s.low_bitrate)

        def render(at: float):
            return render_view(ptz.head.position(at), width, height)

        return PtzLiveVideo(LiveSpec(width, height, s.fps, bitrate, s.fragment), render, self.epoch_mono)

    async def stop(self) -> None:
        await self.site.stop()
        self.streams.drop_all()
        await asyncio.gather(*(live.stop() for live in self.ptz_video.values()))
        pushes = self.pushes.all()
        if pushes:
            loop = asyncio.get_running_loop()
            await asyncio.gather(*(loop.run_in_executor(None, p.stop) for p in pushes))
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._tls_dir is not None:
            shutil.rmtree(self._tls_dir, ignore_errors=True)
            self._tls_dir = None

    @asynccontextmanager
    async def live_stream(self, request: web.Request, session: Session, camera_id: str,
                          fmt: str, quality: str | None):  # fmt: skip
        """Register an open media connection for faults, stats and session keep-alive."""
        stream: LiveStream = self.streams.add(request)
        self.sessions.stream_started(session)
        self.counters.open_streams += 1
        self.counters.media_opened(camera_id, fmt, quality)
        try:
            yield stream
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

    def trigger_alarm(self, name: str, cameras: list[str | int] = (), priority: int = 1) -> dict:
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


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not is_ascii_digits(port) or len(port) > 5:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, not {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _size(value: str) -> tuple[int, int]:
    width, sep, height = value.partition("x")
    if not sep or not is_ascii_digits(width) or not is_ascii_digits(height) or len(value) > 11:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, not {value!r}")
    return int(width), int(height)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = EmulatorSettings()
    parser.add_argument(
        "--listen",
        type=_host_port,
        default=(d.host, d.port),
        metavar="HOST:PORT",
        help=f"address to listen on (default {d.host}:{d.port}; port 0 picks one)",
    )
    parser.add_argument("--cameras", type=int, default=d.cameras, help="number of cameras (default 4)")
    parser.add_argument("--http", action="store_true", help="plain HTTP instead of HTTPS (self-signed)")
    parser.add_argument(
        "--fragment",
        choices=FRAGMENT_MODES,
        default=d.fragment,
        help="fMP4 fragments: one per frame or one per GOP (default frame)",
    )
    parser.add_argument(
        "--session-expiry",
        type=float,
        default=d.session_idle_expiry,
        metavar="S",
        help="session idle expiry in seconds (default 3600)",
    )
    parser.add_argument(
        "--talk-cap-ms", type=int, default=d.talk_cap_ms, help="POST /media audio cap in ms (default 120000)"
    )
    parser.add_argument("--loop-seconds", type=float, default=d.loop_seconds, help="video loop length (default 8)")
    parser.add_argument("--fps", type=int, default=d.fps, help="frames per second (default 15)")
    parser.add_argument("--high-size", type=_size, default=d.high_size, metavar="WxH", help="default 1280x720")
    parser.add_argument("--low-size", type=_size, default=d.low_size, metavar="WxH", help="default 640x360")
    parser.add_argument(
        "--cache-dir",
        default=str(Path.home() / ".cache" / "wep-gateway" / "emulator"),
        help="where encoded loops are cached ('' disables)",
    )
    parser.add_argument("--username", default=d.username)
    parser.add_argument("--password", default=d.password)
    parser.add_argument("--user-nonce", default=d.user_nonce)
    parser.add_argument("--user-key", default=d.user_key)
    parser.add_argument("--integration-id", default=d.integration_id)  # fmt: skip
    parser.add_argument("--motion-every", type=float, default=d.motion_every, metavar="S",
                        help="demo: camera 1 raises motion start/stop every S seconds (default 0: off)")  # fmt: skip
    parser.add_argument(
        "--gops",
        type=_seconds_list,
        default=d.gops,
        metavar="S,S,...",
        help="seconds between keyframes through one pass of the loop, e.g. 1,1,4 "
        "(a GOP that grows; default: 1 s throughout)",
    )
    parser.add_argument(
        "--no-prft", action="store_true", help="no prft boxes (the camera's capture time) before the fMP4 fragments"
    )
    parser.add_argument("--webhook-no-verify", action="store_true",
                        help="post to https webhooks without checking their certificate (self-signed receivers)")  # fmt: skip
    parser.add_argument("--ptz-camera", type=int, default=d.ptz_camera, metavar="N",
                        help="camera N (1-based) is a PTZ camera whose picture follows commands (default 0: none)")  # fmt: skip
    parser.add_argument(
        "--amcrest",
        type=int,
        default=0,
        metavar="N",
        help="also start an Amcrest/Dahua emulator with N channels (default 0: none)",
    )
    parser.add_argument(
        "--amcrest-http",
        type=_host_port,
        default=("127.0.0.1", 8081),
        metavar="HOST:PORT",
        help="the Amcrest emulator's HTTP (CGI) address (default 127.0.0.1:8081)",
    )
    parser.add_argument("--amcrest-rtsp", type=_host_port, default=("127.0.0.1", 8554), metavar="HOST:PORT",
                        help="the Amcrest emulator's RTSP address (default 127.0.0.1:8554)")  # fmt: skip
    parser.add_argument(
        "--alta", action="store_true", help="also start an Avigilon Alta emulator (alarm zones, alerts, shared links)"
    )
    parser.add_argument(
        "--alta-listen",
        type=_host_port,
        default=("127.0.0.1", 8082),
        metavar="HOST:PORT",
        help="the Alta emulator's address (default 127.0.0.1:8082; HTTPS unless --http)",
    )
    parser.add_argument("--alta-webhook", default="", metavar="URL",
                        help="the Alta zones' webhook alarm action (JSON alarmZoneId, deviceId; default: none)")  # fmt: skip


def _seconds_list(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds separated by commas, got {text!r}") from None
    if not values or not all(0 < value < 3600 for value in values):
        raise argparse.ArgumentTypeError(f"expected positive seconds separated by commas, got {text!r}")
    return values


def settings_from_args(args: argparse.Namespace) -> EmulatorSettings:
    host, port = args.listen
    return EmulatorSettings(
        host=host, port=port, cameras=args.cameras, tls=not args.http,
        username=args.username, password=args.password, user_nonce=args.user_nonce,
        user_key=args.user_key, integration_id=args.integration_id,
        session_idle_expiry=args.session_expiry, fragment=args.fragment,
        loop_seconds=args.loop_seconds, fps=args.fps, talk_cap_ms=args.talk_cap_ms,
        cache_dir=args.cache_dir or None, high_size=args.high_size, low_size=args.low_size,
        motion_every=args.motion_every, webhook_verify_tls=not args.webhook_no_verify,
        ptz_camera=args.ptz_camera, gops=args.gops, prft=not args.no_prft,
    )  # fmt: skip


def amcrest_settings_from_args(args: argparse.Namespace) -> AmcrestSettings | None:
    """The Amcrest emulator's settings (None without --amcrest); the picture, loop and cache
    are the WEP emulator's, so its H.264 loops come from the same disk cache."""
    if not getattr(args, "amcrest", 0):
        return None
    (http_host, http_port), (rtsp_host, rtsp_port) = args.amcrest_http, args.amcrest_rtsp
    if http_host != rtsp_host:
        raise ValueError(f"--amcrest-http and --amcrest-rtsp must use one host, not {http_host} and {rtsp_host}")
    return AmcrestSettings(
        host=http_host, http_port=http_port, rtsp_port=rtsp_port, channels=args.amcrest,
        loop_seconds=args.loop_seconds, fps=args.fps, high_size=args.high_size, low_size=args.low_size,
        cache_dir=args.cache_dir or None,
    )  # fmt: skip


def alta_settings_from_args(args: argparse.Namespace) -> AltaSettings | None:
    """The Alta emulator's settings (None without --alta); TLS follows the WEP emulator's --http."""
    if not getattr(args, "alta", False):
        return None
    host, port = args.alta_listen
    return AltaSettings(host=host, port=port, tls=not args.http, webhook_url=args.alta_webhook)


def _print_alta(alta: AltaEmulator) -> None:
    s = alta.settings
    print(f"Alta emulator: {alta.url}  ({len(s.zones)} alarm zones)", flush=True)
    print(f"  username={s.username} password={s.password}  (POST /api/v1/dologin, cookie {s.cookie_name})",
          flush=True)  # fmt: skip
    if alta.cert_path:
        print(f"  self-signed certificate (use as ca_file): {alta.cert_path}", flush=True)
    zones = "; ".join(f"{z.id} {z.name} (devices {', '.join(str(d.id) for d in z.devices)})" for z in s.zones)
    print(f"  zones: {zones}", flush=True)
    print(f"  webhook: {s.webhook_url or 'none'}  (set: POST {alta.url}/_emulator/webhook)", flush=True)
    print(f"  alarms/faults/stats: {alta.url}/_emulator/stats", flush=True)


def _print_amcrest(amcrest: AmcrestEmulator) -> None:
    s = amcrest.settings
    print(f"Amcrest emulator: {amcrest.http_url}  ({s.channels} channels)", flush=True)
    print(f"  rtsp: {amcrest.rtsp_url(1, 0)}  (channel=1..{s.channels}, subtype=0|1)", flush=True)
    print(f"  username={s.username} password={s.password}  (HTTP and RTSP Digest)", flush=True)
    print(f"  events/ptz/talk/stats: {amcrest.http_url}/_emulator/stats", flush=True)


async def run_from_args(args: argparse.Namespace) -> None:
    """Start, print how to reach it (never the user key), serve until cancelled."""
    settings = settings_from_args(args)
    amcrest_settings = amcrest_settings_from_args(args)
    emulator = Emulator(settings)
    amcrest = AmcrestEmulator(amcrest_settings) if amcrest_settings is not None else None
    alta_settings = alta_settings_from_args(args)
    alta = AltaEmulator(alta_settings) if alta_settings is not None else None
    await emulator.start()
    try:
        if amcrest is not None:
            await amcrest.start()
        if alta is not None:
            await alta.start()
        print(f"WEP emulator: {emulator.url}{BASE_PATH}  ({settings.cameras} cameras)", flush=True)
        print(f"  username={settings.username} password={settings.password} user_nonce={settings.user_nonce}"
              " user_key=<as configured>", flush=True)  # fmt: skip
        if emulator.cert_path:
            print(f"  self-signed certificate (use as ca_file): {emulator.cert_path}", flush=True)
        print(f"  faults/stats: {emulator.url}/_emulator/stats", flush=True)
        if settings.ptz_camera:
            print(f"  PTZ camera {settings.ptz_camera}: {emulator.url}/_emulator/ptz", flush=True)
        if amcrest is not None:
            _print_amcrest(amcrest)
        if alta is not None:
            _print_alta(alta)
        await asyncio.Event().wait()
    finally:
        if alta is not None:
            await alta.stop()
        if amcrest is not None:
            await amcrest.stop()
        await emulator.stop()
