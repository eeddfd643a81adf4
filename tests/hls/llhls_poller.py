"""A minimal LL-HLS player loop (blocking playlist reload, then the newest part), as
hls.js does it in low-latency mode, without decoding."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

import aiohttp

_MEDIA_SEQUENCE = re.compile(r"#EXT-X-MEDIA-SEQUENCE:(\d+)")
_SKIPPED = re.compile(r"#EXT-X-SKIP:SKIPPED-SEGMENTS=(\d+)")
_PART = re.compile(r'#EXT-X-PART:DURATION=[\d.]+,URI="([^"]+)"')


def next_position(text: str) -> tuple[int, int, str | None]:
    """(msn, part) to block on next, and the newest part's URI."""
    lines = text.splitlines()
    media_sequence = int(_MEDIA_SEQUENCE.search(text).group(1))
    skipped = _SKIPPED.search(text)
    segments = sum(1 for line in lines if line and not line.startswith("#")) + (int(skipped.group(1)) if skipped else 0)
    open_msn = media_sequence + segments
    open_parts = 0
    newest = None
    for line in reversed(lines):
        if line.startswith("#EXT-X-PART:"):
            open_parts += 1
            newest = newest or _PART.match(line).group(1)
        elif line and not line.startswith("#"):
            break
    if newest is None:
        newest = next((_PART.match(line).group(1) for line in reversed(lines) if line.startswith("#EXT-X-PART:")), None)
    return open_msn, open_parts, newest


@dataclass
class PollerResult:
    parts: int = 0
    playlists: int = 0
    errors: list = field(default_factory=list)


async def poll(session: aiohttp.ClientSession, playlist_url: str, seconds: float) -> PollerResult:
    result = PollerResult()
    base = playlist_url.rsplit("/", 1)[0]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    query = ""
    while loop.time() < deadline:
        async with session.get(playlist_url + query) as response:
            if response.status != 200:
                result.errors.append(f"playlist {response.status}")
                return result
            text = await response.text()
        result.playlists += 1
        msn, part, newest = next_position(text)
        if newest is not None:
            async with session.get(f"{base}/{newest}") as response:
                body = await response.read()
                if response.status != 200 or body[4:8] != b"moof":
                    result.errors.append(f"part {response.status}")
                    return result
            result.parts += 1
        query = f"?_HLS_msn={msn}&_HLS_part={part}"
    return result
