"""Injected time.

Everything that waits, polls, windows or timestamps takes a `Clock`. `RealClock` reads the
system; `VirtualClock` only moves when told to, so a 24 h scenario replays in seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

T = TypeVar("T")


class Clock(ABC):
    """Wall time (aware, UTC), a monotonic reading in seconds, and an awaitable sleep."""

    @abstractmethod
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""

    @abstractmethod
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; only differences mean anything."""

    @abstractmethod
    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` on this clock."""

    async def wait_for(self, aw: Awaitable[T], timeout: float) -> T:
        """Await `aw`, raising `TimeoutError` when `timeout` seconds pass on this clock first."""
        task: asyncio.Future[T] = asyncio.ensure_future(aw)
        timer: asyncio.Future[Any] = asyncio.ensure_future(self.sleep(timeout))
        try:
            waiting: list[asyncio.Future[Any]] = [task, timer]
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            task.cancel()
            task.add_done_callback(_retrieve)
            raise
        finally:
            timer.cancel()
        if task in done:
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise TimeoutError(f"no result within {timeout:g} s")


def _retrieve(fut: asyncio.Future[Any]) -> None:
    """Mark the outcome of an abandoned wait as seen: a library may turn our cancellation into
    an exception of its own (pymodbus raises ModbusIOException), which asyncio would otherwise
    log as "Task exception was never retrieved" at every shutdown."""
    if not fut.cancelled():
        fut.exception()


class RealClock(Clock):
    """The system's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class VirtualClock(Clock):
    """A clock that moves only through `advance`, `advance_to` or `set`.

    Sleepers wake in time order; `advance` lets the event loop run between wake-ups so that
    code woken at t1 can schedule more sleeps that still wake before t2.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime(2026, 1, 1, tzinfo=UTC)
        if self._start.tzinfo is None:
            raise ValueError("VirtualClock start must be timezone-aware")
        self._offset = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._counter = itertools.count()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._offset)

    def monotonic(self) -> float:
        return self._offset

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._offset + seconds, next(self._counter), fut))
        await fut

    def set(self, t: datetime) -> None:
        """Jump to `t` without running the loop (for replay, where nothing sleeps)."""
        offset = (t - self._start).total_seconds()
        if offset > self._offset:
            self._offset = offset
        self._wake_due()

    async def advance(self, seconds: float) -> None:
        """Move forward `seconds`, waking every sleeper due on the way, in order."""
        await self.advance_to(self._offset + seconds)

    async def advance_to(self, offset: float) -> None:
        await _settle()
        while self._sleepers and self._sleepers[0][0] <= offset:
            due = self._sleepers[0][0]
            self._offset = max(self._offset, due)
            self._wake_due()
            await _settle()
        self._offset = max(self._offset, offset)
        self._wake_due()
        await _settle()

    @property
    def pending_sleepers(self) -> int:
        return sum(1 for _, _, f in self._sleepers if not f.done())

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._offset:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)


async def _settle(rounds: int = 5) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)
