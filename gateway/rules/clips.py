"""Named audio clips for the talkdown action, kept on disk already decoded.

An upload is decoded once (`file_playback.decode_upload`: PCMU, 8 kHz mono) and stored as
a standard mu-law WAV (WAVE_FORMAT_MULAW, format tag 7) that ffprobe and any player read,
beside a JSON sidecar with its name and measures: `{id}.wav` and `{id}.json`. Each is
written to a temporary file, synced and renamed (os.replace), the WAV first, and a clip
exists once its sidecar does: a crash mid-write leaves at most a temporary file or a WAV
without a sidecar, which `open()` sweeps away. A delete removes the sidecar first for
the same reason.

Decoding is CPU work (an executor); disk work runs in a thread (asyncio.to_thread).
Rules name clips by id or by name (`resolve`); names are unique.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import secrets
import struct
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gateway.talkdown.file_playback import decode_upload

log = logging.getLogger("gateway.rules")

MAX_NAME = 64
PCMU_RATE = 8000  # one byte a sample
WAVE_FORMAT_MULAW = 7


class ClipNameError(ValueError):
    """The clip's name is missing, blank, too long or not printable (HTTP 400)."""


class ClipNameTaken(Exception):
    """Another clip has this name (HTTP 409)."""


class ClipGone(LookupError):
    """The clip was deleted (its audio is no longer on disk)."""


@dataclass(frozen=True)
class Clip:
    id: str
    name: str
    seconds: float
    bytes: int  # PCMU samples, one byte each: what the speaker is sent
    created_at: str  # ISO 8601, UTC

    def public(self) -> dict:
        return dataclasses.asdict(self)


# -- the WAV file (sans-IO) ------------------------------------------------------------------


def _riff_chunk(tag: bytes, body: bytes) -> bytes:
    return tag + struct.pack("<I", len(body)) + body + b"\0" * (len(body) % 2)  # chunks are word-aligned


def mulaw_wav(pcmu: bytes) -> bytes:
    """8 kHz mono mu-law samples as a WAV file."""
    # RIFF WAVE (Microsoft, "Multimedia Programming Interface and Data Specifications 1.0"
    # and its 1994 update): a non-PCM format has an 18-byte fmt chunk (cbSize 0) and a
    # fact chunk with the number of samples.
    fmt = struct.pack("<HHIIHHH", WAVE_FORMAT_MULAW, 1, PCMU_RATE, PCMU_RATE, 1, 8, 0)
    chunks = _riff_chunk(b"fmt ", fmt) + _riff_chunk(b"fact", struct.pack("<I", len(pcmu))) + _riff_chunk(b"data", pcmu)
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def mulaw_samples(wav: bytes) -> bytes:
    """The samples of an 8 kHz mono mu-law WAV; ValueError for anything else."""
    if len(wav) < 12 or wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise ValueError("not a RIFF WAVE file")
    offset, fmt = 12, None
    while offset + 8 <= len(wav):
        tag = wav[offset : offset + 4]
        (size,) = struct.unpack_from("<I", wav, offset + 4)
        body = wav[offset + 8 : offset + 8 + size]
        if len(body) < size:
            raise ValueError(f"truncated {tag.decode('latin-1')!r} chunk: {len(body)} of {size} bytes")
        if tag == b"fmt " and size >= 16:
            fmt = struct.unpack_from("<HHIIHH", body)
        elif tag == b"data":
            if fmt is None or fmt[:3] != (WAVE_FORMAT_MULAW, 1, PCMU_RATE) or fmt[5] != 8:
                raise ValueError(f"not 8 kHz mono mu-law (fmt {fmt})")
            return body
        offset += 8 + size + size % 2
    raise ValueError("no data chunk")


def clip_name(name: str | None) -> str:
    """The name as stored (surrounding blanks dropped); ClipNameError naming what is wrong."""
    name = (name or "").strip()
    if not name:
        raise ClipNameError("name: required, 1 to 64 printable characters")
    if len(name) > MAX_NAME:
        raise ClipNameError(f"name: at most {MAX_NAME} characters, got {len(name)}")
    if not name.isprintable():
        raise ClipNameError("name: printable characters only (no control characters or line breaks)")
    return name


# -- the library ---------------------------------------------------------------------------------


