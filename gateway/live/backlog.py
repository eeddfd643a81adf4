"""How far behind live a progressive viewer is, from what its socket has not delivered (sans-IO).

`await response.write()` waits only once aiohttp's 64 KiB buffer is full, and the kernel's
send queue in front of the viewer grows to megabytes (tcp_wmem autotuning): minutes of a
small camera stream. A viewer reading 1 KB/s of a 120 kbit/s stream fell three minutes
behind live before any write waited, and the hub never dropped a GOP for it (issue 19).
So the route tells this ledger what it writes and, now and then, how many bytes are still
unsent (the kernel's count plus the transport's buffer). From that it knows which frame
the viewer has received (its delay behind live) and how fast the viewer takes bytes.

A frame is admitted when nothing is pending, or when the bytes ahead of it and its own
would reach the viewer within `max_delay` of the frame becoming the viewer's, at the rate
the viewer took bytes lately, and none of them is that late already. A frame that waited `max_delay` cannot make it any more: the
route drops the viewer to the next keyframe. So a viewer receives its frames at most about
`max_delay` behind live, however slowly it reads, plus what no sender can shorten: one
frame's own transfer time and the viewer's own receive buffer. One that keeps up never waits.

A frame becomes the viewer's when it reaches the hub, or when the viewer subscribed for the
GOP it is primed with: that GOP is behind live by design, for an immediate first picture.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(slots=True)
class _Written:
    end: int  # stream offset just past the frame's bytes
    since: float  # when the frame became the viewer's (see the module docstring)


class SendBacklog:
    """One viewer's bytes between the route and the viewer. Times are `time.monotonic()`."""

    def __init__(self, max_delay: float, now: float) -> None:
        self.max_delay = max_delay
        # The rate is averaged over twice that: a viewer with a small receive buffer takes
        # bytes in bursts seconds apart (its window reopens only when half of it is free).
        self.window = 2 * max_delay
        self._written = 0
        self._delivered = 0
        self._frames: deque[_Written] = deque()
        # (time, bytes delivered): the rate window, with one sample at or before its start.
        self._samples: deque[tuple[float, int]] = deque([(now, 0)])
        self._measured_at = now
        self._progress_at = now  # the viewer last took bytes, or had none waiting

    @property
    def pending(self) -> int:
        """Bytes written and not known to be delivered (an upper bound between measurements)."""
        return self._written - self._delivered

    def wrote(self, size: int, since: float) -> None:
        self._written += size
        self._frames.append(_Written(self._written, since))

    def measured(self, now: float, unsent: int) -> None:
        """`unsent`: bytes written that the viewer's side has not acknowledged yet."""
        delivered = max(self._delivered, self._written - unsent)
        if delivered > self._delivered or delivered == self._written:
            self._progress_at = now
        self._delivered = delivered
        self._measured_at = now
        frames = self._frames
        while frames and frames[0].end <= delivered:
            frames.popleft()
        samples = self._samples
        samples.append((now, delivered))
        while len(samples) > 2 and samples[1][0] <= now - self.window:
            samples.popleft()

    def measured_ago(self, now: float) -> float:
        return now - self._measured_at

    def rate(self) -> float:
        """Bytes a second the viewer took over the last `window` seconds. A connection younger
        than `max_delay` counts as that old: its first bytes fill the viewer's receive buffer
        at once, which says nothing of how fast it reads."""
        (start, first), (end, last) = self._samples[0], self._samples[-1]
        return (last - first) / max(end - start, self.max_delay)

    def delay(self, now: float) -> float:
        """How far behind live the viewer is: how long the oldest frame it has not received
        has been its (0 when it has them all), as of the last measurement."""
        return now - self._frames[0].since if self._frames else 0.0

    def stalled(self, now: float) -> float:
        """Seconds the viewer has taken no bytes while some were waiting for it."""
        return now - self._progress_at if self.pending else 0.0

    def admits(self, now: float, since: float, size: int) -> bool:
        """May a frame of about `size` bytes, the viewer's since `since`, be written now?"""
        pending = self.pending
        if not pending:
            return True
        if self.delay(now) >= self.max_delay:  # what is on its way is late already
            return False
        rate = self.rate()
        return rate > 0 and now - since + (pending + size) / rate <= self.max_delay
