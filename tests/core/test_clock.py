"""Clocks: the virtual clock wakes sleepers in order; wait_for times out on its own clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from core.clock import RealClock, VirtualClock

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


async def test_virtual_clock_wakes_sleepers_in_time_order() -> None:
    clock = VirtualClock(T0)
    woke: list[tuple[str, datetime]] = []

    async def sleeper(name: str, s: float) -> None:
        await clock.sleep(s)
        woke.append((name, clock.now()))

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("b", 20), ("a", 10), ("c", 30))]
    await clock.advance(25)
    assert woke == [("a", T0 + timedelta(seconds=10)), ("b", T0 + timedelta(seconds=20))]
    assert clock.now() == T0 + timedelta(seconds=25) and clock.monotonic() == 25
    await clock.advance(5)
    assert [n for n, _ in woke] == ["a", "b", "c"]
    await asyncio.gather(*tasks)


async def test_a_day_of_one_second_ticks_runs_fast() -> None:
    clock = VirtualClock(T0)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await clock.sleep(1.0)
            ticks += 1

    task = asyncio.create_task(ticker())
    await clock.advance(24 * 3600)
    task.cancel()
    assert ticks == 24 * 3600


async def test_wait_for_times_out_on_the_virtual_clock() -> None:
    clock = VirtualClock(T0)
    never = asyncio.get_running_loop().create_future()
    waiting = asyncio.create_task(clock.wait_for(never, 5.0))
    await clock.advance(4.9)
    assert not waiting.done()
    await clock.advance(0.2)
    with pytest.raises(TimeoutError):
        await waiting
    assert never.cancelled()


async def test_wait_for_returns_the_result() -> None:
    clock = RealClock()

    async def answer() -> int:
        await asyncio.sleep(0.01)
        return 42

    assert await clock.wait_for(answer(), 1.0) == 42


def test_set_never_goes_back_and_needs_an_aware_start() -> None:
    clock = VirtualClock(T0)
    clock.set(T0 + timedelta(hours=1))
    clock.set(T0)
    assert clock.now() == T0 + timedelta(hours=1)
    with pytest.raises(ValueError, match="timezone-aware"):
        VirtualClock(datetime(2026, 1, 1))


def test_real_clock_is_aware_utc() -> None:
    now = RealClock().now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
