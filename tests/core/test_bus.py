"""The in-process bus: every subscriber sees every message in order; a bounded one drops its
oldest and counts; closing ends iteration."""

from __future__ import annotations

from datetime import UTC, datetime

from core.bus import InProcessBus
from core.model import Observation

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def obs(v: float) -> Observation:
    return Observation(t=T0, bed="B", code="X", value=v, unit="%")


async def test_fan_out_in_order_and_bounded_drop() -> None:
    bus = InProcessBus()
    everything, small = bus.subscribe(), bus.subscribe(maxsize=2)
    for v in range(5):
        await bus.publish(obs(v))
    assert [(await everything.get()).value for _ in range(5)] == [0, 1, 2, 3, 4]  # type: ignore[union-attr]
    assert small.dropped == 3
    assert [(await small.get()).value for _ in range(2)] == [3, 4]  # type: ignore[union-attr]


async def test_close_ends_iteration() -> None:
    bus = InProcessBus()
    sub = bus.subscribe()
    await bus.publish(obs(1))
    sub.close()
    await bus.publish(obs(2))  # after close: not delivered
    assert [m async for m in sub] == []
