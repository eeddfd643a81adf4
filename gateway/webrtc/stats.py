"""WebRTC counters and the hub-to-RTP delay histogram (plain numbers, read at scrape time)."""

from __future__ import annotations

from dataclasses import dataclass, field

_BUCKET_MS = 0.1  # resolution of the delay histogram
_BUCKETS = 20_000  # 0..2 s; slower deliveries land in the last bucket


class DelayHistogram:
    """Fixed 0.1 ms buckets: recording is one index and one increment on the hot path."""

    def __init__(self) -> None:
        self.counts = [0] * _BUCKETS
        self.total = 0
        self.maximum = 0.0

    def record(self, seconds: float) -> None:
        index = int(seconds * 1000.0 / _BUCKET_MS)
        self.counts[min(max(index, 0), _BUCKETS - 1)] += 1
        self.total += 1
        if seconds > self.maximum:
            self.maximum = seconds

    def percentile(self, fraction: float) -> float:
        """The delay in seconds below which `fraction` of the recorded ones fall (bucket top)."""
        if not self.total:
            return 0.0
        rank = fraction * self.total
        seen = 0
        for index, count in enumerate(self.counts):
            seen += count
            if seen >= rank:
                return (index + 1) * _BUCKET_MS / 1000.0
        return self.maximum

    def reset(self) -> None:
        self.counts = [0] * _BUCKETS
        self.total = 0
        self.maximum = 0.0


@dataclass
class WebrtcCounters:
    sessions_started: int = 0
    sessions_closed: int = 0
    connect_timeouts: int = 0  # closed because ICE/DTLS never completed
    connection_failures: int = 0  # aiortc reported "failed"
    offers_rejected: int = 0
    frames_sent: int = 0
    bytes_sent: int = 0
    keyframe_requests: int = 0  # PLI/FIR received (answered by waiting, see track.py)
    frames_skipped: int = 0  # frames the track itself skipped (backlog, waiting for a keyframe)
    profile_mismatches: int = 0
    audio_sessions: int = 0  # sessions that were given the camera's opus audio
    audio_packets_sent: int = 0
    audio_bytes_sent: int = 0
    audio_packets_skipped: int = 0  # queued before the connection was up, not worth sending late
    send_delay: DelayHistogram = field(default_factory=DelayHistogram)
