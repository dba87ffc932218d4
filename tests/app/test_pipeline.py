"""The pipeline never drops an alert: a failing database commit is retried until it holds,
and alerts reach the hub in the order the engine produced them. Under a backlog, alarms
pass the numerics of other beds, and every observation still reaches the engine."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from app import pipeline as pipeline_module
from app.alert_desk import AlertDesk
from app.live.registry import DeviceInfo, DeviceRegistry
from app.metrics import IngestCounters
from app.pipeline import SLICE, Pipeline
from core.bus import InProcessBus
from core.clock import VirtualClock
from core.model import Alert, DeviceEvent, Observation
from monitors import build_engine

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


class FlakyStore:
    """A store whose first `failures` alert commits fail as a locked database does (a
    commit of several alerts fails or holds as one)."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.committed: list[Alert] = []
        self.attempts = 0

    async def commit_alerts(self, batch: list[Alert]) -> list[Alert]:
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            raise OSError("database is locked")
        done = [replace(a, seq=len(self.committed) + 1 + i) for i, a in enumerate(batch)]
        self.committed += done
        return done

    async def add_messages(self, *a: Any, **k: Any) -> None:
        return None

    async def add_observations(self, *a: Any, **k: Any) -> None:
        return None

    async def add_events(self, *a: Any, **k: Any) -> None:
        return None


class RecordingHub:
    """Keeps what is pushed to the stations, in order: alerts, and numerics as (bed, values)."""

    def __init__(self) -> None:
        self.published: list[Alert] = []
        self.log: list[tuple[str, str]] = []  # ("alert", rule) or ("numerics", bed)
        self.numerics: dict[str, dict[str, Observation]] = {}
        self.on_alert: Callable[[], None] = lambda: None

    async def publish_alert(self, alert: Alert) -> None:
        self.published.append(alert)
        self.log.append(("alert", alert.rule))
        self.on_alert()

    async def publish_numerics(self, bed: str, values: Any) -> None:
        self.log.append(("numerics", bed))
        self.numerics.setdefault(bed, {}).update(values)


def pipeline_of(
    clock: VirtualClock, store: FlakyStore, hub: RecordingHub, devices: DeviceRegistry | None = None
) -> Pipeline:
    """A pipeline on an in-process bus, the alert desk publishing to `hub`."""
    desk = AlertDesk(store)  # type: ignore[arg-type]
    desk.on_published(hub.publish_alert)
    ctx: Any = SimpleNamespace(
        clock=clock,
        bus=InProcessBus(),
        hub=hub,
        store=store,
        alerts=desk,
        metrics=IngestCounters(),
        devices=devices or DeviceRegistry(),
    )
    return Pipeline(ctx, build_engine())


