"""What each channel's speaker received through postAudio."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

# audio.cgi postAudio Content-Type values (amcrest-cgi-facts.md, "speaker")
TALK_TYPES = {"audio/g.711a": "Audio/G.711A", "audio/g.711mu": "Audio/G.711Mu", "audio/aac": "Audio/AAC"}


@dataclass
class TalkRecord:
    chunks: list[tuple[float, bytes]] = field(default_factory=list)  # (monotonic arrival, bytes)
    content_types: list[str] = field(default_factory=list)  # one per upload

    def add(self, chunk: bytes) -> None:
        self.chunks.append((time.monotonic(), bytes(chunk)))

    def audio(self) -> bytes:
        return b"".join(chunk for _, chunk in self.chunks)
