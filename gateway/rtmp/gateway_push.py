"""`mode: "gateway"`: the hub's H.264 (and AAC) remuxed to FLV and pushed by the gateway.

A push is a hub reader like any other. The reader side stays on the event loop; FFmpeg's
muxing and socket writes run in one thread per connection (`FlvSender`), fed through a
bounded `queue.Queue`. When that queue is full the destination is slower than the camera:
the frame is dropped and the push skips to the next keyframe (counted), so the hub reader
keeps pace and a slow destination never makes the hub drop frames for anyone else.

Unlike /live (gateway/live/pacer.py), a push cannot see or size its kernel send queue:
the socket is FFmpeg's, and PyAV opens the output with avio_open() and no options, so
FFmpeg's tcp `send_buffer_size` never reaches it. Over an uplink slower than the stream
the push falls behind by what tcp_wmem lets that queue grow to (4 MiB by default: ~16 s
at 2 Mbit/s), then FFmpeg's writes wait, this queue fills and frames are dropped to the
next keyframe; a write stuck for FFMPEG_TIMEOUT ends the attempt. Accepted: a push feeds
an ingest server whose own viewers watch seconds behind, not a person watching live.

One call of `run_gateway_push` is one connection attempt; the supervisor retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import av.error

from gateway.media.fmp4.model import InitSegment
from gateway.media.hub import Discontinuity, Frame, HubClosed, HubReader
from gateway.rtmp.push import PushAttemptError, PushContext
from gateway.rtmp.state import BitrateMeter, PushState
from transcoders.flv import FlvRemuxer, FlvRemuxError, FlvTracks

log = logging.getLogger("gateway.rtmp")

FIRST_INIT_TIMEOUT = 15.0  # no video from the camera within this: retry
SEND_QUEUE_FRAMES = 64  # ~2-4 s of video: more lag than that is a slow destination
FFMPEG_TIMEOUT = 10.0  # connect, handshake, or one stuck write
STOP_JOIN_TIMEOUT = 2.0


class FlvSender:
    """One RTMP connection: a thread that owns the FlvRemuxer and drains a bounded queue."""

    _STOP = object()

    def __init__(
        self, url: str, tracks: FlvTracks, loop: asyncio.AbstractEventLoop, on_live: Callable[[], None], name: str
    ):
        self._url = url
        self.tracks = tracks
        self._loop = loop
        self._on_live = on_live
        self.queue: queue.Queue = queue.Queue(maxsize=SEND_QUEUE_FRAMES)
        self.ended: asyncio.Future[str] = loop.create_future()  # result: why the connection ended
        self.bytes_sent = 0
        self.frames_sent = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def offer(self, frame: Frame) -> bool:
        """Queue a frame without waiting; False when the destination is behind."""
        try:
            self.queue.put_nowait(frame.sample)
            return True
        except queue.Full:
            return False

    async def stop(self) -> None:
        """Ask the thread to finish (trailer, close) and wait a little; it is a daemon."""
        while True:
            try:
                self.queue.put_nowait(self._STOP)
                break
            except queue.Full:
                try:
                    self.queue.get_nowait()  # the destination is behind: what is queued is stale
                except queue.Empty:
                    pass
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join, STOP_JOIN_TIMEOUT)

    def _run(self) -> None:
        reason = "stopped"
        remuxer = None
        try:
            remuxer = FlvRemuxer(self._url, self.tracks, timeout=FFMPEG_TIMEOUT)
            live = False
            while True:
                sample = self.queue.get()
                if sample is self._STOP:
                    break
                if remuxer.write(sample):
                    if not live:
                        # The first mux wrote the FLV header: FFmpeg's RTMP client had
                        # connected and the receiver had accepted the publish.
                        live = True
                        self._notify(self._on_live)
                    self.frames_sent += 1
                    self.bytes_sent += len(sample.data)
        except (av.error.FFmpegError, OSError, EOFError) as exc:
            reason = describe_ffmpeg_error(exc, connected=remuxer is not None and remuxer.packets_written > 0)
        except FlvRemuxError as exc:
            reason = str(exc)
        except Exception as exc:  # never let a thread die silently
            reason = f"push thread failed ({type(exc).__name__})"
            log.exception("push thread failed")
        finally:
            if remuxer is not None:
                # The destination may be gone: then the trailer has nowhere to go.
                with contextlib.suppress(Exception):
                    remuxer.close()
            self._notify(_set_result, self.ended, reason)

    def _notify(self, callback, *args) -> None:
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            pass  # the loop closed (shutdown) while this thread was still finishing


def _set_result(future: asyncio.Future[str], reason: str) -> None:
    if not future.done():
        future.set_result(reason)


def describe_ffmpeg_error(exc: BaseException, *, connected: bool) -> str:
    """A one-line reason from errno and FFmpeg's text only: PyAV's str() quotes the URL."""
    code = getattr(exc, "errno", None)
    text = getattr(exc, "strerror", None) or type(exc).__name__
    if code == errno.ECONNREFUSED:
        return "cannot connect: connection refused by the destination host"
    if code in (errno.ETIMEDOUT, errno.EAGAIN) or isinstance(exc, TimeoutError) or "timed out" in text.lower():
        return "destination did not answer in time" if not connected else "destination stopped reading (timeout)"
    if connected:
        if code in (errno.EPIPE, errno.ECONNRESET) or isinstance(exc, EOFError):
            return "destination dropped the connection"
        return f"destination dropped the connection ({text})"
    if code == errno.EIO or isinstance(exc, EOFError):
        # nginx-rtmp (on_publish 403, deny publish) and platforms with a wrong key close the
        # connection during the publish handshake; FFmpeg reports an I/O error or EOF.
        return "destination refused the stream (closed during RTMP publish; check the stream key)"
    return f"cannot publish to the destination ({text})"


async def check_resolvable(url: str) -> None:
    """A clear reason for a host that does not resolve (FFmpeg only says I/O error)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "rtmps" else 1935)
    try:
        await asyncio.get_running_loop().getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) and exc.strerror else type(exc).__name__
        raise PushAttemptError(f"cannot resolve the destination host ({reason})") from None


