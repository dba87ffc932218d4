"""drivers.base: the backoff, and the reconnect loop of `Driver.stream` on the virtual clock."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator

import pytest

from core.clock import VirtualClock
from core.errors import ConnectionLost, DeviceUnreachable
from core.model import DeviceEvent
from drivers.base import Backoff, ConnectionState, Driver, DriverOutput
from simulators.memlink import run_for


def test_backoff_grows_to_its_cap_and_resets() -> None:
    b = Backoff(initial=1.0, factor=2.0, cap=5.0, jitter=0.0)
    assert [b.next_delay() for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    b.reset()
    assert b.next_delay() == 1.0


def test_backoff_jitter_is_bounded_and_seedable() -> None:
    def delays(seed: int) -> list[float]:
        b = Backoff(initial=10.0, factor=1.0, jitter=0.1, rng=random.Random(seed))
        return [b.next_delay() for _ in range(50)]

    assert all(9.0 <= d <= 11.0 for d in delays(1))
    assert delays(1) == delays(1) != delays(2)


class _Scripted(Driver):
    """Each session plays the next script entry: connect and yield n items, then fail;
    or (n < 0) fail before connecting."""

    protocol = "test"

    def __init__(self, clock: VirtualClock, script: list[int]) -> None:
        super().__init__(
            bed="B",
            device_id="d",
            clock=clock,
            backoff=Backoff(initial=1.0, factor=2.0, cap=4.0, jitter=0.0),
        )
        self.script = script
        self.sessions: list[float] = []  # when each session started

    async def _session(self) -> AsyncIterator[DriverOutput]:
        self.sessions.append(self.clock.monotonic())
        n = self.script.pop(0) if self.script else -1
        if n < 0:
            raise DeviceUnreachable("nobody there")
        yield self.connected_event(model="x")
        for i in range(n):
            yield self.event("device_alarm", code=str(i))
        raise ConnectionLost("cable")


async def test_stream_reconnects_with_backoff_and_never_raises(vclock: VirtualClock) -> None:
    driver = _Scripted(vclock, [-1, -1, 2, -1])
    names: list[str] = []

    async def consume() -> None:
        async for item in driver.stream():
            assert isinstance(item, DeviceEvent)
            names.append(item.event)

    task = asyncio.ensure_future(consume())
    try:
        await run_for(vclock, 12.0)
        assert not task.done()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    # two failures (1 s, 2 s), a session (reset), then 1 s, 2 s, 4 s, 4 s ... between tries
    assert driver.sessions == pytest.approx([0.0, 1.0, 3.0, 4.0, 6.0, 10.0])
    assert names == [
        "device_connected",
        "device_alarm",
        "device_alarm",
        "device_disconnected",
    ]
    assert driver.status.reconnects == 1
    assert driver.status.state is ConnectionState.DISCONNECTED
    assert driver.status.last_error == "nobody there"
