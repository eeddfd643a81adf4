"""A push as the modes and the API see it: its spec, its status, what an attempt may use."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gateway.rtmp.state import PushState, PushStatus
from gateway.rtmp.store import PushSpec
from gateway.rtmp.url import redact_url, secrets_of

if TYPE_CHECKING:
    from gateway.media.sources import SourceRegistry
    from gateway.wep.client import WepClient

log = logging.getLogger("gateway.rtmp")

MODES = ("gateway", "wep")
MEDIA = ("video", "audio", "both")
QUALITIES = ("high", "low")


class PushAttemptError(Exception):
    """Why one attempt ended. `permanent`: retrying cannot help (state `failed`)."""

    def __init__(self, reason: str, *, permanent: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass
class PushContext:
    """Everything one push's attempts may touch; the status changes only on the loop."""

    spec: PushSpec
    sources: SourceRegistry
    wep: WepClient | None  # None without a WEP backend (then no push is of mode "wep")
    # Persists (WEP stream id, the WEP session that owns it): see store.py for why.
    remember_wep_stream: Callable[[str | None, str | None], Awaitable[None]]
    status: PushStatus = field(default_factory=PushStatus)
    wep_stream_id: str | None = None
    wep_session: str | None = field(default=None, repr=False)  # a secret: never logged or answered

    def __post_init__(self) -> None:
        self.wep_stream_id = self.spec.wep_stream_id
        self.wep_session = self.spec.wep_session

    def redact(self, text: str) -> str:
        """Reasons can come from FFmpeg or WEP texts: never let the URL or key through."""
        for secret in sorted(secrets_of(self.spec.url), key=len, reverse=True):
            if len(secret) >= 4 and secret in text:
                text = text.replace(secret, "***")
        return text

    def enter(self, state: PushState, reason: str = "", retry_at: float | None = None) -> None:
        reason = self.redact(reason)
        self.status.enter(state, time.time(), reason, retry_at)
        if state is not PushState.LIVE:
            self.status.bitrate = 0.0
        extra = {"camera": self.spec.camera}
        shown = redact_url(self.spec.url)
        if reason:
            log.info(
                "push %s (%s) to %s: %s: %s", self.spec.id, self.spec.mode, shown, state.value, reason, extra=extra
            )
        else:
            log.info("push %s (%s) to %s: %s", self.spec.id, self.spec.mode, shown, state.value, extra=extra)


def push_view(ctx: PushContext) -> dict:
    """The API resource: never the full URL, never WEP's stream id (WEP lets a URL be one),
    never the WEP session that owns the stream."""
    spec, status = ctx.spec, ctx.status
    view = {
        "id": spec.id,
        "camera": spec.camera,
        "url": redact_url(spec.url),
        "quality": spec.quality,
        "media": spec.media,
        "mode": spec.mode,
        "created_at": _iso(spec.created_at),
        "stop_at": _iso(spec.stop_at) if spec.stop_at is not None else None,
        "state": status.state.value,
        "since": _iso(status.since),
        "last_error": status.last_error or None,
        "retry_at": _iso(status.retry_at) if status.retry_at is not None else None,
        "attempts": status.attempts,
        "history": [
            {"state": step.state.value, "at": _iso(step.at), **({"reason": step.reason} if step.reason else {})}
            for step in status.history
        ],
    }
    if spec.mode == "gateway":
        view.update(
            bytes_sent=status.bytes_sent,
            frames_sent=status.frames_sent,
            frames_dropped=status.frames_dropped,
            bitrate=round(status.bitrate),
        )
    return view


def _iso(at: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at))
    return f"{seconds}.{int(at % 1 * 1000):03d}Z"
