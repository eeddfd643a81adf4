"""Every playlist the gateway serves, checked against the RFC validator (rfc8216_validator.py),
in front of a WEP emulator whose camera changes GOP mid-stream (1 s GOPs, then one of 3 s:
longer than the 1 s target) and whose stream is dropped once (a reconnect): the
multivariant playlist, live media playlists, LL-HLS blocking reloads, delta updates, and a
recording until EXT-X-ENDLIST. The media behind them is fetched and checked against what
the playlists claim, and ffmpeg decodes both the live and the recorded playlist."""

from __future__ import annotations

import asyncio
import json
import math
import time
from datetime import UTC, datetime
from itertools import pairwise

import aiohttp
import pytest

from gateway.emulator.settings import EmulatorSettings
from gateway.hls.recorded import RECORDINGS, RecordingLimits
from gateway.hls.routes import HLS_MUXERS
from gateway.media.fmp4 import Fmp4Reader, Fragment, InitSegment
from tests.conftest import TEST_EMULATOR, require

from .rfc8216_validator import (
    MediaHistory,
    MediaPlaylist,
    assert_valid,
    check_media_bytes,
    check_multivariant,
    first_video_keyframe,
)
from .test_ffmpeg import ffmpeg_frames
from .test_recorded import ffmpeg_frames as decode_recording

pytestmark = [pytest.mark.peer, pytest.mark.timeout(150)]

LOOP_SECONDS = 6.0
GOPS = (1.0, 1.0, 1.0, 3.0)  # keyframes at 0, 1, 2 and 3 s of each 6 s pass
PLAY_SECONDS = 16.0
DROP_AT = 9.0


@pytest.fixture
def emulator_settings(emulator_cache) -> EmulatorSettings:
    return EmulatorSettings(
        host="127.0.0.1",
        port=0,
        cache_dir=emulator_cache,
        **{**TEST_EMULATOR, "loop_seconds": LOOP_SECONDS, "gops": GOPS},
    )


@pytest.fixture
async def http():
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


def loop_position(emulator) -> float:
    return (time.monotonic() - emulator.epoch_mono) % LOOP_SECONDS


async def in_short_gops(emulator) -> None:
    """Start a player where the GOPs are 1 s, so the muxer measures those: target 1 s."""
    while not 0.2 <= loop_position(emulator) < 1.2:
        await asyncio.sleep(0.05)


class Player:
    """An LL-HLS player's requests (hls.js's order), every answer kept for the checks."""

    def __init__(self, http: aiohttp.ClientSession, base: str, name: str):
        self.http = http
        self.base = base  # .../hls/{camera}/{quality}
        self.history = MediaHistory(name)
        self.inits: dict[str, bytes] = {}
        self.media: dict[str, bytes] = {}
        self.full: list[MediaPlaylist] = []  # answers without EXT-X-SKIP
        self.unavailable = 0  # 503s to blocking reloads (while the upstream reconnected)
        self._findings = []

    async def get(self, query: dict[str, str]) -> MediaPlaylist:
        for _ in range(4):
            async with self.http.get(f"{self.base}/playlist.m3u8", params=query) as response:
                text = await response.text()
                if response.status == 503 and "_HLS_msn" in query:
                    # 6.2.5.2: nothing came within three target durations; a player asks again
                    self.unavailable += 1
                    await asyncio.sleep(0.5)
                    continue
                assert response.status == 200, (query, text)
            playlist = self.history.add(text, {k: v for k, v in query.items() if k.startswith("_HLS_")})
            if not playlist.skipped:
                self.full.append(playlist)
            return playlist
        raise AssertionError(f"{self.base}: 503 four times in a row")

    async def fetch_media(self, playlist: MediaPlaylist) -> None:
        """Fetch what is new in this answer and check it against the answer's claims."""
        wanted = [s.map_uri for s in playlist.segments] + [playlist.open_map_uri]
        for uri in {uri for uri in wanted if uri and uri not in self.inits}:
            self.inits[uri] = await self._bytes(uri)
        fresh = {}
        for uri in [s.uri for s in playlist.segments] + [p.uri for p in playlist.all_parts]:
            if uri not in self.media:
                fresh[uri] = self.media[uri] = await self._bytes(uri)
        self._findings += check_media_bytes(playlist, self.inits, fresh)

    async def _bytes(self, uri: str) -> bytes:
        async with self.http.get(f"{self.base}/{uri}") as response:
            assert response.status == 200, uri
            return await response.read()

    async def play(self, seconds: float, on_time=None) -> None:
        """Blocking reloads for the next part, a delta update now and then, media fetched."""
        playlist = await self.get({})
        await self.fetch_media(playlist)
        started = time.monotonic()
        n = 0
        while time.monotonic() - started < seconds:
            n += 1
            query = {"_HLS_msn": str(playlist.next_msn), "_HLS_part": str(len(playlist.open_parts))}
            if n % 7 == 0:
                query["_HLS_skip"] = "YES" if n % 14 else "v2"
            playlist = await self.get(query)
            if n % 7 == 0:
                playlist = await self.get({})  # a client merges deltas into a full copy
            await self.fetch_media(playlist)
            if on_time is not None:
                on_time(time.monotonic() - started)

    def findings(self, *, ended: bool = False):
        return self._findings + self.history.finish(ended=ended)


def first_video(init: bytes, media: bytes) -> tuple[int, int]:
    """(decode time, timescale) of the first video sample."""
    events = Fmp4Reader().feed(init + media)
    video = next(e.track("video") for e in events if isinstance(e, InitSegment))
    sample = next(s for e in events if isinstance(e, Fragment) for s in e.samples if s.track_id == video.track_id)
    return sample.decode_time, video.timescale


