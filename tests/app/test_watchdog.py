"""The per-bed watchdog on the virtual clock: a live bed the pipeline stops processing gets one
technical alert `stall_s` after its last processed message, ended when processing resumes."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from app.alert_desk import AlertDesk
from app.config import DeviceConfig
from app.devices import RunningDevice
from app.live.registry import DeviceInfo, DeviceRegistry
from app.metrics import IngestCounters
from app.pipeline import Pipeline
from app.store import StationEpisode
from app.watchdog import NAMESPACE, RULE, Watchdog, watched
from core.bus import InProcessBus
from core.clock import VirtualClock
from core.model import Alert, AlertState, Category, Observation, Phase, Priority
from core.records import format_time
from drivers.base import ConnectionState, DeviceStatus
from drivers.hl7.listener import Hl7MllpDriver
from monitors import build_engine

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
STALL_S = 30.0


class Store:
    """The two calls the desk and the watchdog make; alerts kept in commit order."""

    def __init__(self, on_station: list[Alert] | None = None) -> None:
        self.committed: list[Alert] = []
        self.on_station = on_station or []

    async def commit_alerts(self, batch: list[Alert]) -> list[Alert]:
        done = [replace(a, seq=len(self.committed) + 1 + i) for i, a in enumerate(batch)]
        self.committed += done
        return done

    async def station_episodes(self) -> list[StationEpisode]:
        return [
            StationEpisode(alert=a, started=a.onset, last_trigger=a.onset, escalated=False)
            for a in self.on_station
        ]

    async def add_observations(self, *a: Any, **k: Any) -> None:
        return None


class Hub:
    async def publish_alert(self, alert: Alert) -> None:
        return None

    async def publish_numerics(self, bed: str, values: Any) -> None:
        return None


def device(state: ConnectionState, since: datetime = T0) -> DeviceInfo:
    return DeviceInfo("monitor", "intellivue", "mem://mp70", DeviceStatus(state, since))


def make_ctx(clock: VirtualClock, store: Store, devices: DeviceRegistry) -> Any:
    return SimpleNamespace(
        clock=clock,
        bus=InProcessBus(),
        hub=Hub(),
        store=store,
        alerts=AlertDesk(store),  # type: ignore[arg-type]
        metrics=IngestCounters(),
        devices=devices,
        settings=SimpleNamespace(watchdog_stall_s=STALL_S),
    )


def obs(clock: VirtualClock, bed: str = "ICU-1") -> Observation:
    return Observation(
        t=clock.now(), bed=bed, code="MDC_ECG_HEART_RATE", value=80.0, unit="/min", device="mp70"
    )


async def test_a_stuck_bed_gets_one_alert_ended_when_processing_resumes() -> None:
    clock = VirtualClock(T0)
    devices = DeviceRegistry()
    devices.register("ICU-1", "mp70", device(ConnectionState.CONNECTED))
    devices.register("ICU-2", "vent", device(ConnectionState.DISCONNECTED))  # not live
    store = Store()
    ctx = make_ctx(clock, store, devices)
    pipeline = Pipeline(ctx, build_engine())
    dog = Watchdog(ctx, pipeline, stall_s=STALL_S)
    await dog.start()
    try:
        for _ in range(10):  # processing goes on for 10 s
            await pipeline.handle(obs(clock))
            await clock.advance(1.0)
        last = pipeline.last_processed["ICU-1"]
        assert last == T0 + timedelta(seconds=9)
        await clock.advance(STALL_S - 1.5)  # to just short of the stall limit: nothing
        assert store.committed == []
        await clock.advance(1.0)
        (start,) = store.committed
        onset = last + timedelta(seconds=STALL_S)
        assert start.rule == RULE and start.bed == "ICU-1" and start.phase is Phase.START
        assert start.category is Category.TECHNICAL and start.priority is Priority.HIGH
        assert start.onset == onset and start.t == onset
        assert start.id == str(uuid.uuid5(NAMESPACE, f"ICU-1\x1f{RULE}\x1f{format_time(onset)}"))
        assert start.evidence["devices"] == ["mp70"]
        assert start.evidence["last_processed"] == format_time(last)
        await clock.advance(60.0)  # still stuck: no second alert
        assert len(store.committed) == 1
        await pipeline.handle(obs(clock))  # processing resumes
        await clock.advance(1.0)
        ours = [a for a in store.committed if a.rule == RULE]  # (the engine's own follow)
        end = ours[1]
        assert end.id == start.id and end.phase is Phase.END
        assert end.state is AlertState.RESOLVED and end.ended_at == pipeline.last_processed["ICU-1"]
        await clock.advance(10.0)
        assert [a.phase for a in store.committed if a.rule == RULE] == [Phase.START, Phase.END]
    finally:
        await dog.stop()
        pipeline._sub.close()


async def test_silence_counts_from_the_device_connecting_not_from_before() -> None:
    clock = VirtualClock(T0)
    devices = DeviceRegistry()
    store = Store()
    ctx = make_ctx(clock, store, devices)
    progress = SimpleNamespace(last_processed={})
    dog = Watchdog(ctx, progress, stall_s=STALL_S)
    await dog.start()
    try:
        await clock.advance(100.0)  # no live device: a quiet bed is no stall
        assert store.committed == []
        devices.register("ICU-1", "mp70", device(ConnectionState.CONNECTED, clock.now()))
        await clock.advance(STALL_S - 1)
        assert store.committed == []
        await clock.advance(2.0)
        (start,) = store.committed
        assert start.onset == T0 + timedelta(seconds=100 + STALL_S)
        assert start.evidence["last_processed"] is None
    finally:
        await dog.stop()


async def test_an_alert_left_open_by_a_previous_run_ends_when_processing_resumes() -> None:
    clock = VirtualClock(T0)
    onset = T0 - timedelta(minutes=5)
    left = Alert(
        id="left-open",
        bed="ICU-1",
        category=Category.TECHNICAL,
        rule=RULE,
        priority=Priority.HIGH,
        phase=Phase.START,
        state=AlertState.ACTIVE,
        onset=onset,
        t=onset,
    )
    store = Store(on_station=[left])
    devices = DeviceRegistry()
    devices.register("ICU-1", "mp70", device(ConnectionState.CONNECTED))
    progress = SimpleNamespace(last_processed={})
    async with watched(_fake_pipeline(progress))(make_ctx(clock, store, devices)) as p:
        assert p is progress
        await clock.advance(5.0)
        assert store.committed == []  # still stuck: the old alert stands, no new one
        progress.last_processed["ICU-1"] = clock.now()
        await clock.advance(1.0)
        (end,) = store.committed
        assert end.id == "left-open" and end.phase is Phase.END
    await clock.advance(STALL_S * 3)
    assert len(store.committed) == 1  # the watchdog stopped with its service


def _fake_pipeline(progress: Any) -> Any:
    @contextlib.asynccontextmanager
    async def run(ctx: Any) -> AsyncIterator[Any]:
        yield progress

    return run


async def test_a_device_that_sends_slowly_is_allowed_its_own_stale_limit() -> None:
    """An HL7 central configured `stale_after: 60` may be quiet 60 s, not only `stall_s`."""
    clock = VirtualClock(T0)
    driver = Hl7MllpDriver(bed_map={"ICU^^1": "ICU-1"}, clock=clock, listen=None)
    driver.status.state, driver.status.since = ConnectionState.CONNECTED, T0
    config = DeviceConfig(
        bed="ICU-1",
        id="central",
        kind="central",
        protocol="hl7-mllp",
        address="",
        line=1,
        stale_after=60.0,
    )
    devices = DeviceRegistry()
    devices.register("ICU-1", "central", RunningDevice(config, driver))
    store = Store()
    dog = Watchdog(
        make_ctx(clock, store, devices), SimpleNamespace(last_processed={}), stall_s=STALL_S
    )
    await dog.start()
    try:
        await clock.advance(59.5)
        assert store.committed == []
        await clock.advance(1.0)
        (start,) = store.committed
        assert start.onset == T0 + timedelta(seconds=60)
    finally:
        await dog.stop()
