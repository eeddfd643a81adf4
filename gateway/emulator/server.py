"""The WEP emulator served: the start-up encode, the aiohttp app and its error envelope, the
CLI entry points. What it holds, and what its routes use, is state.py's."""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
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
from gateway.emulator.envelope import WepError, error_response
from gateway.emulator.library import QUALITIES, build_library, ctx_table
from gateway.emulator.listener import Listener
from gateway.emulator.ptz_camera import PtzCamera
from gateway.emulator.ptz_video import LiveSpec, PtzLiveVideo
from gateway.emulator.ptz_view import render_view
from gateway.emulator.settings import FRAGMENT_MODES, EmulatorSettings
from gateway.emulator.state import BASE_PATH, EMULATOR, EmulatorState

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


class Emulator(EmulatorState):
    """A WEP with `settings.cameras` looping test cameras. `start()`, then `.url`."""

    def __init__(self, settings: EmulatorSettings):
        super().__init__(settings)
        self.url: str | None = None
        self.cert_path: str | None = None
        self._listener = Listener(settings.host, settings.port, settings.tls, "wep-emulator")

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[wep_errors], client_max_size=1024 * 1024)
        app[EMULATOR] = self
        tables = (routes_session.routes, routes_media.routes, routes_talk.routes, routes_rtmp.routes,
                  routes_events.routes, routes_alarms.routes, routes_ptz.routes, routes_outputs.routes,
                  routes_recording.routes, routes_bookmarks.routes)  # fmt: skip
        for table in tables:
            for route in table:
                assert isinstance(route, web.RouteDef)  # the tables hold routes only, no static dirs
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
        await self._listener.start(self.build_app())
        self.url, self.cert_path = self._listener.url, self._listener.cert_path
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
        await self._listener.stop()


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
