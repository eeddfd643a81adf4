"""A hub's progressive viewers (`GET /live`), written by one fan-out per hub.

Each item the hub publishes is rendered once (a moof+mdat per frame, numbered hub-wide),
each batch of items is framed once, and the same bytes go to every viewer in one pass:
no task, future, queue or FragmentWriter per viewer. With one of each per viewer, 300
viewers of a 15 fps camera with audio took 40 % of a core, more than 300 LL-HLS players
(bench/bench_live_fanout.py); now a viewer costs a pacer check and a write per batch.

A viewer keeps the rules it had as a hub reader of its own (gateway/media/hub.py) with the
pacer (pacer.py, backlog.py):
- it starts with the init segment and the hub's current GOP, so its first picture is
  immediate, and from a keyframe;
- a frame goes out once the pacer admits it; one not admitted yet waits, with what comes
  after it (up to `[sources] reader_queue_frames` frames: past that they are dropped and
  the viewer waits for the next keyframe, as a reader's overflow), and is offered again
  with the next batch or POLL seconds later;
- a frame that can no longer reach the viewer within `[live] max_delay_s` is dropped with
  what waits behind it up to the newest keyframe waiting (or the next one published):
  one GOP dropped, counted in the hub's counters;
- a viewer that took no bytes for `[live] send_timeout` loses its connection (a reset);
- init segments are never dropped; a discontinuity writes nothing.
The hub counts each viewer as one of its readers (HubReader.add_viewer), as before.

The body is written under aiohttp's response: its head goes out first through aiohttp,
then the fan-out writes the body's chunks (chunked framing when aiohttp chose it) to the
transport and adds them to the writer's `output_size`, which the limits middleware counts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter

from gateway.config import Config
from gateway.live.pacer import POLL, ViewerPacer, ViewerStalled
from gateway.media.fmp4 import FragmentWriter, InitSegment
from gateway.media.hub import Frame, HubClosed, HubItem, HubReader
from gateway.media.sources import SourceRegistry

log = logging.getLogger("gateway.live")

# The fan-out's own hub reader is drained on every loop turn: a deep queue only bridges a
# starved loop, as the HLS muxer's does.
FANOUT_QUEUE_FRAMES = 1024
# Rendered frames kept for viewers that join: the current GOP's, at most this many (an
# audio-only hub has no GOP to reset them).
RENDERED_KEPT = 4096


@dataclass(frozen=True, slots=True)
class Piece:
    """One item as it goes on the wire: a rendered frame or an init segment."""

    data: bytes
    since: float  # when the hub got it (time.monotonic()): the pacer's clock
    frame: bool  # False: an init segment, written whatever the pacing
    resume_point: bool


@dataclass(frozen=True, slots=True)
class Batch:
    """What the hub published since the fan-out last ran, as every viewer that keeps up
    takes it: one pacer check, one write."""

    pieces: list[Piece]
    plain: bytes  # the pieces' bytes
    chunked: bytes  # the same as one HTTP/1.1 chunk
    since: float  # the oldest piece's
    frames_only: bool

    @classmethod
    def of(cls, pieces: list[Piece]) -> Batch:
        plain = pieces[0].data if len(pieces) == 1 else b"".join(piece.data for piece in pieces)
        frames_only = all(piece.frame for piece in pieces)
        return cls(pieces, plain, _wire(plain, True), min(piece.since for piece in pieces), frames_only)


class LiveViewer:
    """One viewer's side of the fan-out: what it skips, what waits for it, its socket."""

    __slots__ = (
        "_chunked",
        "_counters",
        "_limit",
        "_max_delay",
        "_pacer",
        "_skipping",
        "_subscribed",
        "_transport",
        "_writer",
        "done",
        "held",
    )

    def __init__(
        self,
        transport: asyncio.Transport,
        writer: AbstractStreamWriter,  # the response's: the limits middleware counts its output_size
        chunked: bool,
        fanout: LiveFanout,
    ):
        live = fanout.config.live
        self._transport = transport
        self._writer = writer
        self._chunked = chunked
        self._pacer = ViewerPacer(transport, live.max_delay_s, live.send_timeout)
        self._max_delay = live.max_delay_s
        self._limit = fanout.config.sources.reader_queue_frames
        self._counters = fanout.hub.counters
        self._subscribed = time.monotonic()  # the primed GOP is the viewer's from now on
        self._skipping = True  # its first frame must be decodable
        self.held: list[Piece] = []  # not admitted yet, oldest first
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def offer(self, pieces: list[Piece], now: float, batch: Batch | None = None) -> None:
        """Write what of `pieces` (after what was held) the viewer may have now. `batch`:
        the same pieces as the fan-out shares them, for a viewer that keeps up.
        ViewerStalled, or ConnectionResetError once its connection is closing."""
        if self._transport.is_closing():
            raise ConnectionResetError("the viewer's connection is closing")
        backlog = self._pacer.backlog
        if batch is not None and batch.frames_only and not self._skipping and not self.held:
            # The batch as one frame as old as its oldest: one check, one write.
            since = max(self._subscribed, batch.since)
            if self._pacer.admits(now, since, len(batch.plain)):
                backlog.wrote(len(batch.plain), since)
                self._send(batch.chunked if self._chunked else batch.plain)
                return
        if self.held:
            pieces, self.held, batch = self.held + pieces, [], None
        out: list[bytes] = []
        queued = 0  # bytes in `out`: written as far as the backlog knows, not sent yet
        whole = batch is not None  # every piece taken, in order: the batch's bytes are its own
        count, index = len(pieces), 0
        while index < count:
            piece = pieces[index]
            index += 1
            size = len(piece.data)
            if not piece.frame:
                out.append(piece.data)
                queued += size
                backlog.wrote(size, now)
                continue
            if self._skipping:
                if not piece.resume_point:
                    self._dropped(1, 0)
                    whole = False
                    continue
                self._skipping = False
            since = max(self._subscribed, piece.since)
            if self._pacer.admits(now, since, size, queued):
                out.append(piece.data)
                queued += size
                backlog.wrote(size, since)
                continue
            whole = False
            if now - since < self._max_delay:
                self._hold(pieces[index - 1 :])
                break
            pieces = self._skip(pieces[index:])
            count, index = len(pieces), 0
        if not out:
            return
        if whole and batch is not None:
            self._send(batch.chunked if self._chunked else batch.plain)
        else:
            self._send(_wire(out[0] if len(out) == 1 else b"".join(out), self._chunked))

    def _skip(self, waiting: list[Piece]) -> list[Piece]:
        """The frame taken is too late: drop it and what waits behind it up to the newest
        keyframe waiting (or all of it, and wait for the next one). What is left to offer."""
        resume = None
        for index in range(len(waiting) - 1, -1, -1):
            if waiting[index].frame and waiting[index].resume_point:
                resume = index
                break
        if resume is None:
            kept = [piece for piece in waiting if not piece.frame]
            self._skipping = True
        else:
            kept = [piece for piece in waiting[:resume] if not piece.frame] + waiting[resume:]
        self._dropped(1 + len(waiting) - len(kept), 1)
        return kept

    def _hold(self, waiting: list[Piece]) -> None:
        frames = sum(1 for piece in waiting if piece.frame)
        if frames > self._limit:  # a reader's overflow: keep the init segments, skip to a keyframe
            kept = [piece for piece in waiting if not piece.frame]
            self._dropped(len(waiting) - len(kept), 1)
            self._skipping = True
            waiting = kept
        self.held = waiting

    def _dropped(self, frames: int, gops: int) -> None:
        self._counters.frames_dropped += frames
        self._counters.gops_dropped += gops

    def _send(self, wire: bytes) -> None:
        self._writer.output_size += len(wire)
        self._transport.write(wire)

    def abort(self) -> None:
        self._pacer.abort()


