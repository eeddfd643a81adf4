"""GET /media in every format, checked by real decoders (ffprobe) and pixel comparison."""

import asyncio
import io
import itertools
import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import av
import numpy as np
import pytest

from tests.emulator.conftest import api, assert_envelope, login, read_for

NS = {"mpd": "urn:mpeg:dash:schema:mpd:2011"}


def probe(path, entries: str, *extra: str) -> list[str]:
    cmd = ["ffprobe", "-v", "error", *extra, "-show_entries", entries, "-of", "csv=p=0", str(path)]
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout.split()


@pytest.mark.parametrize("fragment", ["frame", "gop"])
async def test_live_fmp4_decodes_with_increasing_timestamps_across_the_loop(make_emulator, http, tmp_path, fragment):
    emulator = await make_emulator(fragment=fragment)
    session = await login(http, emulator)
    params = {"session": session, "cameraId": emulator.camera_ids[0], "format": "fmp4", "quality": "low"}
    async with http.get(api(emulator, "media"), params=params) as resp:
        assert resp.status == 200
        assert resp.headers["Transfer-Encoding"] == "chunked"
        body = await read_for(resp, 3.2)  # the loop is 2 s: the loop point is crossed
    path = tmp_path / "live.mp4"
    path.write_bytes(body)
    assert probe(path, "stream=codec_name,profile,width,height") == ["h264,Main,160,90"]
    times = [float(t) for t in probe(path, "packet=dts_time")]
    assert len(times) >= 30  # more than one pass of the loop
    assert all(b > a for a, b in itertools.pairwise(times))
    first_flags = probe(path, "packet=flags")[0]
    assert first_flags.startswith("K")  # joins at a keyframe
    await asyncio.to_thread(
        subprocess.run, ["ffmpeg", "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"], check=True, timeout=60
    )
    assert emulator.stats["media_connections"][f"{emulator.camera_ids[0]}/fmp4/low"] == 1


async def test_mpd_lists_main_tiles_and_audio_with_relative_base_urls(emulator, http, tmp_path):
    session = await login(http, emulator)
    cid = emulator.camera_ids[0]
    async with http.get(api(emulator, "media"), params={"session": session, "cameraId": cid, "format": "mpd"}) as resp:
        root = ET.fromstring(await resp.text())
    sets = root.findall("mpd:Period/mpd:AdaptationSet", NS)
    roles = [s.find("mpd:Role", NS).get("value") for s in sets]
    assert roles == ["main", "supplementary", "supplementary", "supplementary", "supplementary", "main"]
    main = sets[0].findall("mpd:Representation", NS)
    assert [(r.get("width"), r.get("height")) for r in main] == [("320", "180"), ("160", "90")]
    assert all(r.get("codecs").startswith("avc1.4D") for r in main)
    assert sets[1].find("mpd:SupplementalProperty", NS).get("value") == "0,0,0,160,90,320,180"
    assert sets[-1].find("mpd:Representation", NS).get("codecs") == "opus"
    base_url = main[1].find("mpd:BaseURL", NS).text
    assert base_url.startswith("/mt/api/rest/v1/media?ctx=") and f"session={session}" in base_url
    # The BaseURL alone (ctx names the low representation) gives the low stream.
    async with http.get(emulator.url + base_url) as resp:
        body = await read_for(resp, 1.2)
    (tmp_path / "ctx.mp4").write_bytes(body)
    assert probe(tmp_path / "ctx.mp4", "stream=width,height") == ["160,90"]
    # The plain camera has no microphone: no audio AdaptationSet.
    params = {"session": session, "cameraId": emulator.camera_ids[1], "format": "mpd"}
    async with http.get(api(emulator, "media"), params=params) as resp:
        assert "audio/webm" not in await resp.text()


async def test_webm_is_opus_with_increasing_timestamps(emulator, http, tmp_path):
    session = await login(http, emulator)
    params = {"session": session, "cameraId": emulator.camera_ids[0], "format": "webm"}
    async with http.get(api(emulator, "media"), params=params) as resp:
        assert resp.content_type == "audio/webm"
        body = await read_for(resp, 2.6)
    path = tmp_path / "live.webm"
    path.write_bytes(body)
    assert probe(path, "stream=codec_name,sample_rate") == ["opus,48000"]
    times = [float(t) for t in probe(path, "packet=pts_time")]
    assert len(times) > 100  # crossed the 2 s loop point
    assert all(b > a for a, b in itertools.pairwise(times))
    params["cameraId"] = emulator.camera_ids[1]
    async with http.get(api(emulator, "media"), params=params) as resp:
        assert_envelope(await resp.json(), 404, "NOT_FOUND")


