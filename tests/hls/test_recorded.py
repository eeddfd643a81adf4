"""Recorded video as an HLS EVENT playlist (`playlist.m3u8?t=`): the sans-IO rendering and
bounds, then the gateway in front of the WEP emulator, read by ffmpeg, with the camera's
audio and its own clock (the emulator's prft boxes) for PROGRAM-DATE-TIME."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from datetime import UTC, datetime

import aiohttp
import pytest

from gateway.hls.playlist import PlaylistSegment
from gateway.hls.recorded import RECORDINGS, Recording, RecordingLimits, render_event
from gateway.media.fmp4 import Fmp4Reader, Fragment, InitSegment, Sample, TrackInfo
from gateway.snapshots.request import parse_time
from tests.conftest import require

pytestmark = pytest.mark.timeout(60)

FPS = 15
# avcC from libx264 (High, 320x240), as FFmpeg's muxer wrote it (tests/media/test_fmp4_writer.py).
AVCC = (
    b"\x01d\x00\x0c\xff\xe1\x00\x18gd\x00\x0c\xac\xd9AA\xfa\x10\x00\x00\x03\x00\x10\x00\x00\x03\x01"
    b"\xe0\xf1B\x99`\x01\x00\x04h\xef\x8f\xcb\xfd\xf8\xf8\x00"
)


def iso(unix: float, basic: bool = False) -> str:
    moment = datetime.fromtimestamp(round(unix, 3), UTC)
    text = moment.strftime("%Y%m%dT%H%M%S." if basic else "%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return text


def upstream_fragments(seconds: float, *, track_id: int = 7, frame_bytes: int = 100) -> list[Fragment]:
    """What WEP's recorded stream parses into: a keyframe every second, one frame per fragment."""
    duration = 90000 // FPS
    return [
        Fragment(i + 1, (Sample(track_id, i * duration, duration, 0, i % FPS == 0, bytes(frame_bytes)),), frame_bytes)
        for i in range(int(seconds * FPS))
    ]


def upstream_init(track_id: int = 7) -> InitSegment:
    return InitSegment(
        b"upstream-init", (TrackInfo(track_id, "video", "avc1.64000C", 90000, 320, 240, codec_config=AVCC),)
    )


