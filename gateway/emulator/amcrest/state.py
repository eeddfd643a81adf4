"""What the Amcrest emulator holds (channels' media, Digest credentials, event streams, the
PTZ log, the speakers) and the typed key under which routes find it.

The routes take everything from here; emulator.py adds the serving on top, so the imports
run one way: emulator -> routes -> state.
"""

from __future__ import annotations

from aiohttp import web

from gateway.emulator.amcrest.clock import MediaClock
from gateway.emulator.amcrest.digest import DigestAuthority
from gateway.emulator.amcrest.events import EventHub
from gateway.emulator.amcrest.media import ChannelMedia
from gateway.emulator.amcrest.settings import AmcrestSettings
from gateway.emulator.amcrest.stats import AmcrestStats
from gateway.emulator.amcrest.talk import TalkRecord
from gateway.emulator.stats import counters_json

SERIAL = "AMC0EMULATOR0001"


class AmcrestState:
    """The device's channels, credentials, events, PTZ log and speakers, as the routes and
    tests see them."""

    def __init__(self, settings: AmcrestSettings):
        settings.validate()
        self.settings = settings
        # Dahua firmware's realm names the device: "Login to <serial>".
        self.auth = DigestAuthority(f"Login to {SERIAL}", settings.username, settings.password)
        self.clock = MediaClock()
        self.counters = AmcrestStats()
        self.events = EventHub()
        self.ptz_log: list[dict] = []
        self.talk_records = {c: TalkRecord() for c in range(1, settings.channels + 1)}
        self.media: dict[int, ChannelMedia] = {}

    # Events and faults ----------------------------------------------------------------
    def _check_channel(self, channel: int) -> None:
        if not 1 <= channel <= self.settings.channels:
            raise ValueError(f"channel must be 1..{self.settings.channels}, not {channel}")

    def inject_event(self, channel: int, code: str, action: str, data: dict | None = None) -> None:
        """Send `Code=<code>;action=<action>;index=<channel-1>` to every attached stream
        whose codes include `code` (or All)."""
        self._check_channel(channel)
        self.events.publish(channel, code, action, data)

    def event_fault(self, kind: str | None) -> None:
        """Fault every attached event stream: kind "garbage" or "cut" (events.py)."""
        self.events.fault(kind)

    # Inspection ----------------------------------------------------------------------
    @property
    def stats(self) -> dict:
        return counters_json(self.counters)

    def talk_audio(self, channel: int) -> bytes:
        self._check_channel(channel)
        return self.talk_records[channel].audio()

    def talk_content_types(self, channel: int) -> list[str]:
        self._check_channel(channel)
        return list(self.talk_records[channel].content_types)


AMCREST: web.AppKey[AmcrestState] = web.AppKey("amcrest_emulator")
