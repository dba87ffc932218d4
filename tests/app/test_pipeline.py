"""The pipeline never drops an alert: a failing database commit is retried until it holds,
and alerts reach the hub in the order the engine produced them."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from app import pipeline as pipeline_module
from app.alert_desk import AlertDesk
from app.live.registry import DeviceInfo, DeviceRegistry
from app.metrics import IngestCounters
from app.pipeline import Pipeline
from core.bus import InProcessBus
from core.clock import VirtualClock
from core.model import Alert, DeviceEvent
from monitors import build_engine

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


class FlakyStore:
    """A store whose first `failures` alert commits fail as a locked database does."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.committed: list[Alert] = []
        self.attempts = 0

    async def commit_alert(self, alert: Alert) -> Alert:
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            raise OSError("database is locked")
        done = replace(alert, seq=len(self.committed) + 1)
        self.committed.append(done)
        return done

    async def add_messages(self, *a: Any, **k: Any) -> None:
        return None

    async def add_observations(self, *a: Any, **k: Any) -> None:
        return None

    async def add_events(self, *a: Any, **k: Any) -> None:
        return None


class RecordingHub:
    def __init__(self) -> None:
        self.published: list[Alert] = []

    async def publish_alert(self, alert: Alert) -> None:
        self.published.append(alert)

    async def publish_numerics(self, bed: str, values: Any) -> None:
        return None


async def test_a_failing_commit_is_retried_not_dropped() -> None:
    clock = VirtualClock(T0)
    store = FlakyStore(failures=3)
    hub = RecordingHub()
    desk = AlertDesk(store)  # type: ignore[arg-type]
    desk.on_published(hub.publish_alert)
    ctx: Any = SimpleNamespace(
        clock=clock,
        bus=InProcessBus(),
        hub=hub,
        store=store,
        alerts=desk,
        metrics=IngestCounters(),
        devices=DeviceRegistry(),
    )
    pipeline = Pipeline(ctx, build_engine())
    occlusion = DeviceEvent(
        t=T0, bed="ICU-1", event="pump_alarm", fields={"kind": "occlusion"}, device="pump"
    )
    handling = asyncio.create_task(pipeline.handle(occlusion))
    await clock.advance(0.1)
    assert not handling.done() and store.attempts == 1
    assert hub.published == []  # nothing is pushed before it is committed
    await clock.advance(10)  # retries after 0.5, 1 and 2 s
    await handling
    assert store.attempts == 4
    assert [a.category.value for a in store.committed] == ["infusion_problem"]
    assert hub.published == store.committed
    pipeline._sub.close()


async def test_a_state_that_cannot_be_restored_is_alerted_at_every_bed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = VirtualClock(T0)
    store = FlakyStore(failures=0)
    desk = AlertDesk(store)  # type: ignore[arg-type]
    devices = DeviceRegistry()
    for bed in ("ICU-1", "ICU-2"):
        devices.register(bed, "mon", DeviceInfo("monitor", "intellivue", "/dev/ttyUSB0"))
    ctx: Any = SimpleNamespace(
        clock=clock,
        bus=InProcessBus(),
        hub=RecordingHub(),
        store=store,
        alerts=desk,
        metrics=IngestCounters(),
        devices=devices,
    )

    async def unreadable(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("no such column: infusions.start_time_source")

    monkeypatch.setattr(pipeline_module, "load_snapshot", unreadable)
    pipeline = Pipeline(ctx, build_engine())
    await pipeline.restore()
    assert [(a.bed, a.rule, a.category.value, a.phase.value) for a in store.committed] == [
        ("ICU-1", "engine_state_not_restored", "technical", "start"),
        ("ICU-2", "engine_state_not_restored", "technical", "start"),
    ]
    assert "no such column" in store.committed[0].evidence["error"]
    pipeline._sub.close()
