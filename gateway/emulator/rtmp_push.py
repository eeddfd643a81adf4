"""WEP-side RTMP pushes (guide, /media/rtmp): the pre-encoded loop remuxed to FLV by
PyAV, no re-encode, paced in real time in a thread per push.

A push ends when asked (DELETE) or when the receiver drops it ("Dropping the stream on
the receiving media server will also terminate the stream"); either way it leaves the
registry, so GET no longer lists it.
"""

from __future__ import annotations

import io
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import av
from av.container import InputContainer
from av.stream import Stream

log = logging.getLogger(__name__)
OPEN_TIMEOUT = 5.0  # seconds to reach the receiver before the push ends


@dataclass
class PushSpec:
    camera_id: str
    url: str
    media: str  # "video" | "audio" | "both"
    quality: str
    session_token: str
    id: str = field(default_factory=lambda: secrets.token_hex(8))


@dataclass
class _Track:
    packets: list[tuple[bytes, bool]]
    duration: int  # per packet, in time_base units (constant: CFR video, AAC frames)
    time_base: Fraction
    template: Stream  # the demuxed input stream the output stream copies
    container: InputContainer

    def seconds(self, n: int) -> float:
        return float(n * self.duration * self.time_base)


def _demux(blob: bytes) -> _Track:
    container = av.open(io.BytesIO(blob), "r")
    stream = container.streams[0]
    assert stream.time_base is not None  # an MP4 track always has its timescale
    demuxed = [p for p in container.demux(stream) if p.size]
    packets = [(bytes(p), p.is_keyframe) for p in demuxed]
    # The loop's packets are re-timed as index * first duration: the mov muxer gives the
    # last sample of a file a bogus duration, and AAC priming makes the first pts negative.
    return _Track(packets, demuxed[0].duration or 1, stream.time_base, stream, container)


class RtmpPush:
    def __init__(self, spec: PushSpec, video_mp4: bytes | None, aac_mp4: bytes | None,
                 on_end: Callable[[RtmpPush], None]):  # fmt: skip
        self.spec = spec
        self.state = "starting"
        self._video_mp4 = video_mp4
        self._aac_mp4 = aac_mp4
        self._on_end = on_end
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rtmp-push-{spec.id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, wait: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(wait)

    def to_json(self) -> dict:
        s = self.spec
        return {"id": s.id, "url": s.url, "cameraId": s.camera_id, "media": s.media,
                "quality": s.quality, "time": "live", "state": self.state}  # fmt: skip

    def _run(self) -> None:
        try:
            self._push()
        except Exception as exc:  # noqa: BLE001  the receiver refused or dropped us: the push ends
            # Neither the URL nor str(exc) is logged: PyAV's message quotes the URL, and an
            # RTMP URL carries the stream key. The errno (if any) says enough.
            reason = getattr(exc, "strerror", None) or exc.__class__.__name__
            log.info("RTMP push %s for camera %s ended: %s", self.spec.id, self.spec.camera_id, reason)
        finally:
            self.state = "ended"
            self._on_end(self)

    def _push(self) -> None:
        tracks = []
        if self._video_mp4 is not None:
            tracks.append(_demux(self._video_mp4))
        if self._aac_mp4 is not None:
            tracks.append(_demux(self._aac_mp4))
        with av.open(self.spec.url, "w", format="flv", timeout=OPEN_TIMEOUT) as out:
            outputs = [out.add_stream_from_template(t.template) for t in tracks]
            self.state = "streaming"
            start = time.monotonic()
            counters = [0] * len(tracks)
            while not self._stop.is_set():
                # Interleave by time: the track whose next packet is earliest goes next.
                k = min(range(len(tracks)), key=lambda j: tracks[j].seconds(counters[j]))
                track, n = tracks[k], counters[k]
                delay = start + track.seconds(n) - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    break
                data, keyframe = track.packets[n % len(track.packets)]
                packet = av.Packet(data)
                packet.stream = outputs[k]
                packet.time_base = track.time_base
                packet.pts = packet.dts = n * track.duration
                packet.is_keyframe = keyframe
                out.mux(packet)
                counters[k] = n + 1
        for t in tracks:
            t.container.close()


class PushRegistry:
    """The live pushes, shared by the event loop and the push threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pushes: dict[str, RtmpPush] = {}

    def add(self, push: RtmpPush) -> None:
        with self._lock:
            self._pushes[push.spec.id] = push

    def remove(self, push: RtmpPush) -> None:
        with self._lock:
            self._pushes.pop(push.spec.id, None)

    def for_session(self, session_token: str) -> list[RtmpPush]:
        with self._lock:
            return [p for p in self._pushes.values() if p.spec.session_token == session_token]

    def all(self) -> list[RtmpPush]:
        with self._lock:
            return list(self._pushes.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._pushes)