async def ffmpeg_frames(url: str, timeout: float) -> tuple[dict[int, list[int]], str]:
    """Decode the whole playlist from its first segment (an EVENT playlist without ENDLIST
    looks live to ffmpeg, which would start near the end); pts per stream and ffmpeg's errors."""
    require("ffmpeg")
    process = await asyncio.create_subprocess_exec(
        "ffmpeg",
        "-nostdin",
        "-v",
        "error",
        "-live_start_index",
        "0",
        "-i",
        url,
        "-f",
        "framemd5",
        "-",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    pts: dict[int, list[int]] = {}
    for line in out.decode().splitlines():
        if line and not line.startswith("#"):
            row = line.split(",")
            pts.setdefault(int(row[0]), []).append(int(row[2]))
    return pts, err.decode()


def segment_uris(text: str) -> list[str]:
    return re.findall(r"^(r[0-9a-f]+-seg\d+\.m4s\S*)$", text, re.MULTILINE)


def durations(text: str) -> list[float]:
    return [float(value) for value in re.findall(r"#EXTINF:([\d.]+),", text)]


def dates(text: str) -> list[float]:
    return [datetime.fromisoformat(value).timestamp() for value in re.findall(r"#EXT-X-PROGRAM-DATE-TIME:(\S+)", text)]


def keyframe_near(emulator, at: float) -> float:
    """The emulator's keyframe nearest `at` (match `c`): 1 s GOPs from its start."""
    return emulator.epoch_wall + round(at - emulator.epoch_wall)


# -- sans-IO ---------------------------------------------------------------------------------


def test_event_playlist_lists_every_segment_then_endlist():
    segments = [
        PlaylistSegment("r1-seg0.m4s?token=x", 2.0, 1457643660.057, False, "r1-init1.mp4?token=x"),
        PlaylistSegment("r1-seg1.m4s?token=x", 1.5, 1457643662.057, False, "r1-init1.mp4?token=x"),
        PlaylistSegment("r1-seg2.m4s?token=x", 2.0, 1457643663.8, True, "r1-init2.mp4?token=x"),
    ]
    growing = render_event(segments, 2, ended=False)
    assert growing.splitlines()[:6] == [
        "#EXTM3U",
        "#EXT-X-VERSION:6",
        "#EXT-X-TARGETDURATION:2",
        "#EXT-X-PLAYLIST-TYPE:EVENT",
        "#EXT-X-MEDIA-SEQUENCE:0",
        '#EXT-X-MAP:URI="r1-init1.mp4?token=x"',
    ]
    assert "#EXT-X-INDEPENDENT-SEGMENTS" not in growing  # a long GOP is cut mid-GOP (segmenter.py)
    assert "#EXT-X-ENDLIST" not in growing and "PART" not in growing and "SERVER-CONTROL" not in growing
    assert growing.count("#EXT-X-MAP:") == 2  # again only where the init changes
    assert "#EXT-X-PROGRAM-DATE-TIME:2016-03-10T21:01:00.057Z\n#EXTINF:2," in growing
    assert '#EXT-X-MAP:URI="r1-init2.mp4?token=x"\n#EXT-X-DISCONTINUITY\n' in growing
    assert render_event(segments, 2, ended=True) == growing + "#EXT-X-ENDLIST\n"


async def test_a_recording_ends_at_its_duration_bound():
    at = parse_time("2016-03-10T21:01:00.057Z")
    recording = Recording("1", "cam", "high", at, RecordingLimits(max_seconds=3.0, segment_min_duration=1.0))
    recording.feed(upstream_init())
    for fragment in upstream_fragments(5.0):
        recording.feed(fragment)
    segmenter = recording.segmenter
    assert recording.ended == "reached 3 s"
    assert [segment.duration for segment in segmenter.segments] == pytest.approx([1.0, 1.0, 1.0])
    # PROGRAM-DATE-TIME: the requested time for the first frame, media time after it
    assert [segment.program_date_time for segment in segmenter.segments] == pytest.approx(
        [1457643660.057, 1457643661.057, 1457643662.057]
    )
    text = recording.playlist("").decode()
    assert text.endswith("#EXT-X-ENDLIST\n") and segment_uris(text) == ["r1-seg0.m4s", "r1-seg1.m4s", "r1-seg2.m4s"]
    assert recording.counters.bytes_held == sum(len(s.data) for s in segmenter.segments)
    recording.close()


async def test_a_recording_ends_at_its_byte_bound_and_never_holds_more():
    limits = RecordingLimits(max_bytes=2500, segment_min_duration=1.0)
    recording = Recording("2", "cam", "high", parse_time("20160310T210100Z,l"), limits)
    recording.feed(upstream_init())
    for fragment in upstream_fragments(5.0):  # 100 bytes a frame (+16 in the trun)
        recording.feed(fragment)
    assert recording.ended == "reached 2500 bytes"
    segmenter = recording.segmenter
    held = sum(len(segment.data) for segment in segmenter.segments)
    assert held == recording.counters.bytes_held
    assert 2500 - 2 * 116 - 128 < held <= 2500  # full, and never over, moof headers included
    # the cut segment was closed as it was, and holds whole frames a player can read
    events = Fmp4Reader().feed(segmenter.inits[1] + b"".join(segment.data for segment in segmenter.segments))
    frames = [sample for event in events[1:] for sample in event.samples]
    assert len(frames) == round(sum(segment.duration for segment in segmenter.segments) * FPS)
    assert frames[0].is_keyframe and frames[15].is_keyframe
    recording.close()


# -- the gateway in front of the emulator ----------------------------------------------------------


@pytest.fixture
def recordings(gateway):
    registry = gateway.app[RECORDINGS]
    registry.limits = RecordingLimits(max_seconds=4.0, segment_min_duration=1.0)
    return registry


@pytest.fixture
async def http():
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


async def until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_ffmpeg_decodes_the_whole_recording_until_endlist(emulator, gateway_url, recordings, http):
    camera = emulator.camera_ids[0]
    at = time.time() - 5
    url = f"{gateway_url}/hls/{camera}/high/playlist.m3u8?t={iso(at)}&token=abc"
    async with http.get(url) as response:
        assert response.status == 200  # waits for the first segment, as live does
        assert response.headers["Content-Type"] == "application/vnd.apple.mpegurl"
        assert response.headers["Cache-Control"] == "no-cache"
        first = await response.text()
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in first and "#EXT-X-PART" not in first
    # PROGRAM-DATE-TIME: the camera's time of the keyframe WEP started at (its prft), not `t`
    assert dates(first)[0] == pytest.approx(keyframe_near(emulator, at), abs=0.002)
    assert segment_uris(first)[0].startswith("r") and segment_uris(first)[0].endswith("-seg0.m4s?token=abc")
    assert re.search(r'#EXT-X-MAP:URI="r[0-9a-f]+-init1\.mp4\?token=abc"', first)

    # ffmpeg starts at the first segment and reads as the playlist grows until ENDLIST
    streams, errors = await ffmpeg_frames(url, 30)
    video, audio = streams[0], streams.get(1, [])
    async with http.get(url) as response:
        final = await response.text()
    assert final.endswith("#EXT-X-ENDLIST\n")
    assert sum(durations(final)) == pytest.approx(4.0, abs=0.01)  # the bound, to the frame
    assert errors == ""
    assert len(video) == round(sum(durations(final)) * FPS)  # every frame of the recording, once
    assert all(b > a for a, b in itertools.pairwise(video)), "video timestamps go backwards"
    # the camera's audio (AAC, 1024 samples a frame at 48 kHz) along the whole recording
    assert len(audio) >= 4.0 * 48000 / 1024 * 0.8 and all(b > a for a, b in itertools.pairwise(audio))

    # one upstream pull each for video and audio, closed at the bound; the recording closes
    # once nobody asks
    assert emulator.stats["media_connections"] == {f"{camera}/fmp4/high": 1, f"{camera}/webm/-": 1}
    await until(lambda: emulator.stats["open_streams"] == 0)
    await until(lambda: not recordings.running())
    async with http.get(f"{gateway_url}/hls/{camera}/high/{segment_uris(final)[0]}") as response:
        assert response.status == 404


async def test_players_of_one_time_share_one_pull(emulator, gateway_url, recordings, http):
    camera, other = emulator.camera_ids[:2]
    at = time.time() - 3
    base = f"{gateway_url}/hls/{camera}/high"
    spellings = [f"t={iso(at)}", f"t={iso(at, basic=True)},c"]  # one recording, two spellings
    answers = await asyncio.gather(*(http.get(f"{base}/playlist.m3u8?{query}") for query in spellings * 2))
    texts = [await answer.text() for answer in answers]
    assert all(answer.status == 200 for answer in answers)
    names = {segment_uris(text)[0] for text in texts}
    assert len(names) == 1
    assert emulator.stats["media_connections"] == {f"{camera}/fmp4/high": 1, f"{camera}/webm/-": 1}
    assert [r.counters.connections for r in recordings.running()] == [1]
    # ... and /metrics shows it, apart from the live sources
    async with http.get(f"{gateway_url}/metrics") as response:
        metrics = await response.text()
    assert "wepgw_hls_recordings 1.0" in metrics
    assert f'wepgw_hls_recording_connections_total{{camera="{camera}",quality="high"}} 1.0' in metrics

    # another match criterion is another recording, with its own names
    async with http.get(f"{base}/playlist.m3u8?t={iso(at)},g") as response:
        assert segment_uris(await response.text())[0] not in names
    assert len(recordings.running()) == 2

    # a recording's media is reachable only under its own camera and quality
    name = names.pop()
    async with http.get(f"{base}/{name}") as response:
        assert response.status == 200 and response.headers["Cache-Control"].endswith("immutable")
        assert (await response.read())[4:8] == b"moof"
    for wrong in (f"{gateway_url}/hls/{other}/high/{name}", f"{gateway_url}/hls/{camera}/low/{name}"):
        async with http.get(wrong) as response:
            assert response.status == 404

    # t=live is the live LL-HLS playlist
    async with http.get(f"{base}/playlist.m3u8?t=live") as response:
        assert "#EXT-X-PART-INF" in await response.text()


BAD_TIMES = [
    "yesterday",
    "2016-03-10T21:01:00",
    "2016-03-10T21:01:00Z,x",
    "2016-13-10T21:01:00Z",
    "1969-12-31T23:59:59Z",
    "2999-01-01T00:00:00Z",
]


async def test_a_bad_time_is_400_naming_t_and_nothing_goes_upstream(emulator, gateway_url, recordings, http):
    url = f"{gateway_url}/hls/{emulator.camera_ids[0]}/high/playlist.m3u8"
    for value in BAD_TIMES:
        async with http.get(url, params={"t": value}) as response:
            assert response.status == 400, value
            error = (await response.json())["error"]
        assert error["code"] == "bad_request" and error["message"].startswith("t "), error
    async with http.get(f"{url}?t=2016-03-10T21:01:00Z&t=2016-03-10T21:01:01Z") as response:
        assert response.status == 400
        assert (await response.json())["error"]["message"] == "t is given more than once"
    assert emulator.stats["media_connections"] == {}
    assert not recordings.running()


async def test_no_recording_at_that_time_is_404(emulator, gateway_url, recordings, http):
    # within FUTURE_LIMIT the gateway asks WEP, which has nothing recorded yet (404)
    url = f"{gateway_url}/hls/{emulator.camera_ids[0]}/high/playlist.m3u8"
    async with http.get(url, params={"t": iso(time.time() + 30)}) as response:
        assert response.status == 404
        assert (await response.json())["error"]["message"] == "no recorded video at that time"
    assert not recordings.running()


async def test_an_upstream_drop_resumes_after_the_last_frame_as_a_discontinuity(
    emulator, gateway_url, recordings, http
):
    recordings.limits = RecordingLimits(max_seconds=30.0, segment_min_duration=1.0)
    at = time.time() - 10
    url = f"{gateway_url}/hls/{emulator.camera_ids[0]}/high/playlist.m3u8?t={iso(at)}"
    async with http.get(url) as response:
        assert response.status == 200
    [recording] = recordings.running()
    assert emulator.drop_streams() == 2  # its video and its audio
    await until(lambda: recording.counters.connections == 2 and len(recording.segmenter.segments) >= 3)
    async with http.get(url) as response:
        text = await response.text()
    assert "#EXT-X-DISCONTINUITY" in text and "#EXT-X-ENDLIST" not in text
    segments = list(recording.segmenter.segments)
    cut = next(i for i, segment in enumerate(segments) if segment.discontinuity)
    before, resumed = segments[cut - 1], segments[cut]
    # WEP resumed at the first keyframe after the last frame received (`g`): timestamps go
    # on from there, and PROGRAM-DATE-TIME says the camera time of that keyframe, within a
    # GOP (1 s) past where the last frame before the drop ended
    ended = before.program_date_time + before.duration
    assert ended - 0.002 <= resumed.program_date_time <= ended + 1.002
    assert resumed.program_date_time == pytest.approx(keyframe_near(emulator, resumed.program_date_time), abs=0.002)
    assert resumed.start_time == before.start_time + round(before.duration * 90000)


async def test_a_recording_whose_upstream_keeps_failing_ends_after_its_retries(emulator, gateway_url, recordings, http):
    # The live sources' loop (media/reconnect.keep_pulling) with a bound: more than
    # max_reconnects connections in a row that deliver nothing, then ENDLIST; causes counted as live's.
    recordings.limits = RecordingLimits(max_seconds=30.0, segment_min_duration=1.0, max_reconnects=2)
    url = f"{gateway_url}/hls/{emulator.camera_ids[0]}/high/playlist.m3u8?t={iso(time.time() - 10)}"
    async with http.get(url) as response:
        assert response.status == 200
    [recording] = recordings.running()
    emulator.fail_next(1000)
    emulator.drop_streams()
    for _ in range(30):  # a player polling, as it would (an idle recording is closed)
        async with http.get(url) as response:
            assert response.status == 200
        if recording.ended is not None:
            break
        await asyncio.sleep(0.5)
    assert recording.ended == "upstream lost (upstream_503)"
    assert recording.counters.reconnect_causes["upstream_503"] == 2  # the third 503 in a row gave up
    assert recording.counters.reconnects == 3  # and the drop itself
    async with http.get(url) as response:
        text = await response.text()
    assert response.status == 200 and text.rstrip().endswith("#EXT-X-ENDLIST")
    assert segment_uris(text)  # what came before the drop is still served
    emulator.fail_next(0)


async def test_recordings_past_the_limit_are_503_and_the_open_one_is_still_shared(
    emulator, gateway_url, recordings, http
):
    recordings.limits = RecordingLimits(max_seconds=4.0, segment_min_duration=1.0, max_recordings=1)
    url = f"{gateway_url}/hls/{emulator.camera_ids[0]}/high/playlist.m3u8"
    at = time.time() - 3
    async with http.get(url, params={"t": iso(at)}) as response:
        assert response.status == 200
    async with http.get(url, params={"t": iso(at - 60)}) as response:
        assert response.status == 503 and response.headers["Retry-After"] == "5"
        assert (await response.json())["error"]["code"] == "too_many_recordings"
    async with http.get(url, params={"t": iso(at)}) as response:
        assert response.status == 200  # the open one is shared, not refused
    assert emulator.stats["media_connections"] == {
        f"{emulator.camera_ids[0]}/fmp4/high": 1,
        f"{emulator.camera_ids[0]}/webm/-": 1,
    }
