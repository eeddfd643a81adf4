"""`wep-gateway serve | emulator | demo`."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import secrets
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from gateway.config import AltaConfig, AmcrestCameraConfig, Config, ConfigError, load_config, parse_host_port
from gateway.logs import configure_logging

log = logging.getLogger("gateway")


LISTEN_BACKLOG = 4096
# `[server] shutdown_timeout` is the whole stop, SIGTERM to exit (`docker stop` kills at
# 10 s). The streams end at once (on_shutdown, gateway/services.py); requests still in
# flight get this share of it, which aiohttp spends twice (waiting for the handlers, then
# again after failing their payloads); the rest is the cleanup's: pushes, the WEP webhook,
# the logout, each bounded (about 0.1 s in all against a WEP that answers).
IN_FLIGHT_SHARE = 0.25


def _settle(stop: asyncio.Future[int]) -> None:
    """A signal's handler: the first one ends the run with 0, later ones change nothing."""
    if not stop.done():
        stop.set_result(0)


async def _serve(config: Config) -> int:
    from aiohttp import web

    from gateway.app import FATAL, create_app
    from gateway.snapshots.fast_path import GatewayRunner

    app = create_app(config)
    # No access log: gateway/logs.py keeps "aiohttp.access" at WARNING, so its lines never
    # showed, and the logger still cost every request a check (1000 LL-HLS players make
    # 10 000 requests a second). The gateway's own metrics count requests instead.
    # GatewayRunner: snapshot cache hits answered below aiohttp (gateway/snapshots/fast_path.py).
    shutdown_timeout = config.server.shutdown_timeout
    runner = GatewayRunner(
        app, handle_signals=False, shutdown_timeout=shutdown_timeout * IN_FLIGHT_SHARE, access_log=None
    )
    await runner.setup()
    host, port = config.listen_host_port
    try:
        # aiohttp's default backlog (128) drops connections in a burst (1000 players reconnecting,
        # 50 operators' drags, bench/bench_ptz.py); the kernel caps it at somaxconn anyway.
        site = web.TCPSite(runner, host, port, backlog=LISTEN_BACKLOG)
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        log.error("cannot listen on %s: %s", config.server.listen, exc.strerror or exc)
        return 1
    log.info("wep-gateway listening on http://%s:%d/", host, port)
    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, _settle, stop)
    done, _ = await asyncio.wait([stop, app[FATAL]], return_when=asyncio.FIRST_COMPLETED)
    code = next(iter(done)).result()
    log.info("shutting down")
    try:
        async with asyncio.timeout(shutdown_timeout):
            await runner.cleanup()  # ends the streams, then requests in flight, then logs out of WEP
    except TimeoutError:
        log.warning("shutdown took longer than [server] shutdown_timeout (%gs): exiting unfinished", shutdown_timeout)
    return code


def _demo_amcrest(emulator, count: int) -> tuple[AmcrestCameraConfig, ...]:
    """The Amcrest emulator's channels as [[amcrest]] cameras of the demo gateway."""
    settings = emulator.settings
    return tuple(
        AmcrestCameraConfig(
            id=f"amcrest-{channel}",
            name=f"Amcrest camera {channel}",
            host=emulator.host,
            http_port=emulator.http_port,
            rtsp_port=emulator.rtsp_port,
            username=settings.username,
            password=settings.password,
            channel=channel,
            ptz=True,
        )
        for channel in range(1, count + 1)
    )


DEMO_MOTION_EVERY = 10.0