async def test_live_playlists_conform_through_a_gop_change_and_a_reconnect(emulator, gateway, gateway_url, http):
    camera = emulator.camera_ids[0]
    await in_short_gops(emulator)
    async with http.get(f"{gateway_url}/hls/{camera}/index.m3u8") as response:
        multivariant_text = await response.text()
    multivariant, findings = check_multivariant(multivariant_text)
    assert_valid(findings, multivariant_text)
    assert {v.uri for v in multivariant.variants} == {"high/playlist.m3u8", "low/playlist.m3u8"}
    assert "mp4a.40.2" in multivariant.variants[0].attributes["CODECS"]  # camera audio in every variant

    high = Player(http, f"{gateway_url}/hls/{camera}/high", "high")
    low = Player(http, f"{gateway_url}/hls/{camera}/low", "low")
    decoding = asyncio.ensure_future(ffmpeg_frames(f"{gateway_url}/hls/{camera}/high/playlist.m3u8", PLAY_SECONDS))
    dropped: list[float] = []

    def drop_once(elapsed: float) -> None:
        if elapsed >= DROP_AT and not dropped:
            dropped.append(elapsed)
            assert emulator.drop_streams() >= 2  # both qualities (and the audio): WEP went away

    await asyncio.gather(high.play(PLAY_SECONDS, drop_once), low.play(PLAY_SECONDS / 2))
    pts, errors = await decoding

    for player in (high, low):
        assert_valid(player.findings(), f"{player.history.name}: {player.history.answers} answers")
        assert player.unavailable <= 2
    # ffmpeg decoded it all, through the cuts and the reconnect; what the reconnect lost is
    # at most the rest of a GOP (3 s here): HLS does not show a moment twice (segmenter.py)
    assert errors == ""
    video = pts[0]
    assert all(b > a for a, b in pairwise(video)), "video timestamps go backwards"
    assert len(video) >= (PLAY_SECONDS - max(GOPS) - 1) * 15 * 0.9

    # what the run went through: the 3 s GOP cut under the 1 s target, a reconnect, deltas
    segmenter = gateway.app[HLS_MUXERS].find(camera, "high").segmenter
    assert segmenter.target_duration == 1 and segmenter.segments_cut >= 2
    async with http.get(f"{gateway_url}/metrics") as response:
        exported = await response.text()
    line = f'wepgw_hls_segments_cut_total{{camera="{camera}",quality="high"}} '
    [value] = [float(row[len(line) :]) for row in exported.splitlines() if row.startswith(line)]
    assert value >= 2  # the cuts are counted where operators see them
    known = high.history.known
    assert any(segment.discontinuity for segment in known.values())
    assert high.history.answers > 50 and len(high.full) < high.history.answers  # deltas were answered
    assert len({(p.target, p.part_target) for p in high.full}) == 1

    # PROGRAM-DATE-TIME is the camera's clock (its prft): before the reconnect the gateway's
    # timeline is the emulator's, whose decode time t was taken at epoch_wall + t
    compared = set()
    for playlist in high.full:
        for segment in playlist.segments:
            if segment.cc == 0 and segment.uri in high.media and segment.date is not None:
                decode_time, timescale = first_video(high.inits[segment.map_uri], high.media[segment.uri])
                assert segment.date == pytest.approx(emulator.epoch_wall + decode_time / timescale, abs=0.002)
                compared.add(segment.msn)
    assert len(compared) >= 3


def iso(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


async def test_a_recording_across_a_gop_change_conforms_until_endlist_with_audio(emulator, gateway, gateway_url, http):
    require("ffprobe")
    gateway.app[RECORDINGS].limits = RecordingLimits(max_seconds=8.0, segment_min_duration=1.0)
    camera = emulator.camera_ids[0]
    # a past moment at the start of a pass: 1 s GOPs first (target 1 s), then the 3 s one
    # (the emulator has recorded every past instant, even before it started)
    at = emulator.epoch_wall + math.floor((time.time() - 10 - emulator.epoch_wall) / LOOP_SECONDS) * LOOP_SECONDS
    player = Player(http, f"{gateway_url}/hls/{camera}/high", "recording")
    query = {"t": iso(at)}
    playlist = await player.get(query)
    while not playlist.endlist:  # EVENT: reloaded about once a target duration (6.3.4)
        await player.fetch_media(playlist)
        await asyncio.sleep(0.5)
        playlist = await player.get(query)
    await player.fetch_media(playlist)
    assert_valid(player.findings(ended=True), json.dumps([s.uri for s in playlist.segments]))

    assert playlist.playlist_type == "EVENT" and playlist.target == 1
    assert sum(s.duration for s in playlist.segments) == pytest.approx(8.0, abs=0.01)
    assert not all(first_video_is_key(player, s) for s in playlist.segments)  # the 3 s GOP was cut
    assert playlist.segments[0].date == pytest.approx(at, abs=0.002)  # the camera's time of its keyframe

    # ffprobe: H.264 and the camera's AAC; ffmpeg decodes every frame of both
    url = f"{gateway_url}/hls/{camera}/high/playlist.m3u8?t={iso(at)}"
    process = await asyncio.create_subprocess_exec(
        "ffprobe",
        "-v",
        "error",
        "-show_entries",
        "stream=codec_type,codec_name",
        "-of",
        "json",
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    streams = {(s["codec_type"], s["codec_name"]) for s in json.loads(out)["streams"]}
    assert streams == {("video", "h264"), ("audio", "aac")}
    pts, errors = await decode_recording(url, 60)
    assert errors == "" and len(pts[0]) == round(8.0 * 15)
    assert len(pts[1]) >= 8.0 * 48000 / 1024 * 0.8


def first_video_is_key(player: Player, segment) -> bool:
    return bool(first_video_keyframe(player.inits[segment.map_uri], player.media[segment.uri]))
