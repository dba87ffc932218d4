"""core.periodic.every on a virtual clock: rounds at each period (the first after one period,
or at once), a failing round logged and the next one run, cancellation ends it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import pytest

from core.clock import VirtualClock
from core.periodic import every

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


async def _run_for(
    clock: VirtualClock, seconds: float, *, first: bool, fail_at: int
) -> list[float]:
    rounds: list[float] = []

    async def work() -> None:
        rounds.append(clock.monotonic())
        if len(rounds) == fail_at:
            raise RuntimeError("store down")

    task = asyncio.create_task(every(clock, 10.0, work, "test: job", first=first))
    await asyncio.sleep(0)
    for _ in range(int(seconds)):
        await clock.advance(1.0)
        await asyncio.sleep(0)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return rounds


async def test_rounds_every_period_and_a_failing_one_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = VirtualClock(T0)
    start = clock.monotonic()
    with caplog.at_level(logging.ERROR, logger="core.periodic"):
        rounds = await _run_for(clock, 35, first=False, fail_at=2)
    assert [r - start for r in rounds] == [10.0, 20.0, 30.0]
    assert [r.getMessage() for r in caplog.records] == ["test: job failed"]


async def test_first_round_at_once() -> None:
    clock = VirtualClock(T0)
    start = clock.monotonic()
    rounds = await _run_for(clock, 25, first=True, fail_at=0)
    assert [r - start for r in rounds] == [0.0, 10.0, 20.0]
