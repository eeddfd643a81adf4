"""RTSP pulls from an Amcrest/Dahua camera with FFmpeg's RTSP client (PyAV), over TCP
interleaved (RFC 2326 10.12: the robust transport through NAT and firewalls).

FFmpeg does RTSP, Digest auth and RTP depacketizing; PyAV's demux blocks, so each pull
reads in a thread of its own and hands packets to the loop (`call_soon_threadsafe`, one
wake-up per packet: 15-30 video frames or 50 audio packets a second). The hand-over is
bounded: if the loop falls `MAX_QUEUED` packets behind, the oldest are dropped and
counted, and the reader thread never waits on the loop.

Errors become `UpstreamFailure` with a cause and one line naming the camera, never the
URL (it carries the password).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Literal, overload
from urllib.parse import quote

import av
import av.error

from gateway.backends.base import AudioFrame, AudioTrack, UpstreamFailure
from gateway.media.annexb_track import TIMESCALE, AnnexBTrack
from gateway.media.fmp4.model import Fragment, InitSegment

log = logging.getLogger("gateway.backends.amcrest")

MAX_QUEUED = 512
AUDIO_RUN_MS = 80.0  # pts span of the audio handed over at once
_END = object()  # the reader thread's last item
# FFmpeg codec names the gateway forwards or carries.
AUDIO_CODECS = {"aac": "aac", "pcm_alaw": "pcma", "pcm_mulaw": "pcmu"}


@dataclass(frozen=True)
class RtspTarget:
    camera_id: str
    host: str
    port: int
    username: str
    password: str
    channel: int

    def url(self, subtype: int) -> str:
        # userinfo per RFC 3986 3.2.1: reserved characters of the password percent-encoded.
        auth = f"{quote(self.username, safe='')}:{quote(self.password, safe='')}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"rtsp://{auth}{host}:{self.port}/cam/realmonitor?channel={self.channel}&subtype={subtype}"

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def subtype_of(quality: str) -> int:
    return 0 if quality == "high" else 1


def failure_of(target: RtspTarget, exc: BaseException) -> UpstreamFailure:
    """An FFmpeg/PyAV error as the seam's failure: a cause and one line without the URL."""
    name = f"camera {target.camera_id!r}"
    if isinstance(exc, UpstreamFailure):
        return exc
    if isinstance(exc, av.error.HTTPUnauthorizedError):
        return UpstreamFailure("auth", f"{name} refused the credentials (RTSP 401 from the camera)")
    if isinstance(exc, (av.error.HTTPForbiddenError,)):
        return UpstreamFailure("auth", f"{name} refused the stream (RTSP 403 from the camera)")
    if isinstance(exc, av.error.HTTPNotFoundError):
        return UpstreamFailure("upstream_404", f"{name} has no such stream (RTSP 404): check channel", 404)
    if isinstance(exc, av.error.ExitError):
        return UpstreamFailure("timeout", f"{name} did not answer at {target.where} in time")
    if isinstance(exc, av.error.FFmpegError):
        code = getattr(exc, "errno", None)
        if code in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ECONNRESET):
            return UpstreamFailure("connection", f"{name} unreachable at {target.where}: {exc.strerror}")
        if code == errno.ETIMEDOUT:
            return UpstreamFailure("timeout", f"{name} did not answer at {target.where} in time")
        return UpstreamFailure(
            "connection", f"{name}: RTSP failed at {target.where}: {exc.strerror or type(exc).__name__}"
        )
    if isinstance(exc, OSError):
        return UpstreamFailure("connection", f"{name} unreachable at {target.where}: {exc.strerror or exc}")
    return UpstreamFailure("bad_media", f"{name}: {type(exc).__name__}: {exc}")


def open_container(
    target: RtspTarget, subtype: int, media: str, open_timeout: float, read_timeout: float
) -> av.container.InputContainer:
    """Blocking: DESCRIBE, SETUP (only `media`: "video" or "audio"), PLAY."""
    options = {
        "rtsp_transport": "tcp",
        "allowed_media_types": media,
        # A camera's SDP carries the parameter sets: a short probe starts the picture sooner.
        "analyzeduration": "500000",
        "probesize": "65536",
        # A silent socket is FFmpeg's own check (microseconds), in C. PyAV's read timeout
        # would run a Python callback under the GIL before every socket read, three reads
        # a packet: at 4 cameras that cost as much as the ingest itself (bench_amcrest.py).
        # A stream that sends something but no media is the loop's check (_ThreadedReader).
        "timeout": str(int(read_timeout * 1_000_000)),
    }
    try:
        return av.open(target.url(subtype), options=options, timeout=(open_timeout, None))
    except Exception as exc:  # noqa: BLE001  PyAV raises its FFmpegError family and OSErrors
        raise failure_of(target, exc) from None


def unsupported_video(camera_id: str, codec: str) -> UpstreamFailure:
    shown = "H.265 (HEVC)" if codec == "hevc" else codec
    return UpstreamFailure(
        "unsupported",
        f"camera {camera_id!r} sends {shown} video; the gateway forwards H.264 only: set the camera's encoder to H.264",
        502,
    )