def _reachable(listen: str) -> str:
    """How the emulator on this machine reaches the gateway listening on `listen` (its webhook)."""
    host, port = parse_host_port(listen, "--listen")
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def _demo(args: argparse.Namespace) -> int:
    from gateway.emulator.alta import AltaEmulator, AltaSettings
    from gateway.emulator.amcrest import AmcrestEmulator, AmcrestSettings
    from gateway.emulator.server import Emulator
    from gateway.emulator.settings import EmulatorSettings

    # Camera 1 raises motion every few seconds, so the page has events to show.
    # Camera 1 is a PTZ camera whose picture follows the pad.
    settings = EmulatorSettings(
        host="127.0.0.1", port=0, cameras=args.cameras, motion_every=DEMO_MOTION_EVERY, ptz_camera=1
    )
    emulator = Emulator(settings)
    amcrest = AmcrestEmulator(AmcrestSettings(channels=args.amcrest)) if args.amcrest else None
    alta = AltaEmulator(AltaSettings()) if args.alta else None
    log.info("starting the WEP emulator (%d cameras; the first start encodes the test video)", args.cameras)
    await emulator.start()
    if amcrest is not None:
        log.info("starting the Amcrest emulator (%d cameras)", args.amcrest)
        await amcrest.start()
    alta_config = None
    if alta is not None:
        log.info("starting the Alta emulator")
        await alta.start()
        secret = secrets.token_urlsafe(24)
        alta.set_webhook(f"{_reachable(args.listen)}/alta/webhook/{secret}")
        assert alta.url is not None  # set by start()
        alta_config = AltaConfig(
            url=alta.url, username=alta.settings.username, password=alta.settings.password, webhook_secret=secret
        )
    config = load_config(args.config) if args.config else Config()
    assert emulator.url is not None  # set by start()
    config = dataclasses.replace(
        config,
        server=dataclasses.replace(config.server, listen=args.listen),
        wep=dataclasses.replace(
            config.wep,
            url=emulator.url,
            username=settings.username,
            password=settings.password,
            user_nonce=settings.user_nonce,
            user_key=settings.user_key,
            ca_file=emulator.cert_path or "",
        ),
        auth=dataclasses.replace(config.auth, viewer_auth=False),
        events=dataclasses.replace(config.events, public_url=config.events.public_url or _reachable(args.listen)),
        amcrest=config.amcrest + (_demo_amcrest(amcrest, args.amcrest) if amcrest is not None else ()),
        alta=alta_config or config.alta,
    )
    host, port = config.listen_host_port
    print(
        f"\n  wep-gateway demo: open http://{host}:{port}/  (WEP emulator at {emulator.url}"
        + (f", Amcrest emulator at {amcrest.http_url}" if amcrest is not None else "")
        + (
            f", Alta emulator at {alta.url}: raise an alarm with curl -X POST {alta.url}/_emulator/alarms "
            f"-d '{{\"zone\": 1}}'"
            if alta is not None
            else ""
        )
        + ")\n",
        flush=True,
    )
    try:
        return await _serve(config)
    finally:
        if alta is not None:
            await alta.stop()
        if amcrest is not None:
            await amcrest.stop()
        await emulator.stop()


async def _emulator(args: argparse.Namespace) -> int:
    from gateway.emulator.server import run_from_args

    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, _settle, stop)
    task = asyncio.create_task(run_from_args(args))
    await asyncio.wait([stop, task], return_when=asyncio.FIRST_COMPLETED)
    task.cancel()
    (outcome,) = await asyncio.gather(task, return_exceptions=True)
    if isinstance(outcome, (ValueError, OSError)):  # bad settings, a port in use: one line, not silence
        print(f"wep-gateway emulator: {outcome}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wep-gateway", description="Media gateway for Avigilon ACC WEP")
    parser.add_argument("--log-format", choices=("text", "json"), default=None, help="log line format")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", help="TOML config file (env WEPGW_<SECTION>_<KEY> overrides)")
    emulator = commands.add_parser("emulator", help="run the WEP emulator alone")
    from gateway.emulator.server import add_arguments

    add_arguments(emulator)
    demo = commands.add_parser("demo", help="emulator plus gateway, wired together")
    demo.add_argument("--listen", default="127.0.0.1:8080", help="gateway HOST:PORT")
    demo.add_argument("--cameras", type=int, default=4, help="emulated WEP cameras")
    demo.add_argument("--amcrest", type=int, default=1, help="emulated Amcrest/Dahua cameras beside them")
    demo.add_argument(
        "--alta", action="store_true", help="an emulated Avigilon Alta deployment too (its alarms in the same list)"
    )
    demo.add_argument("--config", help="optional gateway config for the other settings")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config, os.environ) if args.command == "serve" else None
        if args.command == "demo":
            parse_host_port(args.listen, "--listen")
    except ConfigError as exc:
        print(f"wep-gateway: config error: {exc}", file=sys.stderr)
        return 2
    log_format = args.log_format or (config.server.log_format if config else "text")
    configure_logging(log_format, logging.DEBUG if args.verbose else logging.INFO)
    runner: Callable[[Coroutine[Any, Any, int]], int]
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # uvloop is a dependency; this keeps odd platforms working
        runner = asyncio.run
    try:
        if args.command == "serve":
            assert config is not None  # loaded above for serve
            return runner(_serve(config))
        if args.command == "demo":
            return runner(_demo(args))
        return runner(_emulator(args))
    except ConfigError as exc:
        print(f"wep-gateway: config error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