def decode_jpeg(data: bytes) -> np.ndarray:
    with av.open(io.BytesIO(data)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24").astype(np.int16)


async def test_jpeg_roi_and_size(emulator, http):
    session = await login(http, emulator)
    cid = emulator.camera_ids[0]
    t = (datetime.now(UTC) - timedelta(seconds=30)).strftime("%Y%m%dT%H%M%S.%f")[:-3] + "Z"

    async def jpeg(**extra) -> np.ndarray:
        params = {"session": session, "cameraId": cid, "format": "jpeg", "t": t, **extra}
        async with http.get(api(emulator, "media"), params=params) as resp:
            assert resp.status == 200 and resp.content_type == "image/jpeg"
            return decode_jpeg(await resp.read())

    full = await jpeg()
    assert full.shape == (180, 320, 3)  # the high quality's picture
    crop = await jpeg(roi="0.5,0,1,0.5")
    assert crop.shape == (90, 160, 3)
    # The crop is the same pixels as that corner of the full picture (up to JPEG loss).
    assert np.abs(crop - full[:90, 160:]).mean() < 6
    assert np.abs(crop - full[:90, :160]).mean() > 3 * np.abs(crop - full[:90, 160:]).mean()
    sized = await jpeg(roi="0.5,0,1,0.5", size="64,32,le")
    assert sized.shape == (32, 64, 3)
    assert (await jpeg(size="100x50")).shape == (50, 100, 3)
    assert emulator.stats["jpeg_renders"][cid] == 4
    params = {"session": session, "cameraId": cid, "format": "jpeg", "roi": "1,1,0,0"}
    async with http.get(api(emulator, "media"), params=params) as resp:
        assert_envelope(await resp.json(), 400, "BAD_REQUEST")


async def test_jpeg_shows_the_video_picture_at_that_time(emulator, http):
    """The live JPEG and a decoded video frame near the same instant look alike, and
    unlike a frame half a loop away (the picture moves)."""
    session = await login(http, emulator)
    cid = emulator.camera_ids[0]
    params = {"session": session, "cameraId": cid, "format": "jpeg", "t": "live"}
    async with http.get(api(emulator, "media"), params=params) as resp:
        still = decode_jpeg(await resp.read())
    media = emulator.library[cid].video["high"]
    frames = []
    with av.open(io.BytesIO(media.mp4)) as container:
        frames = [f.to_ndarray(format="rgb24").astype(np.int16) for f in container.decode(video=0)]
    distances = [np.abs(still - f).mean() for f in frames]
    best = int(np.argmin(distances))
    assert distances[best] < 8
    assert distances[(best + len(frames) // 2) % len(frames)] > 2 * distances[best]


async def test_spkc_for_speaker_and_plain_camera(emulator, http):
    session = await login(http, emulator)
    answers = []
    for cid in emulator.camera_ids:
        params = {"session": session, "cameraId": cid, "format": "spkc"}
        async with http.get(api(emulator, "media"), params=params) as resp:
            answers.append(await resp.json())
    assert answers[0] == {
        "status": "success",
        "result": {"speakerEnabled": True, "availableAudioCodecs": ["audio/PCMU"]},
    }
    assert answers[1] == {"status": "success", "result": {"speakerEnabled": False, "availableAudioCodecs": []}}


async def test_recorded_time_starts_at_zero_and_future_is_not_found(emulator, http, tmp_path):
    session = await login(http, emulator)
    cid = emulator.camera_ids[0]
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    params = {"session": session, "cameraId": cid, "t": past + ",g", "quality": "low"}
    async with http.get(api(emulator, "media"), params=params) as resp:
        body = await read_for(resp, 1.5)
    (tmp_path / "rec.mp4").write_bytes(body)
    times = [float(t) for t in probe(tmp_path / "rec.mp4", "packet=dts_time")]
    assert times[0] == 0.0 and len(times) >= 15
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    async with http.get(api(emulator, "media"), params={**params, "t": future}) as resp:
        assert_envelope(await resp.json(), 404, "NOT_FOUND")


async def test_image_ref_is_a_counted_jpeg(emulator, http):
    session = await login(http, emulator)
    cid = emulator.camera_ids[1]
    params = {"session": session, "cameraId": cid, "imageRefPath": "/x/y", "imageRefType": "FULL"}
    async with http.get(api(emulator, "media/imageRef"), params=params) as resp:
        assert decode_jpeg(await resp.read()).shape == (180, 320, 3)
    async with http.get(api(emulator, "media/imageRef"), params={"session": session, "cameraId": cid}) as resp:
        assert_envelope(await resp.json(), 400, "BAD_REQUEST")
    assert emulator.stats["jpeg_renders"] == {cid: 1}
