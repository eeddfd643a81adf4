"""A talk's audio on its way to one camera speaker: consecutive streamed uploads (WEP's
POST /media, an Amcrest postAudio...), through the camera's `SpeakerSink`.

Guide, POST /media: "Audio must be in PCMU format. The maximum stream duration is
120000 ms." Other speakers have their own bound (`sink.max_stream_ms`). A talk may last
longer, so its audio is carried by a chain of POSTs, each carrying at most `post_ms` and
living at most that long. The next POST is opened
`rollover_lead_ms` before the current one must end, and its body waits for its turn:
when the current body ends, the very next chunk goes out on the already connected POST.
All POSTs pull from one FIFO, so no chunk is lost or reordered at a hand-over and the
listener hears no gap.

`send()` never blocks the producer (the microphone pump or the file pacer): the FIFO is
bounded by `max_queue_ms`, and past it the oldest audio is dropped and counted.

A talk ends by `close()`: what is queued is sent, then the body ends and WEP answers. A
preempted talk (a person took the speaker from a clip or a file) ends by `drop()` first:
its queued audio is dropped, not flushed, so the next talker's first words are not
queued behind it; its POSTs still end cleanly (the body ends, WEP answers).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from gateway.backends.base import SpeakerSink, UpstreamFailure
from gateway.config import TalkdownConfig
from gateway.talkdown.stats import TalkCounters
from transcoders.g711 import ULAW_TO_ALAW

log = logging.getLogger("gateway.talkdown")

# POSTs in a row that fail before carrying any audio: past this the uplink gives up.
MAX_FAILED_POSTS = 3


class UplinkFailed(Exception):
    """WEP refused or dropped the speaker POSTs repeatedly; the talk cannot go on."""


@dataclass(eq=False)
class _Post:
    number: int
    opened_at: float = field(default_factory=time.monotonic)
    turn: asyncio.Event = field(default_factory=asyncio.Event)  # set: this POST carries the audio now
    had_turn: bool = False
    handed_over: bool = False
    bytes: int = 0
    successor: _Post | None = None
    task: asyncio.Task | None = None


class SpeakerUplink:
    def __init__(
        self,
        sink: SpeakerSink,
        camera_id: str,
        settings: TalkdownConfig,
        counters: TalkCounters,
        on_failed: Callable[[UplinkFailed], None] | None = None,
    ):
        self._sink = sink
        # The talk path makes PCMU; an A-law speaker gets it translated byte for byte (G.711).
        self._translate = ULAW_TO_ALAW if sink.codec == "pcma" else None
        self._post_ms = sink.max_stream_ms - settings.rollover_lead_ms
        self._camera_id = camera_id
        self._settings = settings
        self._counters = counters
        self._on_failed = on_failed
        self._queue: deque[tuple[bytes, float]] = deque()  # (PCMU, monotonic time its audio came in)
        self._queued_bytes = 0
        # The body carrying the audio waits on _waiter when the queue is empty; _timer wakes it
        # for the POST's next moment.
        self._waiter: asyncio.Future | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._closing = False
        self._posts: list[_Post] = []
        self._failures_in_row = 0
        self.failure: UplinkFailed | None = None
        self.bytes_sent = 0

    @property
    def posts(self) -> int:
        return len(self._posts)

    def send(self, chunk: bytes, received_at: float) -> None:
        """Queue PCMU for the speaker (non-blocking). The first chunk opens the first POST."""
        if self._closing or self.failure is not None or not chunk:
            return
        self._queue.append((chunk, received_at))
        self._queued_bytes += len(chunk)
        limit = self._settings.max_queue_ms * 8
        while self._queued_bytes > limit and len(self._queue) > 1:
            dropped, _ = self._queue.popleft()
            self._queued_bytes -= len(dropped)
            self._counters.bytes_dropped += len(dropped)
        if not self._posts:
            self._open_post(has_turn=True)
        self._wake()

    def drop(self) -> None:
        """Take no more audio and drop what is queued: the body carrying the audio ends
        after the chunk in flight (whole chunks only), so another talker is heard at once."""
        self._closing = True
        self._queue.clear()
        self._queued_bytes = 0
        self._wake()

    async def close(self, timeout: float, drop_queued: bool = False) -> None:
        """End the current POST's body cleanly and await WEP's answers: after sending what
        is queued, or at once dropping it (`drop_queued`: a preempted talk)."""
        if drop_queued:
            self.drop()
        self._closing = True
        self._wake()
        tasks = [post.task for post in self._posts if post.task is not None and not post.task.done()]
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("speaker POST did not finish within %.0fs; aborted", timeout, extra={"camera": self._camera_id})
            await asyncio.wait(pending)

    # -- the chain of POSTs ----------------------------------------------------------------

    def _open_post(self, has_turn: bool) -> _Post:
        post = _Post(len(self._posts) + 1)
        if has_turn:
            post.turn.set()
        self._posts.append(post)
        self._counters.posts_opened += 1
        post.task = asyncio.get_running_loop().create_task(self._run(post), name=f"talk post {self._camera_id}")
        return post

    async def _run(self, post: _Post) -> None:
        try:
            if self._failures_in_row:
                await asyncio.sleep(0.2 * self._failures_in_row)  # WEP just refused one: not a hot loop
            await self._sink.post(self._body(post))
        except UpstreamFailure as exc:
            self._counters.post_failures += 1
            self._failed(post, exc)
        finally:
            self._hand_over(post)

    def _failed(self, post: _Post, exc: UpstreamFailure) -> None:
        if post.bytes:
            self._failures_in_row = 0
        self._failures_in_row += 1
        log.warning(
            "speaker POST %d failed after %d bytes: %s", post.number, post.bytes, exc, extra={"camera": self._camera_id}
        )
        if self._failures_in_row >= MAX_FAILED_POSTS and self.failure is None:
            self.failure = UplinkFailed(f"the camera speaker refused {MAX_FAILED_POSTS} audio streams in a row: {exc}")
            self._closing = True
            self._queue.clear()
            self._queued_bytes = 0
            for waiting in self._posts:
                waiting.turn.set()  # connected successors end with an empty body, cleanly
            self._wake()
            if self._on_failed is not None:
                self._on_failed(self.failure)
        if not post.turn.is_set():
            # A successor that never got the audio: its predecessor opens another.
            for earlier in self._posts:
                if earlier.successor is post:
                    earlier.successor = None

    def _hand_over(self, post: _Post) -> None:
        """The audio moves on from `post` (its body ended, or it failed while carrying it)."""
        if post.handed_over or not post.turn.is_set():
            return
        post.handed_over = True
        if self.failure is not None:
            return
        successor = post.successor
        if successor is None and (self._queue or not self._closing):
            successor = self._open_post(has_turn=False)
        if successor is not None:
            if post.had_turn and post.bytes:
                self._counters.rollovers += 1
            successor.turn.set()

    async def _body(self, post: _Post) -> AsyncIterator[bytes]:
        # First pulled once the POST is connected; then it waits for its turn.
        await post.turn.wait()
        post.had_turn = True
        settings = self._settings
        quota = self._post_ms * 8
        lead = settings.rollover_lead_ms * 8
        life = self._post_ms / 1000
        open_next_at = life - settings.rollover_lead_ms / 1000
        loop = asyncio.get_running_loop()
        try:
            while True:
                age = time.monotonic() - post.opened_at
                if post.successor is None and (post.bytes >= quota - lead or age >= open_next_at) and not self._closing:
                    post.successor = self._open_post(has_turn=False)
                if age >= life:
                    return
                if not self._queue:
                    if self._closing:
                        return
                    # Chunks wake the body as send() queues them; a timer (a few per POST,
                    # not one per chunk) wakes it for the POST's next moment: opening the
                    # next POST, or its end.
                    if self._timer is None:
                        moment = open_next_at if post.successor is None and age < open_next_at else life
                        self._timer = loop.call_later(max(moment - age, 0.001), self._timer_fired)
                    self._waiter = loop.create_future()
                    await self._waiter
                    continue
                chunk, received_at = self._queue[0]
                if post.bytes + len(chunk) > quota:
                    return  # the chunk stays queued for the next POST
                self._queue.popleft()
                self._queued_bytes -= len(chunk)
                post.bytes += len(chunk)
                yield chunk if self._translate is None else chunk.translate(self._translate)
                # Resumed: aiohttp handed the chunk to the transport (it awaits drain first).
                self.bytes_sent += len(chunk)
                self._counters.bytes_sent += len(chunk)
                self._counters.uplink_delay.record(time.monotonic() - received_at)
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if post.bytes:
                self._failures_in_row = 0
            self._hand_over(post)

    def _timer_fired(self) -> None:
        self._timer = None  # spent: the body schedules the next moment's
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