class ClipLibrary:
    """The clips of one directory; `open()` reads them (the first call does it otherwise)."""

    def __init__(self, directory: str | os.PathLike, max_seconds: float = 300.0, executor: Executor | None = None):
        self._dir = Path(directory)
        self._max_seconds = max_seconds  # audio past this is not kept ([talkdown] max_file_seconds)
        self._executor = executor  # decoding; None: the loop's default executor
        self._clips: dict[str, Clip] = {}
        self._lock = asyncio.Lock()  # adds and deletes, one at a time (names stay unique)
        self._opened = False

    @property
    def directory(self) -> Path:
        return self._dir

    async def open(self) -> None:
        async with self._lock:
            if not self._opened:
                self._clips = await asyncio.to_thread(self._load)
                self._opened = True

    async def list(self) -> list[Clip]:
        """Every clip, oldest first."""
        await self.open()
        return sorted(self._clips.values(), key=lambda clip: (clip.created_at, clip.id))

    async def get(self, clip_id: str) -> Clip | None:
        await self.open()
        return self._clips.get(clip_id)

    async def resolve(self, ref: str) -> Clip | None:
        """The clip a rule names: by id, else by name."""
        await self.open()
        clip = self._clips.get(ref)
        if clip is None:
            clip = next((clip for clip in self._clips.values() if clip.name == ref), None)
        return clip

    async def add(self, name: str, data: bytes) -> Clip:
        """Decode an uploaded WAV / Ogg / MP3 once and keep it.

        ClipNameError, ClipNameTaken; UnsupportedAudio or DamagedAudio from the decoder.
        """
        name = clip_name(name)
        await self.open()
        self._check_free(name)  # before the decoding work
        pcmu = await asyncio.get_running_loop().run_in_executor(self._executor, decode_upload, data, self._max_seconds)
        async with self._lock:
            self._check_free(name)  # another upload of the name may have finished meanwhile
            clip_id = secrets.token_urlsafe(6)
            while clip_id in self._clips:
                clip_id = secrets.token_urlsafe(6)
            created = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            clip = Clip(clip_id, name, round(len(pcmu) / PCMU_RATE, 3), len(pcmu), created)
            await asyncio.to_thread(self._write, clip, pcmu)
            self._clips[clip.id] = clip
        log.info("clip %r added: %s, %.1f s", clip.name, clip.id, clip.seconds)
        return clip

    async def delete(self, clip_id: str) -> Clip | None:
        """Remove a clip; None if there is no such clip."""
        await self.open()
        async with self._lock:
            clip = self._clips.get(clip_id)
            if clip is None:
                return None
            await asyncio.to_thread(self._remove, clip)
            del self._clips[clip_id]
        log.info("clip %r deleted: %s", clip.name, clip.id)
        return clip

    async def pcmu(self, clip: Clip) -> bytes:
        """The clip's samples (PCMU, 8 kHz mono), read back from its WAV; ClipGone once deleted."""
        try:
            wav = await asyncio.to_thread(self._wav_path(clip.id).read_bytes)
        except FileNotFoundError:
            raise ClipGone(f"clip {clip.name!r} was deleted") from None
        return mulaw_samples(wav)

    def _check_free(self, name: str) -> None:
        holder = next((clip for clip in self._clips.values() if clip.name == name), None)
        if holder is not None:
            raise ClipNameTaken(f"a clip named {name!r} exists already ({holder.id})")

    # -- on disk (in a thread) ---------------------------------------------------------------

    def _wav_path(self, clip_id: str) -> Path:
        return self._dir / f"{clip_id}.wav"

    def _meta_path(self, clip_id: str) -> Path:
        return self._dir / f"{clip_id}.json"

    def _write(self, clip: Clip, pcmu: bytes) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        _write_atomically(self._wav_path(clip.id), mulaw_wav(pcmu))
        _write_atomically(self._meta_path(clip.id), json.dumps(clip.public(), ensure_ascii=False).encode())

    def _remove(self, clip: Clip) -> None:
        self._meta_path(clip.id).unlink(missing_ok=True)  # first: the clip is gone from here on
        self._wav_path(clip.id).unlink(missing_ok=True)

    def _load(self) -> dict[str, Clip]:
        if not self._dir.is_dir():
            return {}
        for path in self._dir.glob("*.tmp"):  # a write a crash interrupted
            path.unlink(missing_ok=True)
        found: list[Clip] = []
        for path in self._dir.glob("*.json"):
            try:
                clip = Clip(**json.loads(path.read_bytes()))
            except (ValueError, TypeError) as exc:
                log.warning("clip sidecar %s unreadable, skipped: %s", path.name, exc)
                continue
            if clip.id != path.stem or not self._wav_path(clip.id).is_file():
                log.warning("clip sidecar %s does not match a WAV file, skipped", path.name)
                continue
            found.append(clip)
        clips: dict[str, Clip] = {}
        names: set[str] = set()
        for clip in sorted(found, key=lambda clip: (str(clip.created_at), clip.id)):
            if clip.name in names:  # only by hand: the oldest keeps the name
                log.warning("clip %s: the name %r is taken by an older clip, skipped", clip.id, clip.name)
                continue
            clips[clip.id] = clip
            names.add(clip.name)
        for path in self._dir.glob("*.wav"):
            if not self._meta_path(path.stem).exists():  # an add or a delete a crash interrupted
                path.unlink(missing_ok=True)
        log.info("%d clips in %s", len(clips), self._dir)
        return clips


def _write_atomically(path: Path, content: bytes) -> None:
    temporary = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temporary, "xb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)
