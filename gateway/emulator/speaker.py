"""What an emulated camera's speaker heard: the WEP emulator's POST /media and the Amcrest
emulator's postAudio keep their uploads alike."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class SpeakerRecord:
    """Every chunk a camera's speaker received, with its monotonic arrival time."""

    chunks: list[tuple[float, bytes]] = field(default_factory=list)

    def add(self, chunk: bytes) -> None:
        self.chunks.append((time.monotonic(), bytes(chunk)))

    def audio(self) -> bytes:
        return b"".join(chunk for _, chunk in self.chunks)
