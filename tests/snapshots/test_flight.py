"""Single flight: one fetch per key, its outcome to every waiter, nothing kept after."""

import asyncio

import pytest

from gateway.snapshots.flight import SingleFlight


async def test_one_fetch_for_concurrent_callers():
    flights: SingleFlight[bytes] = SingleFlight()
    calls = 0
    release = asyncio.Event()

    async def fetch():
        nonlocal calls
        calls += 1
        await release.wait()
        return b"jpeg"

    waiters = [asyncio.create_task(flights.run("k", fetch)) for _ in range(50)]
    await asyncio.sleep(0)
    assert len(flights) == 1
    release.set()
    results = await asyncio.wait_for(asyncio.gather(*waiters), 5)
    assert calls == 1
    assert [r[0] for r in results] == [b"jpeg"] * 50
    assert sum(joined for _, joined in results) == 49
    assert len(flights) == 0
    assert await flights.run("k", fetch) == (b"jpeg", False) and calls == 2  # nothing remembered


async def test_error_reaches_every_waiter_and_is_forgotten():
    flights: SingleFlight[bytes] = SingleFlight()
    release = asyncio.Event()

    async def failing():
        await release.wait()
        raise LookupError("upstream said no")

    waiters = [asyncio.create_task(flights.run("k", failing)) for _ in range(10)]
    await asyncio.sleep(0)
    release.set()
    outcomes = await asyncio.wait_for(asyncio.gather(*waiters, return_exceptions=True), 5)
    assert all(isinstance(o, LookupError) and str(o) == "upstream said no" for o in outcomes)
    assert flights.pending("k") is None


async def test_a_waiter_leaving_does_not_cancel_the_others():
    flights: SingleFlight[bytes] = SingleFlight()
    release = asyncio.Event()

    async def fetch():
        await release.wait()
        return b"ok"

    first = asyncio.create_task(flights.run("k", fetch))
    second = asyncio.create_task(flights.run("k", fetch))
    await asyncio.sleep(0)
    first.cancel()  # the viewer that started the fetch disconnects
    with pytest.raises(asyncio.CancelledError):
        await first
    release.set()
    assert await asyncio.wait_for(second, 5) == (b"ok", True)


async def test_close_cancels_fetches():
    flights: SingleFlight[bytes] = SingleFlight()
    waiter = asyncio.create_task(flights.run("k", lambda: asyncio.sleep(3600)))
    await asyncio.sleep(0)
    await asyncio.wait_for(flights.close(), 5)
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert len(flights) == 0
