"""ObservationWriter: batches by size and by interval on a virtual clock, flushes on stop,
drops (and counts) when full, retries a failed batch without duplicating it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from app.store import Store
from app.store.writer import ObservationWriter
from core.clock import VirtualClock
from core.model import Alert, AlertState, Category, DeviceEvent, Observation, Phase, Priority

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


class FakeStore:
    def __init__(self) -> None:
        self.batches: list[tuple[list[Observation], list[DeviceEvent]]] = []
        self.fail = 0

    async def add_messages(
        self, observations: Sequence[Observation], events: Sequence[DeviceEvent]
    ) -> None:
        await asyncio.sleep(0)
        if self.fail:
            self.fail -= 1
            raise OSError("database is locked")
        self.batches.append((list(observations), list(events)))

    @property
    def rows(self) -> int:
        return sum(len(o) + len(e) for o, e in self.batches)


def obs(i: int) -> Observation:
    return Observation(
        t=T0 + timedelta(seconds=i),
        bed="ICU-1",
        code="MDC_ECG_HEART_RATE",
        value=60 + i % 50,
        unit="/min",
    )


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_flushes_by_interval(vclock: VirtualClock) -> None:
    sink = FakeStore()
    async with ObservationWriter(sink, vclock, max_batch=100, flush_interval=0.5) as writer:
        for i in range(3):
            assert writer.submit(obs(i))
        writer.submit(DeviceEvent(t=T0, bed="ICU-1", event="arrhythmia", fields={"rhythm": "VT"}))
        await vclock.advance(0.4)
        await settle()
        assert sink.batches == []
        await vclock.advance(0.2)
        await settle()
        assert len(sink.batches) == 1
        assert len(sink.batches[0][0]) == 3 and len(sink.batches[0][1]) == 1
        assert writer.written == 4 and writer.pending == 0
        writer.submit(obs(9))
        await vclock.advance(0.5)
        await settle()
        assert sink.rows == 5


async def test_flushes_by_size_before_the_interval(vclock: VirtualClock) -> None:
    sink = FakeStore()
    async with ObservationWriter(sink, vclock, max_batch=10, flush_interval=60) as writer:
        for i in range(25):
            writer.submit(obs(i))
        await settle()
        # two full batches written without the clock moving; the rest waits
        assert [len(o) for o, _ in sink.batches] == [10, 10]
        assert writer.pending == 5
    # leaving the block (stop) flushed the rest
    assert [len(o) for o, _ in sink.batches] == [10, 10, 5]
    assert [o.t for b, _ in sink.batches for o in b] == [obs(i).t for i in range(25)]


async def test_stop_flushes_everything(vclock: VirtualClock) -> None:
    sink = FakeStore()
    writer = ObservationWriter(sink, vclock, max_batch=1000, flush_interval=0.5)
    writer.start()
    for i in range(2500):
        writer.submit(obs(i))
    await writer.stop()
    assert sink.rows == 2500 and writer.pending == 0 and writer.written == 2500


async def test_a_full_buffer_drops_and_counts(
    vclock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    sink = FakeStore()
    writer = ObservationWriter(sink, vclock, max_batch=10, flush_interval=1, max_pending=15)
    with caplog.at_level(logging.ERROR, logger="app.store.writer"):
        accepted = [writer.submit(obs(i)) for i in range(20)]  # not started: nothing drains
    assert accepted == [True] * 15 + [False] * 5
    assert writer.dropped == 5
    assert len([r for r in caplog.records if "buffer full" in r.message]) == 1  # logged once
    await writer.stop()
    assert sink.rows == 15


async def test_a_full_buffer_still_keeps_every_event(vclock: VirtualClock) -> None:
    sink = FakeStore()
    writer = ObservationWriter(sink, vclock, max_batch=10, flush_interval=1, max_pending=15)
    for i in range(15):
        writer.submit(obs(i))
    alarm = DeviceEvent(t=T0, bed="ICU-1", event="pump_alarm", fields={"kind": "occlusion"})
    assert writer.submit(alarm) is True
    assert writer.submit(obs(99)) is False
    assert writer.pending == 16 and writer.dropped == 1
    await writer.stop()
    assert sink.rows == 16


async def test_alerts_are_not_the_writers(vclock: VirtualClock) -> None:
    writer = ObservationWriter(FakeStore(), vclock)
    a = Alert(
        id="a",
        bed="ICU-1",
        category=Category.FEVER,
        rule="r",
        priority=Priority.LOW,
        phase=Phase.START,
        state=AlertState.ACTIVE,
        onset=T0,
        t=T0,
    )
    assert writer.submit(a) is False and writer.pending == 0


async def test_a_failed_batch_is_retried_at_the_next_interval(vclock: VirtualClock) -> None:
    sink = FakeStore()
    sink.fail = 2
    async with ObservationWriter(sink, vclock, max_batch=100, flush_interval=0.5) as writer:
        for i in range(5):
            writer.submit(obs(i))
        for _ in range(2):
            await vclock.advance(0.5)
            await settle()
            assert sink.batches == [] and writer.pending == 5
        await vclock.advance(0.5)
        await settle()
        assert sink.rows == 5 and writer.failed == 0  # written once, not duplicated


async def test_a_batch_refused_too_often_is_given_up(vclock: VirtualClock) -> None:
    sink = FakeStore()
    sink.fail = 3
    async with ObservationWriter(
        sink, vclock, max_batch=100, flush_interval=0.5, max_attempts=3
    ) as writer:
        for i in range(4):
            writer.submit(obs(i))
        for _ in range(3):
            await vclock.advance(0.5)
            await settle()
        assert writer.failed == 4 and writer.pending == 0
        writer.submit(obs(10))
        await vclock.advance(0.5)
        await settle()
        assert sink.rows == 1


async def test_writes_to_a_real_store(store: Store, vclock: VirtualClock) -> None:
    async with ObservationWriter(store, vclock, max_batch=50, flush_interval=0.5) as writer:
        for i in range(120):
            writer.submit(obs(i))
        writer.submit(DeviceEvent(t=T0, bed="ICU-1", event="infusion_start"))
    assert writer.written == 121
    assert len(await store.observations("ICU-1")) == 120
    assert len(await store.events("ICU-1")) == 1
