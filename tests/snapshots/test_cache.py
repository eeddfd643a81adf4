"""The byte-bounded LRU: bound, order, expiry."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.snapshots.cache import ENTRY_OVERHEAD, ImageCache, image


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_lru_order_and_bound():
    cache = ImageCache(3 * (1000 + ENTRY_OVERHEAD), Clock())
    for key in "abc":
        assert cache.put(key, image(key.encode() * 1000, None))
    assert cache.get("a") is not None  # a is now the most recent: b goes first
    cache.put("d", image(b"d" * 1000, None))
    assert [k for k in "abcd" if k in cache] == ["a", "c", "d"]
    assert cache.bytes == 3 * (1000 + ENTRY_OVERHEAD) and cache.evictions == 1


def test_peek_does_not_refresh():
    cache = ImageCache(2 * (10 + ENTRY_OVERHEAD), Clock())
    cache.put("a", image(b"a" * 10, None))
    cache.put("b", image(b"b" * 10, None))
    assert cache.peek("a") is not None
    cache.put("c", image(b"c" * 10, None))
    assert "a" not in cache and "b" in cache


def test_expiry():
    clock = Clock()
    cache = ImageCache(1 << 20, clock)
    cache.put("live", image(b"x" * 10, clock.now + 1.0))
    cache.put("past", image(b"y" * 10, None))
    clock.now += 0.999
    assert cache.get("live").body == b"x" * 10
    clock.now += 0.001
    assert cache.get("live") is None and cache.expirations == 1
    assert cache.bytes == 10 + ENTRY_OVERHEAD and len(cache) == 1
    clock.now += 1e9
    assert cache.get("past") is not None


def test_too_big_is_not_kept_and_keeps_the_rest():
    cache = ImageCache(1000 + ENTRY_OVERHEAD, Clock())
    cache.put("small", image(b"s" * 500, None))
    assert not cache.put("huge", image(b"h" * 1001, None))
    assert "small" in cache and "huge" not in cache


def test_replacing_a_key_counts_once():
    cache = ImageCache(1 << 20, Clock())
    cache.put("k", image(b"1" * 100, None))
    cache.put("k", image(b"2" * 300, None))
    assert cache.bytes == 300 + ENTRY_OVERHEAD and len(cache) == 1 and cache.get("k").body == b"2" * 300


def test_etag_is_the_content():
    assert image(b"abc", None).etag == image(b"abc", 5.0).etag != image(b"abd", None).etag
    assert image(b"abc", None).etag.startswith('"') and image(b"abc", None).etag.endswith('"')


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 3000), st.booleans()), max_size=200),
    st.integers(ENTRY_OVERHEAD, 20_000),
)
def test_never_over_the_bound(operations, bound):
    clock = Clock()
    cache = ImageCache(bound, clock)
    for key, size, expiring in operations:
        cache.put(key, image(random.randbytes(size), clock.now + 1 if expiring else None))
        clock.now += 0.3
        cache.get(random.randrange(40))
        assert cache.bytes <= bound
    live = [cache.peek(key) for key in range(41)]  # peek drops expired entries
    assert cache.bytes == sum(entry.cost for entry in live if entry is not None) <= bound