@contextlib.contextmanager
def rtsp_session(
    target: RtspTarget, subtype: int, media: str, open_timeout: float, read_timeout: float
) -> Iterator[av.container.InputContainer]:
    """Blocking: an open RTSP session; whatever FFmpeg raises inside comes out as one
    UpstreamFailure line, and the session is closed (TEARDOWN) either way."""
    container = open_container(target, subtype, media, open_timeout, read_timeout)
    try:
        yield container
    except UpstreamFailure:
        raise
    except Exception as exc:  # noqa: BLE001  whatever FFmpeg raised, as one line (failure_of)
        raise failure_of(target, exc) from None
    finally:
        container.close()


@overload
def first_stream(container: av.container.InputContainer, kind: Literal["video"], camera_id: str) -> av.VideoStream: ...
@overload
def first_stream(container: av.container.InputContainer, kind: Literal["audio"], camera_id: str) -> av.AudioStream: ...
def first_stream(container: av.container.InputContainer, kind: str, camera_id: str) -> av.stream.Stream:
    stream = next((s for s in container.streams if s.type == kind), None)
    if stream is None:
        raise UpstreamFailure("bad_media", f"camera {camera_id!r} sent no {kind} track")
    return stream


class _ThreadedReader:
    """Runs `produce(self)` in a thread (which hands items over with `put`); the loop takes
    them from `batches()`."""

    def __init__(self, name: str, camera_id: str, first_timeout: float, stall_timeout: float):
        self._name = name
        self._camera_id = camera_id
        self._first_timeout = first_timeout  # the session's set-up, then its first media
        self._stall_timeout = stall_timeout
        self._deadline = 0.0
        self._stalled = False
        self._watchdog: asyncio.TimerHandle | None = None
        self._queue: collections.deque = collections.deque()
        self._wakeup: asyncio.Future | None = None
        self._loop = asyncio.get_running_loop()
        self.stopping = threading.Event()
        self.dropped = 0

    def put(self, item) -> None:  # on the reader thread
        self.put_all((item,))

    def put_all(self, items) -> None:  # on the reader thread: one wake-up for them all
        try:
            self._loop.call_soon_threadsafe(self._deliver, items)
        except RuntimeError:  # the loop closed under a reader still finishing: nobody is left to tell
            self.stopping.set()

    def _deliver(self, items) -> None:  # on the loop
        self._deadline = self._loop.time() + self._stall_timeout
        self._queue.extend(items)
        while len(self._queue) > MAX_QUEUED:
            self._queue.popleft()
            self.dropped += 1
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def _watch(self) -> None:
        if self._loop.time() > self._deadline:
            self._stalled = True
            if self._wakeup is not None and not self._wakeup.done():
                self._wakeup.set_result(None)
            return
        self._watchdog = self._loop.call_later(self._stall_timeout / 4, self._watch)

    def start(self, produce) -> None:
        def run() -> None:
            try:
                produce(self)
                self.put(_END)
            except BaseException as exc:  # noqa: BLE001  handed to the loop side, raised there
                self.put(exc)

        threading.Thread(target=run, name=self._name, daemon=True).start()

    async def batches(self) -> AsyncIterator[list]:
        """Everything the thread handed over since the last batch, in order. Nothing for
        the stall timeout ends the feed with UpstreamFailure("stall"); the thread ends at its
        next packet or at FFmpeg's socket timeout."""
        # One watchdog timer a few times per stall timeout, not a timer per packet.
        self._deadline = self._loop.time() + self._first_timeout
        self._watchdog = self._loop.call_later(self._stall_timeout / 4, self._watch)
        try:
            while True:
                while not self._queue:
                    if self._stalled:
                        raise UpstreamFailure(
                            "stall", f"camera {self._camera_id!r} sent no media for {self._stall_timeout:g}s", 504
                        )
                    self._wakeup = self._loop.create_future()
                    await self._wakeup
                batch = list(self._queue)
                self._queue.clear()
                for index, item in enumerate(batch):
                    if item is _END:
                        if index:
                            yield batch[:index]
                        return
                    if isinstance(item, BaseException):
                        if index:
                            yield batch[:index]
                        raise item
                yield batch
        finally:
            self._watchdog.cancel()
            self.stopping.set()  # the thread stops at its next packet or FFmpeg's socket timeout