async def run_gateway_push(ctx: PushContext) -> None:
    """One connection: returns or raises PushAttemptError when it ends."""
    spec, status = ctx.spec, ctx.status
    await check_resolvable(spec.url)
    try:
        reader = ctx.sources.subscribe(spec.camera, spec.quality)
    except HubClosed:  # shutting down: the sources stop before the pushes do
        raise PushAttemptError("the camera's source closed") from None
    with reader:
        init = await _first_init(reader)
        sender = _start_sender(ctx, init)
        base_bytes, base_frames = status.bytes_sent, status.frames_sent
        try:
            reason = await _feed(ctx, reader, sender)
        finally:
            await sender.stop()
            status.bytes_sent = base_bytes + sender.bytes_sent
            status.frames_sent = base_frames + sender.frames_sent
    raise PushAttemptError(reason)


async def _first_init(reader: HubReader) -> InitSegment:
    deadline = time.monotonic() + FIRST_INIT_TIMEOUT
    while True:
        remaining = deadline - time.monotonic()
        try:
            item = await asyncio.wait_for(reader.get(), max(remaining, 0.0))
        except TimeoutError:
            raise PushAttemptError(f"no video from the camera within {FIRST_INIT_TIMEOUT:.0f}s") from None
        except HubClosed:
            raise PushAttemptError("the camera's source closed") from None
        if isinstance(item, InitSegment):
            return item


def tracks_for(init: InitSegment, media: str) -> FlvTracks:
    video = init.track("video")
    audio = init.track("audio")
    if media in ("audio", "both") and audio is None:
        raise PushAttemptError("camera has no audio yet", permanent=True)
    if media in ("video", "both") and video is None:
        raise PushAttemptError("the camera's stream has no video track")
    try:
        return FlvTracks(video if media in ("video", "both") else None, audio if media in ("audio", "both") else None)
    except FlvRemuxError as exc:
        raise PushAttemptError(str(exc), permanent=True) from None


def _start_sender(ctx: PushContext, init: InitSegment) -> FlvSender:
    tracks = tracks_for(init, ctx.spec.media)
    loop = asyncio.get_running_loop()

    def on_live() -> None:
        if ctx.status.state is PushState.STARTING:
            ctx.enter(PushState.LIVE)

    sender = FlvSender(ctx.spec.url, tracks, loop, on_live, name=f"rtmp push {ctx.spec.id}")
    sender.start()
    return sender


async def _feed(ctx: PushContext, reader: HubReader, sender: FlvSender) -> str:
    """Hub to sender until the sender ends (its reason) or the hub changes under us."""
    status = ctx.status
    meter = BitrateMeter()
    tracks = sender.tracks
    wanted = {track.track_id for track in tracks.as_list()}
    base_bytes, base_frames = status.bytes_sent, status.frames_sent
    # Start, and resume after a drop, on a video keyframe (every AAC frame stands alone).
    skipping = tracks.video is not None
    pending: asyncio.Task | None = None
    try:
        while True:
            pending = asyncio.ensure_future(reader.get())
            done, _ = await asyncio.wait({pending, sender.ended}, return_when=asyncio.FIRST_COMPLETED)
            if sender.ended in done:
                return sender.ended.result()
            try:
                item = pending.result()
            except HubClosed:
                return "the camera's source closed"
            finally:
                pending = None
            if isinstance(item, InitSegment):
                if tracks_for(item, ctx.spec.media) != tracks:
                    return "the camera's stream parameters changed; reconnecting"
                continue
            if isinstance(item, Discontinuity):
                skipping = True
                continue
            assert isinstance(item, Frame)
            if item.sample.track_id not in wanted:
                continue
            if skipping:
                if not item.is_keyframe:
                    continue
                skipping = False
            if not sender.offer(item):
                status.frames_dropped += 1
                skipping = tracks.video is not None
            status.bytes_sent = base_bytes + sender.bytes_sent
            status.frames_sent = base_frames + sender.frames_sent
            status.bitrate = meter.sample(time.monotonic(), status.bytes_sent)
    finally:
        if pending is not None:
            pending.cancel()
