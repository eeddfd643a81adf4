"""The PTZ driver: one call in flight per camera, the newest command wins, and a move stops
by itself after the dead-man time."""

from __future__ import annotations

import asyncio

import pytest

from gateway.backends.base import PtzVector, UpstreamFailure
from gateway.control.ptz import STOP, PtzDriver


class SlowCamera:
    def __init__(self, delay: float = 0.05, fail: bool = False):
        self.sent: list[tuple[float, PtzVector]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.delay = delay
        self.fail = fail

    async def send(self, vector: PtzVector) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            if self.fail:
                raise UpstreamFailure("upstream_500", "camera refused")
            self.sent.append((asyncio.get_running_loop().time(), vector))
        finally:
            self.in_flight -= 1


async def test_commands_coalesce_one_in_flight_and_the_last_one_wins():
    camera = SlowCamera()
    driver = PtzDriver("cam", camera.send, dead_man=5)
    first = asyncio.ensure_future(driver.move(PtzVector(pan=0.1)))
    await asyncio.sleep(0.01)  # on its way upstream
    await asyncio.gather(first, *(driver.move(PtzVector(pan=n / 10)) for n in range(2, 11)))
    assert camera.most_in_flight == 1
    assert [vector.pan for _, vector in camera.sent] == [0.1, 1.0]  # the first, then only the newest
    assert driver.stats.coalesced == 8 and driver.stats.upstream_calls == 2
    driver.close()


async def test_a_move_stops_by_itself_after_the_dead_man_time_unless_renewed():
    camera = SlowCamera(delay=0.001)
    driver = PtzDriver("cam", camera.send, dead_man=0.15)
    started = asyncio.get_running_loop().time()
    await driver.move(PtzVector(tilt=0.5))
    for _ in range(3):  # renewed every 0.1 s: no stop meanwhile
        await asyncio.sleep(0.1)
        await driver.move(PtzVector(tilt=0.5))
    assert all(not vector.still for _, vector in camera.sent)
    await asyncio.sleep(0.3)
    at, last = camera.sent[-1]
    assert last == STOP and driver.stats.dead_man_stops == 1 and not driver.moving
    assert at - started >= 0.3 + 0.15 - 0.02  # 0.15 s after the last renewal, not before


async def test_an_explicit_stop_disarms_the_dead_man():
    camera = SlowCamera(delay=0.001)
    driver = PtzDriver("cam", camera.send, dead_man=0.05)
    await driver.move(PtzVector(zoom=1))
    await driver.stop()
    await asyncio.sleep(0.15)
    assert [vector for _, vector in camera.sent] == [PtzVector(zoom=1), STOP]
    assert driver.stats.dead_man_stops == 0


async def test_a_refused_command_reaches_its_caller():
    driver = PtzDriver("cam", SlowCamera(delay=0.001, fail=True).send, dead_man=5)
    with pytest.raises(UpstreamFailure, match="camera refused"):
        await driver.move(PtzVector(pan=1))
    assert driver.stats.failures == 1
    driver.close()


async def test_each_command_answers_once_its_turn_has_passed_not_when_the_drag_ends():
    """A drag keeps commands coming faster than the camera answers; the first command's
    caller hears back after one call, not after the last command of the drag."""
    camera = SlowCamera(delay=0.05)
    driver = PtzDriver("cam", camera.send, dead_man=5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    answered: list[float] = []

    async def command(n: int) -> None:
        await driver.move(PtzVector(pan=n / 40))
        answered.append(loop.time() - started)

    tasks = []
    for n in range(1, 31):  # 0.3 s of commands every 10 ms
        tasks.append(asyncio.ensure_future(command(n)))
        await asyncio.sleep(0.01)
    await asyncio.gather(*tasks)
    assert min(answered) < 0.12  # the first call took 0.05 s
    assert camera.most_in_flight == 1
    assert camera.sent[-1][1].pan == 30 / 40  # the last one wins
    driver.close()
