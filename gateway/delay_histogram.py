"""A fixed-bucket delay histogram: recording is one index and one increment, cheap enough
for the hot paths (HLS part delivery, hub-to-RTP, talk uplink); a Prometheus collector
reads the counts at scrape time."""

from __future__ import annotations

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
        self.maximum = max(self.maximum, seconds)

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
