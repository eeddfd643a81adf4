"""The Alta emulator: one deployment's alarm zones, alerts and shared links, served over the
Alta Video API calls the alarm guide uses, with its webhook alarm action."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from gateway.emulator.alta import routes_api, routes_cloud, routes_control
from gateway.emulator.alta.alarm_action import WebhookAction, WebhookSender
from gateway.emulator.alta.alerts import Alert, AlertBook
from gateway.emulator.alta.errors import Unauthorized
from gateway.emulator.alta.faults import Fault, Faults
from gateway.emulator.alta.sessions import CookieSessions
from gateway.emulator.alta.settings import AltaSettings, check_webhook
from gateway.emulator.alta.state import ALTA
from gateway.emulator.alta.stats import AltaStats
from gateway.emulator.alta.wire import Wire
from gateway.emulator.alta.zones import ZoneBook
from gateway.emulator.tls import server_context, write_self_signed

log = logging.getLogger(__name__)


class AltaEmulator:
    """`await start()`, then `url`; `raise_alarm(zone)`; `await stop()`. `clock` (Unix
    seconds) drives sessions, merging, lag and timestamps: tests may pass their own."""

    def __init__(self, settings: AltaSettings, clock: Callable[[], float] = time.time):
        settings.validate()
        self.settings = settings
        self.wire = Wire(settings.ids, settings.envelope)
        self.zones_book = ZoneBook(settings.zones)
        self.book = AlertBook(settings.merge_window_s, settings.alert_lag_s, clock)
        self.sessions = CookieSessions(settings.session_ttl, clock)
        self.faults = Faults()
        self.counters = AltaStats()
        self._action = WebhookAction(settings.webhook_url, settings.webhook_format, settings.zone_key,
                                     settings.device_key)  # fmt: skip
        self._sender = WebhookSender(settings.webhook_timeout_s, settings.webhook_verify_tls, self.counters)
        self._stopping = asyncio.Event()
        self.port = settings.port
        self.url: str | None = None
        self.cert_path: str | None = None
        self._runner: web.AppRunner | None = None
        self._tls_dir: str | None = None

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[routes_api.alta_api])
        app[ALTA] = self
        app.add_routes(routes_api.routes)
        app.add_routes(routes_cloud.routes)
        app.add_routes(routes_control.routes)
        return app

    async def start(self) -> None:
        self._stopping.clear()
        # handler_cancellation: a hung call ends when its client gives up (aiohttp web_advanced.rst).
        self._runner = web.AppRunner(self.build_app(), access_log=None, handle_signals=False,
                                     shutdown_timeout=1.0, handler_cancellation=True)  # fmt: skip
        await self._runner.setup()
        try:
            ssl_context = None
            if self.settings.tls:
                self._tls_dir = tempfile.mkdtemp(prefix="alta-emulator-tls-")
                cert, key = write_self_signed(Path(self._tls_dir))
                ssl_context, self.cert_path = server_context(cert, key), str(cert)
            site = web.TCPSite(self._runner, self.settings.host, self.settings.port, ssl_context=ssl_context)
            await site.start()
        except BaseException:
            await self.stop()
            raise
        self.port = site._server.sockets[0].getsockname()[1]  # the real port when asked for 0
        host = self.settings.host
        host = "127.0.0.1" if host in ("0.0.0.0", "") else (f"[{host}]" if ":" in host else host)
        self.url = f"{'https' if self.settings.tls else 'http'}://{host}:{self.port}"

    async def stop(self) -> None:
        self._stopping.set()  # hung calls answer now
        await self._sender.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._tls_dir is not None:
            shutil.rmtree(self._tls_dir, ignore_errors=True)
            self._tls_dir = None

    # Used by the routes -----------------------------------------------------------------
    def login(self, username: str, password: str) -> str:
        """A new session's cookie value; Unauthorized for wrong credentials."""
        s = self.settings
        if username.casefold() != s.username.casefold() or password != s.password:
            self.counters.login_failures += 1
            log.info("alta emulator: refused login for %r", username)
            raise Unauthorized("invalid username or password")
        self.counters.logins += 1
        return self.sessions.create(s.username)

    async def hang(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass

    # Alarms ---------------------------------------------------------------------------
    def raise_alarm(self, zone_id: int | str, device_id: int | str | None = None) -> dict | None:
        """A detection by the device (default: the zone's first) in the zone: a new alert, or
        the zone's ongoing one merged. Then the webhook, if set, is posted in the background
        (call this on the event loop). None when the zone is disarmed; KeyError (NotFound)
        for an unknown zone or device."""
        zone = self.zones_book.get(zone_id)
        device = zone.device(device_id)
        if not zone.armed:
            self.counters.detections_ignored += 1
            return None
        alert, merged = self.book.detect(zone, device)
        if merged:
            self.counters.detections_merged += 1
        else:
            self.counters.alerts_created += 1
        if self._action.url:
            self._sender.send(self._action, self.wire.id(zone.id), self.wire.id(device.id), alert.guid)
        return self.wire.alert(alert)

    def alerts(self) -> list[dict]:
        """Every alert, newest first, ended ones and ones still lagging too."""
        return [self.wire.alert(a) for a in self.book.all(visible_only=False)]

    def _alert(self, guid: str) -> Alert:
        return self.book.get(guid, visible_only=False)

    def alert(self, guid: str) -> dict:
        """As GET /api/v1/alerts/{guid} shows it (lagging or not); KeyError when unknown."""
        return self.wire.alert(self._alert(guid))

    def verifications(self, guid: str) -> list[dict]:
        """Every accepted verify body for the alert, oldest first."""
        return [dict(body) for body in self._alert(guid).verifications]

    def bookmarks(self, guid: str) -> list[dict]:
        return [self.wire.bookmark(b) for b in self._alert(guid).bookmarks]

    def ended(self, guid: str) -> bool:
        return not self._alert(guid).ongoing

    def inspect_alerts(self) -> list[dict]:
        now = self.book.clock()
        return [{**self.wire.alert(a), "visible": a.visible_at <= now, "verifications": list(a.verifications)}
                for a in self.book.all(visible_only=False)]  # fmt: skip

    def zones(self) -> list[dict]:
        return [self.wire.zone(z) for z in self.zones_book.all()]

    def arm(self, zone_id: int | str, armed: bool = True) -> dict:
        """Arm (or disarm, armed=False) a zone as the API does; KeyError when unknown."""
        (zone,) = self.zones_book.set_armed([zone_id], armed)
        return self.wire.zone(zone)

    # The webhook alarm action -------------------------------------------------------------
    def set_webhook(self, url: str, format: str = "json", zone_key: str = "alarmZoneId",
                    device_key: str = "deviceId") -> None:  # fmt: skip
        """The zones' alarm action from now on ("" for none); SettingsError (a ValueError)."""
        check_webhook(url, format, zone_key, device_key)
        self._action = WebhookAction(url, format, zone_key, device_key)

    def webhook_action(self) -> dict:
        a = self._action
        return {"url": a.url, "format": a.format, "zone_key": a.zone_key, "device_key": a.device_key}

    @property
    def webhook_log(self) -> list[dict]:
        """Every webhook post, in the order they finished: {"url", "format", "payload", "body",
        "alert_guid", "sent_at", "status" (None on error), "error", "duration_s"}."""
        return list(self._sender.log)

    async def webhooks_done(self) -> None:
        """Until every webhook post started so far has finished."""
        await self._sender.drain()

    # Sessions and faults ------------------------------------------------------------------
    def expire_sessions(self) -> int:
        """Forget every session: the next call with any cookie answers 401."""
        return self.sessions.expire_all()

    def fail_next(self, n: int, status: int = 500) -> None:
        """The next `n` /api/v1 calls (dologin too) answer `status` with the JSON error."""
        self.faults.set(n, Fault("fail", status=status))

    def garbage_next(self, n: int, kind: str = "html") -> None:
        """The next `n` /api/v1 calls answer 200 with garbage: "html" (a proxy's page),
        "truncated" (JSON cut short) or "shape" (JSON without the expected fields)."""
        self.faults.set(n, Fault("garbage", garbage=kind))

    def hang_next(self, n: int, seconds: float = 60.0) -> None:
        """The next `n` /api/v1 calls wait `seconds` (or until stop) before they are served."""
        self.faults.set(n, Fault("hang", seconds=seconds))

    @property
    def logins(self) -> int:
        return self.counters.logins

    @property
    def stats(self) -> dict:
        """Counters as plain JSON-able data (also GET /_emulator/stats)."""
        return {**self.counters.snapshot(), "sessions": len(self.sessions), "faults": dict(self.faults.served),
                "faults_pending": self.faults.remaining}  # fmt: skip
