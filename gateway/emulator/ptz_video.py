"""The PTZ camera's live H.264, encoded from its current view while someone watches.

The other cameras' live video is a loop encoded once at start-up; the PTZ camera's
picture depends on commands, so its live stream is encoded as it goes: libx264
ultrafast/zerolatency in a thread (no encode on the event loop), started with the first
viewer of a quality and stopped after the last. Frame n shows the view at epoch + n / fps
and is stamped n / fps on the emulator-wide live clock, so decode times count from the
emulator's start as the loops' do. The settings are the loops' (Main profile, 1 s closed
GOP, same VBV; CABAC kept on so ultrafast still signals Main), so the MPD's codecs string
holds. The framing is the loops' too: one moof+mdat per frame, or per GOP.

Each viewer has a bounded queue (VIEWER_QUEUE fragments). When it is full the newest
fragment is dropped and counted, and that viewer then skips to the next keyframe: a gap,
never a broken decode. The encoder never waits for a viewer. A new viewer asks for a
keyframe so that it starts at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from gateway.emulator.encode import VIDEO_TIMESCALE, x264_options
from gateway.media.annexb_track import AnnexBTrack
from gateway.media.fmp4 import Fragment, FragmentWriter, InitSegment, Sample

log = logging.getLogger(__name__)
VIEWER_QUEUE = 64  # fragments waiting per viewer: about 4 s of frames at 15 fps


@dataclass(frozen=True, slots=True)
class LiveSpec:
    width: int
    height: int
    fps: int
    bitrate: int
    fragment: str  # "frame" | "gop", as settings.fragment


class LiveViewer:
    """One open live stream's queue of fMP4 bytes: the init segment, then fragments from a
    keyframe on."""

    def __init__(self, size: int):
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(size)
        self.dropped = 0
        self._has_init = False
        self._synced = False

    def push_init(self, data: bytes) -> None:
        if not self._has_init:
            self._has_init = True
            self.queue.put_nowait(data)  # the first item: the queue is empty

    def push(self, data: bytes, keyframe: bool) -> None:
        if not self._has_init:
            return
        if not self._synced:
            if not keyframe:
                return
            self._synced = True
        try:
            self.queue.put_nowait(data)
        except asyncio.QueueFull:
            self.dropped += 1
            self._synced = False

    async def next(self) -> bytes:
        return await self.queue.get()


class PtzLiveVideo:
    """One quality of the PTZ camera's live picture. `render(t)` gives the RGB view at
    monotonic time `t`; it is called from the encoder thread."""

    def __init__(self, spec: LiveSpec, render: Callable[[float], np.ndarray], epoch: float,
                 queue_size: int = VIEWER_QUEUE):  # fmt: skip
        self.spec = spec
        self._render = render
        self._epoch = epoch
        self._queue_size = queue_size
        self._viewers: set[LiveViewer] = set()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._keyframe_wanted = False  # set on the loop, cleared by the thread
        self.init: bytes | None = None
        self.frames = 0  # encoded, over every run
        self.runs = 0  # encoder starts
        self.dropped = 0  # fragments dropped by viewers that have left

    async def open(self) -> LiveViewer:
        loop = asyncio.get_running_loop()
        while self._thread is not None and self._stopping.is_set():  # the last run is ending
            thread = self._thread
            await loop.run_in_executor(None, thread.join)
            if self._thread is thread:
                self._thread = None
        viewer = LiveViewer(self._queue_size)
        self._viewers.add(viewer)
        if self._thread is None:
            self.init = None
            self._stopping = threading.Event()
            self._thread = threading.Thread(target=self._run, args=(self._stopping, loop), daemon=True,
                                            name=f"emu-ptz-live-{self.spec.height}p")  # fmt: skip
            self.runs += 1
            self._thread.start()
        elif self.init is not None:
            viewer.push_init(self.init)
            self._keyframe_wanted = True
        return viewer

    def close(self, viewer: LiveViewer) -> None:
        if viewer in self._viewers:
            self._viewers.discard(viewer)
            self.dropped += viewer.dropped
        if not self._viewers:
            self._stopping.set()

    async def stop(self) -> None:
        self._stopping.set()
        thread = self._thread
        if thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, thread.join)
            self._thread = None

    def stats(self) -> dict:
        return {
            "viewers": len(self._viewers),
            "encoding": self._thread is not None and not self._stopping.is_set(),
            "runs": self.runs,
            "frames": self.frames,
            "dropped": self.dropped + sum(v.dropped for v in self._viewers),
        }

    # On the event loop -----------------------------------------------------------------
    def _publish_init(self, data: bytes) -> None:
        self.init = data
        for viewer in self._viewers:
            viewer.push_init(data)

    def _publish(self, data: bytes, keyframe: bool) -> None:
        for viewer in self._viewers:
            viewer.push(data, keyframe)

    # In the encoder thread -------------------------------------------------------------
    def _encoder(self) -> av.VideoCodecContext:
        spec = self.spec
        encoder = av.CodecContext.create("libx264", "w")
        assert isinstance(encoder, av.VideoCodecContext)  # the stubs type only FFmpeg's own encoders
        encoder.width, encoder.height, encoder.pix_fmt = spec.width, spec.height, "yuv420p"
        encoder.time_base = Fraction(1, VIDEO_TIMESCALE)
        encoder.framerate = Fraction(spec.fps, 1)
        encoder.bit_rate = spec.bitrate
        encoder.options = x264_options(spec.fps, spec.bitrate, preset="ultrafast", extra=":cabac=1")
        return encoder

    def _run(self, stopping: threading.Event, loop: asyncio.AbstractEventLoop) -> None:
        fps, step = self.spec.fps, VIDEO_TIMESCALE // self.spec.fps
        try:
            encoder, track, writer = self._encoder(), AnnexBTrack(), FragmentWriter()
            gop: list[Sample] = []
            n = int((time.monotonic() - self._epoch) * fps) + 1  # the next frame due
            while not stopping.wait(max(0.0, self._epoch + n / fps - time.monotonic())):
                n = max(n, int((time.monotonic() - self._epoch) * fps))  # late: skip frames
                rgb = self._render(self._epoch + n / fps)
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
                frame.pts, frame.time_base = n * step, Fraction(1, VIDEO_TIMESCALE)
                if self._keyframe_wanted:
                    self._keyframe_wanted = False
                    frame.pict_type = av.video.frame.PictureType.I
                for packet in encoder.encode(frame):
                    assert packet.dts is not None and packet.pts is not None  # the encoder times its packets
                    for event in track.feed(bytes(packet), packet.dts, packet.pts, packet.is_keyframe):
                        self._hand_over(event, writer, gop, loop)
                self.frames += 1
                n += 1
        except Exception:
            if not loop.is_closed():  # else the emulator stopped under us: nothing to tell
                log.exception("PTZ live encoder (%dp) failed", self.spec.height)

    def _hand_over(self, event: InitSegment | Fragment, writer: FragmentWriter, gop: list[Sample],
                   loop: asyncio.AbstractEventLoop) -> None:  # fmt: skip
        if isinstance(event, InitSegment):
            loop.call_soon_threadsafe(self._publish_init, event.data)
            return
        (sample,) = event.samples
        if self.spec.fragment == "frame":
            loop.call_soon_threadsafe(self._publish, writer.write([sample]), sample.is_keyframe)
            return
        if sample.is_keyframe and gop:  # "gop": a fragment is a whole GOP, sent once complete
            loop.call_soon_threadsafe(self._publish, writer.write(gop), True)
            gop.clear()
        if gop or sample.is_keyframe:
            gop.append(sample)