def _wire(data: bytes, chunked: bool) -> bytes:
    # RFC 9112 7.1: chunk-size in hex, CRLF, the data, CRLF.
    return b"%x\r\n%s\r\n" % (len(data), data) if chunked else data


class LiveFanout:
    """One hub's /live viewers: a hub reader of its own, shared by all of them."""

    def __init__(self, reader: HubReader, config: Config, camera_id: str):
        self.config = config
        self.camera_id = camera_id
        self.hub = reader.hub
        self.closed = False
        self._reader = reader
        self._members = 1  # requests holding a share of the reader, viewers or soon
        self._viewers: list[LiveViewer] = []
        self._writer = FragmentWriter()  # sequence numbers count hub-wide
        self._rendered: dict[int, tuple[Frame, bytes]] = {}  # by id(): the current GOP's frames
        self._ready = asyncio.Event()
        if self.hub.init is not None:
            self._ready.set()
        self._retry: asyncio.TimerHandle | None = None
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"live {self.hub.name}")

    # -- members and viewers ------------------------------------------------------------
    def add_member(self) -> None:
        self._members += 1
        self._reader.add_viewer()

    def release(self, viewer: LiveViewer | None = None) -> None:
        """A request that `add_member` (or the first) counted has ended, and its viewer, if
        it joined, with it."""
        if viewer is not None:
            self._end(viewer)
        self._members -= 1
        if self.closed:
            return  # the reader is gone already (the hub closed, or shutdown)
        if self._members > 0:
            self._reader.remove_viewer()
        else:
            self.close()

    async def wait_ready(self, timeout: float) -> bool:
        """Until the hub has an init segment (False when `timeout` passes first)."""
        if self._ready.is_set():
            return not self.closed
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            return False
        return not self.closed

    def join(self, request: web.Request, response: web.StreamResponse) -> LiveViewer:
        """A viewer whose response head went out: from here the fan-out writes its body,
        starting with the init segment and the current GOP."""
        transport = request.transport
        assert transport is not None
        self._process(self._queued())  # what is queued goes to the viewers already there
        viewer = LiveViewer(transport, request.writer, response.headers.get("Transfer-Encoding") == "chunked", self)
        now = time.monotonic()
        init = self.hub.init
        primed = [Piece(init.data, now, False, True)] if init is not None else []
        primed += [self._piece(frame) for frame in self.hub.current_gop()]
        self._viewers.append(viewer)
        self._offer(viewer, primed, now)
        return viewer

    def _end(self, viewer: LiveViewer) -> None:
        if viewer in self._viewers:
            self._viewers.remove(viewer)
        if not viewer.done.done():
            viewer.done.set_result(None)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._ready.set()
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        for viewer in list(self._viewers):
            self._end(viewer)
        self._reader.close()
        if self._task is not asyncio.current_task():
            self._task.cancel()

    # -- the hub side ----------------------------------------------------------------------
    async def _run(self) -> None:
        try:
            while True:
                item = await self._reader.get()
                self._process([item, *self._queued()])
        except HubClosed:
            pass
        finally:
            self.close()

    def _queued(self) -> list[HubItem]:
        items = []
        while (item := self._reader.get_nowait()) is not None:
            items.append(item)
        return items

    def _process(self, items: list[HubItem]) -> None:
        pieces = []
        for item in items:
            if isinstance(item, Frame):
                pieces.append(self._piece(item))
            elif isinstance(item, InitSegment):
                self._rendered.clear()
                pieces.append(Piece(item.data, time.monotonic(), False, True))
                self._ready.set()
        if not pieces or not self._viewers:
            return
        batch = Batch.of(pieces)
        now = time.monotonic()
        for viewer in list(self._viewers):
            self._offer(viewer, pieces, now, batch)

    def _piece(self, frame: Frame) -> Piece:
        rendered = self._rendered.get(id(frame))
        if rendered is None:
            if frame.is_keyframe or len(self._rendered) >= RENDERED_KEPT:
                self._rendered.clear()  # the hub's GOP starts over here (Hub.publish)
            rendered = frame, self._writer.write((frame.sample,))
            self._rendered[id(frame)] = rendered
        return Piece(rendered[1], frame.published_at, True, frame.resume_point)

    def _offer(self, viewer: LiveViewer, pieces: list[Piece], now: float, batch: Batch | None = None) -> None:
        try:
            viewer.offer(pieces, now, batch)
        except ViewerStalled:
            log.info("dropped a live viewer that stopped reading", extra={"camera": self.camera_id})
            viewer.abort()
            self._end(viewer)
            return
        except OSError:  # ConnectionResetError: its connection is closing
            self._end(viewer)
            return
        if viewer.held and self._retry is None:
            self._retry = asyncio.get_running_loop().call_later(POLL, self._offer_held)

    def _offer_held(self) -> None:
        self._retry = None
        now = time.monotonic()
        for viewer in list(self._viewers):
            if viewer.held:
                self._offer(viewer, [], now)


class LiveFanouts:
    """The running fan-outs, one per (camera, quality) with viewers."""

    def __init__(self, sources: SourceRegistry, config: Config):
        self._sources = sources
        self._config = config
        self._fanouts: dict[tuple[str, str], LiveFanout] = {}

    def open(self, camera_id: str, quality: str) -> LiveFanout:
        """The fan-out for one more request, counted as a reader of the hub until release()."""
        key = (camera_id, quality)
        fanout = self._fanouts.get(key)
        if fanout is not None and not fanout.closed and not fanout.hub.closed:
            fanout.add_member()
            return fanout
        reader = self._sources.subscribe(camera_id, quality, queue_frames=FANOUT_QUEUE_FRAMES)
        fanout = self._fanouts[key] = LiveFanout(reader, self._config, camera_id)
        return fanout

    def close(self) -> None:
        fanouts = list(self._fanouts.values())
        self._fanouts.clear()
        for fanout in fanouts:
            fanout.close()
