"""What each channel's speaker received through postAudio."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.emulator.speaker import SpeakerRecord

# audio.cgi postAudio Content-Type values (amcrest-cgi-facts.md, "speaker")
TALK_TYPES = {"audio/g.711a": "Audio/G.711A", "audio/g.711mu": "Audio/G.711Mu", "audio/aac": "Audio/AAC"}


@dataclass
class TalkRecord(SpeakerRecord):
    content_types: list[str] = field(default_factory=list)  # one per upload
