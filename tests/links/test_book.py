"""LinkBook with an injected clock: expiry, revoke, what gets closed and when, the sweeper,
the purge of old links, and the Python API the rules engine calls."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from gateway.api.errors import ApiError, not_found
from gateway.config import Config
from gateway.links import book as book_module
from gateway.links.book import RETENTION, LinkBook, check_window


class Cameras:
    async def get(self, camera_id: str):
        if camera_id != "cam":
            raise not_found(f"no camera {camera_id!r}")
        return camera_id


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class Stream:
    def __init__(self) -> None:
        self.closed: str | None = None
        self.running = True

    def alive(self) -> bool:
        return self.running and self.closed is None

    def close(self, reason: str) -> None:
        self.closed = reason


@pytest.fixture
async def book(tmp_path, monkeypatch):
    monkeypatch.setattr(book_module, "SWEEP_INTERVAL", 0.05)
    config = Config()
    config = dataclasses.replace(
        config,
        pushes=dataclasses.replace(config.pushes, db_path=str(tmp_path / "db")),
        server=dataclasses.replace(config.server, listen="127.0.0.1:9000"),
    )
    links = LinkBook(config, clock=Clock())
    await links.open(Cameras())
    try:
        yield links
    finally:
        await links.close()


async def test_the_python_api(book):
    made = await book.create("cam", live=True, window=None, ttl=60, created_by="rule:7")
    assert made.url == f"http://127.0.0.1:9000/g/{made.id}"  # no public_url: [server] listen
    assert made.ref == hashlib.sha256(made.id.encode()).hexdigest()[:16]
    assert made.expires_at == 1_700_000_060 and made.camera == "cam"
    link = book.lookup(made.id)
    assert link.grant.cameras == {"cam"} and link.grant.actions == {"view"}
    assert link.grant.subject == f"guest:{made.ref}" and link.grant.expires_at == made.expires_at
    assert book.find(made.ref) is link and book.find(made.id) is link
    assert [(lk.record.created_by, lk.record.owner) for lk in book.links()] == [("rule:7", "rule:7")]
    assert book.links(owner="someone") == []

    with pytest.raises(ApiError) as refused:
        await book.create("nope", live=True, window=None, ttl=60, created_by="x")
    assert refused.value.status == 404
    for kwargs, message in [
        ({"live": True, "window": None, "ttl": 0}, "ttl"),
        ({"live": False, "window": None, "ttl": 60}, "from and to are required"),
        ({"live": True, "window": (datetime.now(UTC), datetime.now(UTC)), "ttl": 60}, "live and from/to"),
    ]:
        with pytest.raises(ValueError, match=message):
            await book.create("cam", created_by="x", **kwargs)


def test_window_rules():
    now = 1_700_000_000.0
    at = datetime.fromtimestamp(now, UTC)
    assert check_window((at - timedelta(minutes=5), at), now) == (now - 300, now)
    for window, message in [
        ((at, at), "from must be before to"),
        ((at - timedelta(hours=25), at), "to must be at most 24 h"),
        ((at, at + timedelta(minutes=5)), "to is in the future"),
        ((at.replace(tzinfo=None) - timedelta(minutes=5), at), "from must be a time with a zone"),
    ]:
        with pytest.raises(ValueError, match=message):
            check_window(window, now)


async def test_revoke_closes_at_once_and_expiry_within_a_sweep(book):
    clock = book._clock
    live = book.lookup((await book.create("cam", live=True, window=None, ttl=30, created_by="a")).id)
    short = book.lookup((await book.create("cam", live=True, window=None, ttl=5, created_by="a")).id)
    streams = [Stream() for _ in range(3)]
    book.track(live, streams[0])
    book.track(live, streams[1])
    book.track(short, streams[2])

    assert await book.revoke(live.ref) is True
    assert [s.closed for s in streams] == ["revoked", "revoked", None]  # at once, no sweep needed
    assert live.gone(clock()) == "revoked" and await book.revoke(live.ref) is True  # idempotent
    assert await book.revoke("0000000000000000") is False

    late = Stream()
    book.track(live, late)  # opened while the link was being revoked: closed as it registers
    assert late.closed == "revoked"

    clock.now += 5  # short expires; the sweeper notices
    await asyncio.sleep(0.2)
    assert streams[2].closed == "expired" and short.gone(clock()) == "expired"


async def test_streams_that_ended_are_forgotten(book):
    link = book.lookup((await book.create("cam", live=True, window=None, ttl=30, created_by="a")).id)
    done = Stream()
    book.track(link, done)
    done.running = False
    await asyncio.sleep(0.2)
    assert link.closers == set()
    await book.revoke(link.ref)
    assert done.closed is None  # it had ended: nothing to close


async def test_ended_links_are_kept_for_a_while_then_forgotten(book, tmp_path):
    made = await book.create("cam", live=True, window=None, ttl=30, created_by="a")
    book._clock.now += RETENTION + 31
    await book._purge(book._clock() - RETENTION)
    assert book.lookup(made.id) is None and book.links() == []
    reopened = LinkBook(book._config, clock=book._clock)
    await reopened.open(Cameras())
    try:
        assert reopened.links() == []
    finally:
        await reopened.close()
