"""Request deadlines behind one timer: expiry cancels only the request that ran out, and
is told apart from any other cancellation."""

from __future__ import annotations

import asyncio

import pytest

from gateway.limits.deadlines import Deadlines


async def _request(deadlines: Deadlines, wait: asyncio.Future, *, lift: bool = False) -> str:
    deadline = deadlines.start()
    if lift:
        deadline.lift()  # the headers went out: a stream runs on
    try:
        await wait
    except asyncio.CancelledError as exc:
        if deadline.owns(exc):
            return "timed out"
        raise
    finally:
        deadline.lift()
    deadline.settle()
    return "answered"


async def test_an_expired_request_is_cancelled_and_a_lifted_one_runs_on():
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(0.05)
    never, later = loop.create_future(), loop.create_future()
    expired = asyncio.create_task(_request(deadlines, never))
    lifted = asyncio.create_task(_request(deadlines, later, lift=True))
    assert await asyncio.wait_for(expired, 5) == "timed out"
    assert not expired.cancelling()
    assert not lifted.done()
    later.set_result(None)
    assert await asyncio.wait_for(lifted, 5) == "answered"


async def test_requests_expire_in_turn_and_a_quick_one_is_untouched():
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(0.05)
    quick = loop.create_future()
    quick.set_result(None)
    assert await _request(deadlines, quick) == "answered"
    first = asyncio.create_task(_request(deadlines, loop.create_future()))
    await asyncio.sleep(0.02)
    second = asyncio.create_task(_request(deadlines, loop.create_future()))
    assert await asyncio.wait_for(asyncio.gather(first, second), 5) == ["timed out", "timed out"]


async def test_another_cancellation_is_not_taken_for_a_timeout():
    deadlines = Deadlines(30.0)
    task = asyncio.create_task(_request(deadlines, asyncio.get_running_loop().create_future()))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
