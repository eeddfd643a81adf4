"""The snapshot cache: a byte-bounded LRU of JPEGs, each with an optional expiry. Sans-IO:
the clock is passed in, nothing awaits.

The bound counts the JPEG bytes plus a fixed per-entry overhead (key, entry object, dict
slot), so a flood of tiny images cannot grow memory past it either.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

ENTRY_OVERHEAD = 512  # bytes: a measured-ish upper bound for key + entry + OrderedDict node


@dataclass(frozen=True, slots=True)
class CachedImage:
    body: bytes
    etag: str  # strong entity tag, quoted (RFC 9110 8.8.3)
    expires_at: float | None  # clock time; None never expires (a settled past instant)

    @property
    def immutable(self) -> bool:
        return self.expires_at is None

    @property
    def cost(self) -> int:
        return len(self.body) + ENTRY_OVERHEAD

    def fresh(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at


def image(body: bytes, expires_at: float | None) -> CachedImage:
    """A cache entry whose ETag is a hash of its bytes: equal pictures share a tag."""
    return CachedImage(body, f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"', expires_at)


class ImageCache:
    def __init__(self, max_bytes: int, clock: Callable[[], float] = time.monotonic):
        self.max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[Hashable, CachedImage] = OrderedDict()
        self.bytes = 0
        self.evictions = 0
        self.expirations = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return self.peek(key) is not None

    def get(self, key: Hashable) -> CachedImage | None:
        """The fresh entry for `key`, now the most recently used; None if absent or expired."""
        entry = self.peek(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def peek(self, key: Hashable) -> CachedImage | None:
        """Like get, without touching the LRU order."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if not entry.fresh(self._clock()):
            self._drop(key)
            self.expirations += 1
            return None
        return entry

    def put(self, key: Hashable, entry: CachedImage) -> bool:
        """Store `entry`, evicting least recently used ones to stay within the bound. An entry
        larger than the whole bound is not stored (False): it would empty the cache for one."""
        if entry.cost > self.max_bytes:
            return False
        if key in self._entries:
            self._drop(key)
        self._entries[key] = entry
        self.bytes += entry.cost
        while self.bytes > self.max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)
            self.evictions += 1
        return True

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0

    def _drop(self, key: Hashable) -> None:
        self.bytes -= self._entries.pop(key).cost
