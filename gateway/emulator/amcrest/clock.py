"""The channels' live timeline, shared by RTSP sessions and snapshots: media time 0 is the
emulator's start, so every viewer of a channel sees the same picture at the same instant,
and a snapshot shows the frame the video shows (as a real camera does)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class MediaClock:
    epoch_mono: float = field(default_factory=time.monotonic)
    epoch_wall: float = field(default_factory=time.time)

    def now(self) -> float:
        """Seconds of media time elapsed."""
        return time.monotonic() - self.epoch_mono

    def wall(self, media_time: float) -> float:
        """The Unix time at which `media_time` is shown (for RTCP sender reports)."""
        return self.epoch_wall + media_time
