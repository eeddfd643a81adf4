"""Synthetic hub items: a video track with a keyframe every `gop` frames at `fps`."""

from __future__ import annotations

from gateway.media.fmp4 import InitSegment, Sample, TrackInfo
from gateway.media.hub import Frame

TIMESCALE = 90000


def video_init(tag: bytes = b"A") -> InitSegment:
    track = TrackInfo(track_id=1, kind="video", codec="avc1.42E01E", timescale=TIMESCALE, width=320, height=240)
    return InitSegment(b"init-" + tag, (track,))


class FrameClock:
    """Frames on one continuous timeline, as the hub hands them out."""

    def __init__(self, fps: int = 15, gop: int = 15):
        self.fps = fps
        self.gop = gop
        self.index = 0
        self.duration = TIMESCALE // fps

    def next(self, *, keyframe: bool | None = None) -> Frame:
        is_key = self.index % self.gop == 0 if keyframe is None else keyframe
        sample = Sample(1, self.index * self.duration, self.duration, 0, is_key, b"frame%d" % self.index)
        self.index += 1
        return Frame(sample, "video", published_at=self.index / self.fps)

    def frames(self, count: int) -> list[Frame]:
        return [self.next() for _ in range(count)]