class RtspVideoFeed:
    """One RTSP session with only the video set up: InitSegment and Fragment events."""

    def __init__(self, target: RtspTarget, quality: str, open_timeout: float, stall_timeout: float):
        self._target = target
        self._subtype = subtype_of(quality)
        self._open_timeout = open_timeout
        self._stall_timeout = stall_timeout
        self.info: VideoInfo | None = None

    async def events(self) -> AsyncIterator[InitSegment | Fragment]:
        reader = _ThreadedReader(
            f"rtsp {self._target.camera_id}/{self._subtype}",
            self._target.camera_id,
            self._open_timeout + self._stall_timeout,
            self._stall_timeout,
        )
        reader.start(self._demux)
        track: AnnexBTrack | None = None
        async for batch in reader.batches():
            for item in batch:
                if isinstance(item, VideoInfo):
                    self.info = item
                    track = AnnexBTrack(parameter_sets=item.extradata)
                    continue
                data, dts, pts, keyframe = item
                assert track is not None  # the reader hands over VideoInfo before any packet
                for event in track.feed(data, dts, pts, keyframe):
                    yield event

    def _demux(self, reader: _ThreadedReader) -> None:
        target = self._target
        with rtsp_session(target, self._subtype, "video", self._open_timeout, self._stall_timeout) as container:
            stream = first_stream(container, "video", target.camera_id)
            if stream.codec_context.name != "h264":
                raise unsupported_video(target.camera_id, stream.codec_context.name)
            reader.put(
                VideoInfo(
                    bytes(stream.codec_context.extradata or b""),
                    stream.codec_context.width,
                    stream.codec_context.height,
                )
            )
            # Stream ticks to 90 kHz in integers (a Fraction per packet costs more than the rest).
            assert stream.time_base is not None  # FFmpeg's RTSP demuxer sets the RTP clock
            num, den = stream.time_base.numerator * TIMESCALE, stream.time_base.denominator
            # Each RTSP session starts its own clock at zero; the high and low qualities are
            # separate sessions, and HLS wants their variants on one timeline (RFC 8216bis
            # 6.2.4): both are put on the wall clock by the arrival of their first frame.
            wall_offset: int | None = None
            for packet in container.demux(stream):
                if reader.stopping.is_set():
                    return
                if packet.dts is None or packet.size == 0:
                    continue
                if wall_offset is None:
                    wall_offset = round(time.time() * TIMESCALE) - packet.dts * num // den
                dts = packet.dts * num // den + wall_offset
                pts = packet.pts * num // den + wall_offset if packet.pts is not None else dts
                reader.put((bytes(packet), dts, pts, packet.is_keyframe))


@dataclass(frozen=True, slots=True)
class VideoInfo:
    extradata: bytes  # Annex-B SPS/PPS from the SDP
    width: int
    height: int


class RtspAudioFeed:
    """One RTSP session with only the audio set up: AudioTrack, then batches of frames."""

    def __init__(self, target: RtspTarget, open_timeout: float, stall_timeout: float):
        self._target = target
        self._open_timeout = open_timeout
        self._stall_timeout = stall_timeout

    async def batches(self) -> AsyncIterator[list[AudioTrack | AudioFrame]]:
        reader = _ThreadedReader(
            f"rtsp audio {self._target.camera_id}",
            self._target.camera_id,
            self._open_timeout + self._stall_timeout,
            self._stall_timeout,
        )
        reader.start(self._demux)
        async for batch in reader.batches():
            yield batch

    def _demux(self, reader: _ThreadedReader) -> None:
        target = self._target
        with rtsp_session(target, 1, "audio", self._open_timeout, self._stall_timeout) as container:
            stream = first_stream(container, "audio", target.camera_id)
            context = stream.codec_context
            codec = AUDIO_CODECS.get(context.name)
            if codec is None:
                raise UpstreamFailure(
                    "unsupported",
                    f"camera {target.camera_id!r} sends {context.name} audio; the gateway carries AAC and G.711",
                )
            reader.put(AudioTrack(codec, context.sample_rate, context.channels, bytes(context.extradata or b"")))
            assert stream.time_base is not None  # FFmpeg's RTSP demuxer sets the RTP clock
            to_ms = float(stream.time_base) * 1000
            # Audio goes to the loop in runs of AUDIO_RUN_MS, not a wake-up per 20 ms packet:
            # it is transcoded in runs anyway (gateway/media/audio.py TRANSCODE_RUN_MS).
            run: list[AudioFrame] = []
            for packet in container.demux(stream):
                if reader.stopping.is_set():
                    return
                if packet.pts is None or packet.size == 0:
                    continue
                run.append(AudioFrame(bytes(packet), packet.pts * to_ms))
                if run[-1].pts_ms - run[0].pts_ms >= AUDIO_RUN_MS:
                    reader.put_all(run)
                    run = []


@dataclass(frozen=True)
class Probe:
    """What one look at a camera's stream found."""

    codec: str  # FFmpeg's name: "h264", "hevc"...
    width: int
    height: int
    extradata: bytes
    audio: str | None  # the seam's audio codec name, or None


def probe(target: RtspTarget, subtype: int, timeout: float) -> Probe:
    """Blocking: open the stream with every track set up and read what it describes."""
    with rtsp_session(target, subtype, "video+audio", timeout, timeout) as container:
        context = first_stream(container, "video", target.camera_id).codec_context
        audio = next((s for s in container.streams if s.type == "audio"), None)
        return Probe(
            context.name,
            context.width,
            context.height,
            bytes(context.extradata or b""),
            AUDIO_CODECS.get(audio.codec_context.name) if audio is not None else None,
        )
