"""transcoders/flv.py: H.264 and AAC copied into FLV without re-encode, judged by ffprobe."""

from __future__ import annotations

import dataclasses
import io
import subprocess
from fractions import Fraction

import av
import numpy as np
import pytest

from gateway.media.fmp4 import Fmp4Reader, Sample, TrackInfo
from transcoders.flv import FlvRemuxer, FlvRemuxError, FlvTracks

FPS = 15
SECONDS = 2


@pytest.fixture(scope="module")
def camera_media():
    """An fMP4 with H.264 (GOP 15) and AAC, as the hub would carry it: init + samples."""
    buffer = io.BytesIO()
    output = av.open(buffer, "w", format="mp4", options={"movflags": "frag_keyframe+empty_moov+default_base_moof"})
    video = output.add_stream("libx264", rate=FPS, options={"preset": "ultrafast", "g": str(FPS), "bf": "0"})
    video.width, video.height, video.pix_fmt = 160, 96, "yuv420p"
    audio = output.add_stream("aac", rate=48000, layout="mono")
    rng = np.random.default_rng(1)
    for i in range(FPS * SECONDS):
        frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (96, 160, 3), dtype=np.uint8), format="rgb24")
        frame.pts = i
        frame.time_base = Fraction(1, FPS)
        output.mux(video.encode(frame))
    output.mux(video.encode())
    tone = np.sin(2 * np.pi * 440 * np.arange(48000 * SECONDS) / 48000).astype(np.float32)
    for i in range(0, len(tone), 1024):
        frame = av.AudioFrame.from_ndarray(tone[None, i : i + 1024], format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 48000, i
        output.mux(audio.encode(frame))
    output.mux(audio.encode())
    output.close()
    events = list(Fmp4Reader().feed(buffer.getvalue()))
    init, samples = events[0], [sample for fragment in events[1:] for sample in fragment.samples]
    tracks = {track.track_id: track for track in init.tracks}
    # Decode order across tracks, as the hub publishes them.
    samples.sort(key=lambda s: Fraction(s.decode_time, tracks[s.track_id].timescale))
    return init, samples


def ffprobe(data: bytes, tmp_path) -> dict:
    path = tmp_path / "out.flv"
    path.write_bytes(data)
    result = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,codec_type,width,height,nb_read_frames",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and not result.stderr, result.stderr
    return {line.split(",")[1]: line.split(",") for line in result.stdout.split()}


def test_video_and_audio_are_copied_and_decode(camera_media, tmp_path):
    init, samples = camera_media
    target = io.BytesIO()
    remuxer = FlvRemuxer(target, FlvTracks(init.track("video"), init.track("audio")))
    written = sum(remuxer.write(sample) for sample in samples)
    remuxer.close()
    video_samples = [s for s in samples if s.track_id == init.track("video").track_id]
    probed = ffprobe(target.getvalue(), tmp_path)
    assert probed["video"] == ["h264", "video", "160", "96", str(len(video_samples))]
    assert probed["audio"][0] == "aac" and int(probed["audio"][-1]) >= 90
    assert written == remuxer.packets_written and remuxer.packets_dropped <= 1  # AAC before the first keyframe
    # Copied, not re-encoded: the muxer got exactly the hub's bytes.
    assert remuxer.bytes_written == sum(len(s.data) for s in samples) - sum(
        len(s.data) for s in samples[: remuxer.packets_dropped]
    )


def test_starts_at_the_first_keyframe_and_rebases_to_zero(camera_media, tmp_path):
    init, samples = camera_media
    video_id = init.track("video").track_id
    # A push that joins mid-GOP, on a timeline that is hours in.
    late = [dataclasses.replace(s, decode_time=s.decode_time + 10**9) for s in samples[5:]]
    target = io.BytesIO()
    remuxer = FlvRemuxer(target, FlvTracks(init.track("video"), None))
    results = [remuxer.write(s) for s in late if s.track_id == video_id]
    remuxer.close()
    first_key = next(i for i, s in enumerate(s for s in late if s.track_id == video_id) if s.is_keyframe)
    assert results[:first_key] == [False] * first_key and all(results[first_key:])
    path = tmp_path / "late.flv"
    path.write_bytes(target.getvalue())
    start = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=start_time", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.strip()
    assert float(start) == 0.0


def test_backwards_timestamps_are_dropped_not_sent(camera_media):
    init, samples = camera_media
    video = [s for s in samples if s.track_id == init.track("video").track_id]
    remuxer = FlvRemuxer(io.BytesIO(), FlvTracks(init.track("video")))
    assert remuxer.write(video[0]) and remuxer.write(video[1])
    assert not remuxer.write(video[1])  # same dts again
    assert remuxer.packets_dropped == 1
    remuxer.close()


def test_audio_only(camera_media, tmp_path):
    init, samples = camera_media
    target = io.BytesIO()
    remuxer = FlvRemuxer(target, FlvTracks(None, init.track("audio")))
    for sample in samples:
        if sample.track_id == init.track("audio").track_id:
            remuxer.write(sample)
    remuxer.close()
    assert list(ffprobe(target.getvalue(), tmp_path)) == ["audio"]


def test_tracks_flv_cannot_carry_are_refused():
    vp8 = TrackInfo(1, "video", "vp08.00.10.08", 90000, 320, 180)
    with pytest.raises(FlvRemuxError, match=r"FLV carries H\.264 video with an avcC, not 'vp08\.00\.10\.08'"):
        FlvTracks(vp8)
    opus = TrackInfo(2, "audio", "opus", 48000, sample_rate=48000, channels=1, codec_config=b"x")
    with pytest.raises(FlvRemuxError, match=r"FLV audio must be AAC-LC \(mp4a.40.2\)"):
        FlvTracks(None, opus)
    with pytest.raises(FlvRemuxError, match="FLV needs a video or an audio track"):
        FlvTracks(None, None)


def test_a_sample_of_another_track_is_a_clear_error(camera_media):
    init, _ = camera_media
    remuxer = FlvRemuxer(io.BytesIO(), FlvTracks(init.track("video")))
    with pytest.raises(FlvRemuxError, match="sample of track 9"):
        remuxer.write(Sample(9, 0, 1, 0, True, b"x"))
    remuxer.close()
