"""Talkdown settings: one typed object with documented defaults.

The gateway's Config has no `[talkdown]` section yet; `settings_for()` takes one if the
lead adds it (same key names as the fields below), and tests put a `TalkSettings` under
the `TALK_SETTINGS` app key before start-up.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


class TalkSettingsError(ValueError):
    """A talkdown setting is out of range (one line naming it)."""


@dataclass(frozen=True)
class TalkSettings:
    # A microphone that sends no audio for this long ends its talk session: silence is
    # never padded upstream, and the camera is freed for the next talker.
    idle_timeout: float = 5.0
    # ICE + DTLS must complete within this after the answer, or the talk session ends.
    connect_timeout: float = 10.0
    # Guide, POST /media: "The maximum stream duration is 120000 ms."
    cap_ms: int = 120_000
    # The next POST is opened this long before the current one must end, so its
    # connection is up when the audio is handed over (no gap at the rollover). Each POST
    # carries at most cap_ms - rollover_lead_ms of audio and lives at most that long,
    # which keeps it under the cap even if WEP counts from the moment the request came.
    rollover_lead_ms: int = 1_000
    # Audio per upstream write (20-40 ms): small enough to keep the added latency low.
    chunk_ms: int = 20
    # Uploaded files: bodies over this get 413; audio past max_file_seconds is dropped.
    max_upload_bytes: int = 16 * 1024 * 1024
    max_file_seconds: float = 300.0
    # Audio waiting for the upstream POST (it stalls or reconnects): past this the oldest
    # is dropped and counted; a late word is worse than a lost one.
    max_queue_ms: int = 2_000

    def validate(self) -> TalkSettings:
        if not 20 <= self.chunk_ms <= 40 or self.chunk_ms % 20:
            raise TalkSettingsError(f"talkdown chunk_ms must be 20 or 40, not {self.chunk_ms}")
        if self.cap_ms <= 0 or not 0 <= self.rollover_lead_ms < self.cap_ms // 2:
            raise TalkSettingsError(f"talkdown rollover_lead_ms must be 0..cap_ms/2 ({self.cap_ms // 2}), "
                                    f"not {self.rollover_lead_ms}")
        if self.post_ms < 4 * self.chunk_ms:
            raise TalkSettingsError(f"talkdown cap_ms {self.cap_ms} leaves too little audio per POST")
        for name in ("idle_timeout", "connect_timeout", "max_file_seconds"):
            if getattr(self, name) <= 0:
                raise TalkSettingsError(f"talkdown {name} must be positive, not {getattr(self, name)}")
        if self.max_upload_bytes <= 0 or self.max_queue_ms < self.chunk_ms:
            raise TalkSettingsError("talkdown max_upload_bytes must be positive and max_queue_ms >= chunk_ms")
        return self

    @property
    def post_ms(self) -> int:
        """The most audio (and wall time) one upstream POST carries."""
        return self.cap_ms - self.rollover_lead_ms

    @property
    def chunk_bytes(self) -> int:
        return self.chunk_ms * 8  # PCMU: 8000 one-byte samples per second


def settings_for(config: object) -> TalkSettings:
    """TalkSettings from `config.talkdown` when the Config has that section, else defaults."""
    section = getattr(config, "talkdown", None)
    if section is None:
        return TalkSettings().validate()
    names = {f.name for f in dataclasses.fields(TalkSettings)}
    values = {name: getattr(section, name) for name in names if hasattr(section, name)}
    return TalkSettings(**values).validate()
