"""The clip library: uploads decoded once to 8 kHz mu-law WAVs that ffprobe reads, names
unique, clips found again by a new library on the same directory, crash leftovers swept."""

from __future__ import annotations

import json
import struct
import subprocess

import pytest

from gateway.rules.clips import ClipGone, ClipLibrary, ClipNameError, ClipNameTaken, mulaw_samples, mulaw_wav
from gateway.talkdown.file_playback import DamagedAudio, decode_upload
from tests.conftest import require
from tests.talkdown.audio import dominant_hz, encoded_bytes, tone, wav_bytes
from transcoders.pcmu import UnsupportedAudio

UPLOADS = {
    "wav": lambda: wav_bytes(tone(1.0, 16000, freq=500.0), 16000),
    "ogg": lambda: encoded_bytes(tone(1.0, 48000, freq=500.0), 48000, "ogg", "libopus"),
    "mp3": lambda: encoded_bytes(tone(1.0, 44100, freq=500.0), 44100, "mp3", "libmp3lame"),
}


def ffprobe_stream(path) -> dict:
    require("ffprobe")
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    probe = json.loads(result.stdout)
    return {**probe["streams"][0], "format_name": probe["format"]["format_name"]}


@pytest.mark.parametrize("kind", sorted(UPLOADS))
async def test_an_upload_is_kept_as_an_8_khz_mulaw_wav_ffprobe_reads(tmp_path, kind):
    library = ClipLibrary(tmp_path / "clips")
    upload = UPLOADS[kind]()
    clip = await library.add(f"warning {kind}", upload)

    expected = decode_upload(upload, 300.0)
    assert (
        clip.name == f"warning {kind}"
        and clip.bytes == len(expected)
        and clip.seconds == round(len(expected) / 8000, 3)
    )
    assert 0.95 <= clip.seconds <= 1.1  # encoder priming and padding
    assert len(clip.id) == 8 and clip.created_at.endswith("Z")
    stream = ffprobe_stream(tmp_path / "clips" / f"{clip.id}.wav")
    assert (stream["format_name"], stream["codec_name"], stream["codec_tag"]) == ("wav", "pcm_mulaw", "0x0007")
    assert (stream["sample_rate"], stream["channels"], stream["duration_ts"]) == ("8000", 1, len(expected))
    pcmu = await library.pcmu(clip)
    assert pcmu == expected  # decoded once, stored as it was decoded
    assert abs(dominant_hz(pcmu) - 500) <= 10


async def test_list_get_resolve_delete_and_a_new_library_finds_the_clips(tmp_path):
    library = ClipLibrary(tmp_path)
    first = await library.add("intruder", UPLOADS["wav"]())
    second = await library.add("  leave now ", UPLOADS["wav"]())
    assert second.name == "leave now"  # surrounding blanks are not part of a name
    assert [clip.id for clip in await library.list()] == [first.id, second.id]
    assert await library.get(first.id) == first and await library.get("nope") is None
    assert await library.resolve("intruder") == first and await library.resolve(second.id) == second
    assert await library.resolve("nobody") is None

    again = ClipLibrary(tmp_path)
    assert await again.list() == [first, second]
    assert await again.pcmu(first) == await library.pcmu(first)

    assert await again.delete(first.id) == first
    assert await again.delete(first.id) is None
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([f"{second.id}.wav", f"{second.id}.json"])
    with pytest.raises(ClipGone):
        await library.pcmu(first)
    assert await ClipLibrary(tmp_path).list() == [second]
    # The name is free again.
    assert (await again.add("intruder", UPLOADS["wav"]())).name == "intruder"


async def test_what_a_crash_leaves_is_swept_and_never_shown(tmp_path):
    library = ClipLibrary(tmp_path)
    kept = await library.add("kept", UPLOADS["wav"]())
    (tmp_path / "halfway.wav.1a2b3c4d.tmp").write_bytes(b"RIFF")  # a write cut short
    (tmp_path / "orphan.wav").write_bytes(mulaw_wav(bytes(800)))  # an add cut before its sidecar
    (tmp_path / "lost.json").write_text(json.dumps({**kept.public(), "id": "lost", "name": "lost"}))  # no WAV
    (tmp_path / "bad.json").write_text("{not json")
    assert await ClipLibrary(tmp_path).list() == [kept]
    assert not (tmp_path / "orphan.wav").exists() and not list(tmp_path.glob("*.tmp"))


async def test_names_are_unique_and_printable(tmp_path):
    library = ClipLibrary(tmp_path)
    await library.add("siren", UPLOADS["wav"]())
    with pytest.raises(ClipNameTaken, match="'siren' exists already"):
        await library.add("siren", UPLOADS["wav"]())
    for name in ("", "   ", "x" * 65, "line\nbreak", "tab\there", None):
        with pytest.raises(ClipNameError, match=r"^name: "):
            await library.add(name, UPLOADS["wav"]())
    assert (await library.add("é" * 64, UPLOADS["wav"]())).name == "é" * 64
    assert len(await library.list()) == 2


async def test_bad_audio_is_refused_and_nothing_is_written(tmp_path):
    library = ClipLibrary(tmp_path / "clips")
    with pytest.raises(UnsupportedAudio):
        await library.add("text", b"this is not audio at all, just some text" * 20)
    whole = UPLOADS["mp3"]()
    with pytest.raises(DamagedAudio, match="truncated"):
        await library.add("cut", whole[: len(whole) // 2])
    assert await library.list() == [] and not (tmp_path / "clips").exists()


def test_the_wav_reader_takes_what_the_writer_makes_and_names_what_is_wrong():
    for samples in (b"", b"\x7f", bytes(range(256)) * 3):
        wav = mulaw_wav(samples)
        assert mulaw_samples(wav) == samples and len(wav) % 2 == 0
        assert struct.unpack_from("<I", wav, 4)[0] == len(wav) - 8
    wav = mulaw_wav(bytes(100))
    cases = [
        (b"RIFX" + wav[4:], "not a RIFF WAVE file"),
        (wav[:-10], "truncated 'data' chunk: 90 of 100 bytes"),
        (wav[:38], "no data chunk"),
        (wav.replace(b"\x07\x00\x01\x00", b"\x01\x00\x01\x00", 1), "not 8 kHz mono"),
    ]
    for damaged, words in cases:
        with pytest.raises(ValueError, match=words):
            mulaw_samples(damaged)