async def test_a_failing_commit_is_retried_not_dropped() -> None:
    clock = VirtualClock(T0)
    store = FlakyStore(failures=3)
    hub = RecordingHub()
    pipeline = pipeline_of(clock, store, hub)
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
    store = FlakyStore(failures=0)
    devices = DeviceRegistry()
    for bed in ("ICU-1", "ICU-2"):
        devices.register(bed, "mon", DeviceInfo("monitor", "intellivue", "/dev/ttyUSB0"))
    pipeline = pipeline_of(VirtualClock(T0), store, RecordingHub(), devices)

    async def unreadable(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("no such column: infusions.start_time_source")

    monkeypatch.setattr(pipeline_module, "load_snapshot", unreadable)
    await pipeline.restore()
    assert [(a.bed, a.rule, a.category.value, a.phase.value) for a in store.committed] == [
        ("ICU-1", "engine_state_not_restored", "technical", "start"),
        ("ICU-2", "engine_state_not_restored", "technical", "start"),
    ]
    assert "no such column" in store.committed[0].evidence["error"]
    pipeline._sub.close()


NUMERICS = [
    ("MDC_PULS_OXIM_SAT_O2", 95.0, "%"),
    ("MDC_ECG_HEART_RATE", 88.0, "/min"),
    ("MDC_PRESS_BLD_ART_SYS", 118.0, "mm[Hg]"),
    ("MDC_PRESS_BLD_ART_DIA", 64.0, "mm[Hg]"),
    ("MDC_PRESS_BLD_ART_MEAN", 82.0, "mm[Hg]"),
    ("MDC_TEMP_BLD", 37.1, "Cel"),
]
BEDS = [f"ICU-{i}" for i in range(1, 61)]
SECONDS = 10
ALARM_BED = BEDS[-1]
ALARM_AT = T0 + timedelta(seconds=SECONDS)  # after every bed's numerics
BEHIND = T0 + timedelta(seconds=SECONDS + 1)  # the clock, when the pipeline is behind
TOTAL = SECONDS * len(BEDS) * len(NUMERICS)


def backlogged(clock: VirtualClock) -> tuple[Pipeline, RecordingHub, InProcessBus]:
    """A pipeline whose bus holds `SECONDS` seconds of numerics from every bed, not drained."""
    hub = RecordingHub()
    pipeline = pipeline_of(clock, FlakyStore(failures=0), hub)
    bus = pipeline.ctx.bus
    assert isinstance(bus, InProcessBus)
    for s in range(SECONDS):
        for i, bed in enumerate(BEDS):
            t = T0 + timedelta(seconds=s, milliseconds=10 * i)
            for code, value, unit in NUMERICS:
                bus.publish_nowait(
                    Observation(
                        t=t, bed=bed, code=code, value=value + s / 10, unit=unit, device="mon"
                    )
                )
    return pipeline, hub, bus


def occlusion() -> DeviceEvent:
    return DeviceEvent(
        t=ALARM_AT, bed=ALARM_BED, event="pump_alarm", fields={"kind": "occlusion"}, device="p"
    )


@contextlib.asynccontextmanager
async def draining(pipeline: Pipeline) -> AsyncIterator[None]:
    """The pipeline draining its bus meanwhile; then its subscription closed and the drain done."""
    task = asyncio.create_task(pipeline.drain())
    try:
        yield
    finally:
        pipeline._sub.close()
        await task


async def run_until_handled(clock: VirtualClock, pipeline: Pipeline, n: int) -> None:
    for _ in range(1000):
        if pipeline.handled >= n:
            return
        await clock.advance(0)
    raise AssertionError(f"{pipeline.handled} of {n} messages handled")


def numerics_before_alert(hub: RecordingHub) -> list[str]:
    first_alert = hub.log.index(("alert", "infusion_pump_alarm"))
    return [bed for kind, bed in hub.log[:first_alert] if kind == "numerics"]


def assert_every_numeric_reached_the_engine(pipeline: Pipeline, hub: RecordingHub) -> None:
    last = T0 + timedelta(seconds=SECONDS - 1)
    seen = {s.bed: s.last_seen for s in pipeline.engine.beds()}
    expected = {bed: last + timedelta(milliseconds=10 * i) for i, bed in enumerate(BEDS)}
    expected[ALARM_BED] = ALARM_AT  # the bed's last message is its alarm
    assert seen == expected
    assert pipeline.ctx.metrics.observations == TOTAL
    # the stations got each bed's newest values, a push per bed and slice, not one per value
    assert all(hub.numerics[bed]["MDC_TEMP_BLD"].value == 37.1 + (SECONDS - 1) / 10 for bed in BEDS)
    assert len([e for e in hub.log if e[0] == "numerics"]) * 4 < TOTAL


@pytest.mark.parametrize(
    ("now", "lagging"),
    [
        pytest.param(BEHIND, True, id="late"),
        # not 100 ms late, but more than a slice waits: the alarm would wait many turns
        pytest.param(T0 + timedelta(milliseconds=50), False, id="a-backlog-a-little-late"),
    ],
)
async def test_behind_an_alarm_passes_the_numerics_of_other_beds(
    now: datetime, lagging: bool
) -> None:
    clock = VirtualClock(now)
    pipeline, hub, bus = backlogged(clock)
    bus.publish_nowait(occlusion())
    async with draining(pipeline):
        await run_until_handled(clock, pipeline, TOTAL + 1)
    # only the alarm's own bed's numerics (those before it, in their order) went before it
    assert set(numerics_before_alert(hub)) <= {ALARM_BED}
    assert_every_numeric_reached_the_engine(pipeline, hub)
    assert (pipeline.ctx.metrics.lag_s > 0) is lagging  # the metric shows a late backlog


async def test_behind_an_alarm_arriving_mid_backlog_waits_for_one_slice_at_most() -> None:
    clock = VirtualClock(BEHIND)
    pipeline, hub, bus = backlogged(clock)
    handled_at_alert: list[int] = []
    hub.on_alert = lambda: handled_at_alert.append(pipeline.handled)
    async with draining(pipeline):
        await clock.advance(0)
        arrived_at = pipeline.handled
        assert 0 < arrived_at < TOTAL - 2 * SLICE  # part of the backlog is done
        bus.publish_nowait(occlusion())
        await run_until_handled(clock, pipeline, TOTAL + 1)
    assert handled_at_alert[0] - arrived_at <= SLICE
    assert_every_numeric_reached_the_engine(pipeline, hub)


async def test_a_backlog_not_late_goes_in_arrival_order() -> None:
    clock = VirtualClock(T0)  # all of it at once, none late (a recording): the replay's order
    pipeline, hub, bus = backlogged(clock)
    bus.publish_nowait(occlusion())
    async with draining(pipeline):
        await run_until_handled(clock, pipeline, TOTAL + 1)
    assert set(numerics_before_alert(hub)) == set(BEDS)
    assert_every_numeric_reached_the_engine(pipeline, hub)


async def test_keeping_up_messages_go_in_arrival_order() -> None:
    clock = VirtualClock(T0)  # on time, and less than a slice waiting: the replay's order
    hub = RecordingHub()
    pipeline = pipeline_of(clock, FlakyStore(failures=0), hub)
    bus = pipeline.ctx.bus
    assert isinstance(bus, InProcessBus)
    beds = BEDS[-(SLICE // len(NUMERICS) - 1) :]
    for bed in beds:
        for code, value, unit in NUMERICS:
            bus.publish_nowait(
                Observation(t=T0, bed=bed, code=code, value=value, unit=unit, device="mon")
            )
    bus.publish_nowait(occlusion())
    fed: list[str] = []
    feed = pipeline.stepper.feed

    def logged(msg: Observation | DeviceEvent) -> list[Alert]:
        fed.append("alarm" if isinstance(msg, DeviceEvent) else msg.bed)
        return feed(msg)

    pipeline.stepper.feed = logged  # type: ignore[method-assign]
    async with draining(pipeline):
        await run_until_handled(clock, pipeline, len(beds) * len(NUMERICS) + 1)
    assert fed == [bed for bed in beds for _ in NUMERICS] + ["alarm"]


async def test_the_station_shows_the_source_the_rules_read() -> None:
    # SpO2 from the monitor and from a central station relaying another probe: the station
    # shows the monitor's (the one the rules read), never the other's alternating with it
    clock = VirtualClock(T0)
    hub = RecordingHub()
    pipeline = pipeline_of(clock, FlakyStore(failures=0), hub)
    shown = []
    for s in range(10):
        for device, value in (("monitor", 86.0), ("central", 89.0)):
            await pipeline.handle(
                Observation(
                    t=T0 + timedelta(seconds=s + (0.5 if device == "central" else 0)),
                    bed="ICU-1",
                    code="MDC_PULS_OXIM_SAT_O2",
                    value=value,
                    unit="%",
                    device=device,
                )
            )
            shown.append(hub.numerics["ICU-1"]["MDC_PULS_OXIM_SAT_O2"].device)
    assert set(shown) == {"monitor"}
    pipeline._sub.close()
