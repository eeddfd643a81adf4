"""What the Alta emulator holds (zones, alerts, cookie sessions, faults, the webhook alarm
action) and the typed keys under which routes find it and the caller's login.

The routes take everything from here; emulator.py adds the serving on top, so the imports
run one way: emulator -> routes -> state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiohttp import web

from gateway.emulator.alta.alarm_action import WebhookAction, WebhookSender
from gateway.emulator.alta.alerts import Alert, AlertBook
from gateway.emulator.alta.errors import Unauthorized
from gateway.emulator.alta.faults import Fault, Faults
from gateway.emulator.alta.sessions import CookieSessions
from gateway.emulator.alta.settings import AltaSettings, check_webhook
from gateway.emulator.alta.stats import AltaStats
from gateway.emulator.alta.wire import Wire
from gateway.emulator.alta.zones import ZoneBook
from gateway.emulator.stats import counters_json

log = logging.getLogger(__name__)


class AltaState:
    """One deployment's zones, alerts, sessions, faults and webhook action, as the routes and
    tests see them. `clock` (Unix seconds) drives sessions, merging, lag and timestamps."""

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
        return {**counters_json(self.counters), "sessions": len(self.sessions), "faults": dict(self.faults.served),
                "faults_pending": self.faults.remaining}  # fmt: skip


ALTA: web.AppKey[AltaState] = web.AppKey("alta_emulator")
USER = web.RequestKey("alta_user", str)  # the username of the session cookie
