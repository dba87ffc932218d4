"""The service's spine: bus → (store, rules engine) → alert desk → stations.

One subscriber drains the bus: what has arrived is taken in one go (`app.backlog`; an MQTT
batch of numerics still undecoded) and handled `SLICE` messages per turn of the event loop, in
arrival order, so that the service and `iaewatch replay` give the same transitions for the
same messages. When the pipeline is behind (the oldest message waiting more than
`PRIORITY_AFTER_S` old by the clock, or more than `BACKLOG_AFTER_S` with more than a slice
waiting; a backlog is numerics), events go first: each,
with the observations of its own bed that came before it, passes the numerics of the other
beds (which stay undecoded meanwhile), and an alarm arriving meanwhile waits for one slice at
most (behind, the ticker below already runs ahead of the messages, so the service could not
match a replay then anyway). Each bed's messages reach the engine in the order they came; no
observation is dropped (the lag metric, `iaewatch_pipeline_lag_seconds`, shows a backlog).
The alerts of what one turn handled are committed in one transaction, then pushed.
Then:
- observations go to the batch writer (off the hot path) and, coalesced, to the hub (newest
  value per code: the station's display is thinned, the rules are not);
- events are stored; a pump's `infusion_start` / `infusion_end` also opens or closes the
  bed's infusion record (`app.infusions`; a clinician's was recorded by the endpoint);
  driver connection events go to the device history and the station's device panel;
- everything goes through the rules engine, driven through time by `monitors.Stepper` — the
  same loop `iaewatch replay` runs, so both give the same transitions for the same messages;
  every transition is committed by the alert desk and only then pushed to the stations.
A ticker advances the stepper to the injected clock's time once a `tick_s`, for what time alone
causes (persistence met, stale data, escalation). Acknowledgements reach the engine from the
alert desk, under the same lock as the feed.

At start, before the bus is drained, the engine is restored from the store (`load_snapshot`:
each bed's infusion, its stored pre-infusion and recent observations, the alerts still on
the station), so a restart, crash or clean, continues the episodes it interrupted under their
ids; what cannot be restored (a baseline the stored samples no longer give) is alerted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path

from app.alert_desk import technical_alert
from app.backlog import Backlog
from app.context import AppContext
from app.infusions import record_device_infusion
from app.store import InfusionRow, StationEpisode, Store
from app.store.writer import ObservationWriter
from core.model import Alert, DeviceEvent, Message, Observation, Priority
from core.periodic import every
from monitors import Stepper, TrialEngine, build_engine, default_ruleset, load_ruleset
from monitors.engine.restore import BedSnapshot, InfusionAnchor, OpenEpisode, Snapshot

log = logging.getLogger(__name__)

COMMIT_RETRY_S = 0.5
SLICE = 256
"""Messages handled per turn of the event loop (some milliseconds of engine time)."""
PRIORITY_AFTER_S = 0.1
"""Behind by more than this, events pass the numerics waiting (module docstring)."""
BACKLOG_AFTER_S = 0.01
"""With more than a slice waiting, behind by more than this is behind: a burst of every bed's
numerics would hold an alarm back some 100 ms otherwise (`bench_station_scale --burst`)."""
COMMIT_RETRY_MAX_S = 10.0
_CONNECTION_EVENTS = {
    "device_connected": "connected",
    "device_disconnected": "disconnected",
    "device_stale": "stale",
}


class Pipeline:
    """Drains the bus into the store and the engine; commits and pushes alerts."""

    def __init__(self, ctx: AppContext, engine: TrialEngine, *, tick_s: float = 1.0) -> None:
        self.ctx = ctx
        self.engine = engine
        self.stepper = Stepper(engine, tick_s=tick_s)
        self.tick_s = tick_s
        self.writer = ObservationWriter(ctx.store, ctx.clock)
        self._sub = ctx.bus.subscribe()
        self._tasks: list[asyncio.Task[None]] = []
        self._engine_lock = asyncio.Lock()
        self.handled = 0
        """Messages taken off the bus and done with (committed, or failed and logged)."""
        self.last_processed: dict[str, datetime] = {}  # bed → when a message of it was done
        ctx.alerts.on_acknowledged(self._acknowledged)

    async def start(self) -> None:
        await self.restore()
        self.writer.start()
        self._tasks = [
            asyncio.create_task(self.drain(), name="pipeline-drain"),
            asyncio.create_task(self._tick(), name="pipeline-tick"),
        ]

    async def restore(self) -> None:
        """Put the engine back as the store left it (before anything is drained). A state
        that cannot be restored leaves the engine empty and says so at every bed: a technical
        alert, for the engine then knows no infusion window, baseline or open alert there."""
        try:
            snapshot = await load_snapshot(self.ctx.store, self.engine, self.ctx.clock.now())
        except Exception as exc:
            log.exception("pipeline: could not read the engine's state; starting empty")
            await self._commit(await self._not_restored(exc))
            return
        async with self._engine_lock:
            alerts = self.engine.restore(snapshot)
            self.stepper.advance(snapshot.at)  # ticks run on from the restart, not from later
        log.info(
            "pipeline: engine restored: %d beds (%d with an infusion), %d episodes, %d alerts",
            len(snapshot.beds),
            sum(1 for b in snapshot.beds if b.infusion is not None),
            len(snapshot.episodes),
            len(alerts),
        )
        await self._commit(alerts)

    async def _not_restored(self, exc: Exception) -> list[Alert]:
        beds = {bed for (bed, _device), _p in self.ctx.devices.items()}
        with contextlib.suppress(Exception):  # the store may be what failed
            beds |= {row.bed for row in await self.ctx.store.list_beds()}
        now = self.ctx.clock.now()
        return [not_restored_alert(bed, now, exc) for bed in sorted(beds)]

    async def stop(self) -> None:
        self._sub.close()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await self.writer.stop()

    async def drain(self) -> None:
        """Drain the bus until the subscription closes (module docstring); `start` runs it."""
        sub = self._sub
        backlog = Backlog()
        while not sub.closed:
            if backlog:
                await asyncio.sleep(0)  # a turn for the socket readers (an alarm may be there)
            else:
                try:
                    backlog.add([await sub.get_item()])
                except EOFError:
                    return
            backlog.add(sub.get_ready_items())
            if backlog.events and self._behind(backlog):
                await self.handle_in_order(backlog.take_events())
            await self.handle_in_order(backlog.take(SLICE))

    def _behind(self, backlog: Backlog) -> bool:
        """The oldest message waiting is late, or more than a slice waits (an event would
        wait turns) and has begun to be late."""
        late = (self.ctx.clock.now() - backlog.oldest().t).total_seconds()
        return late > PRIORITY_AFTER_S or (backlog.waiting > SLICE and late > BACKLOG_AFTER_S)

    async def handle(self, msg: Message) -> None:
        """One message: stored, shown, through the engine; its alerts committed and pushed."""
        await self.handle_in_order([msg])

    async def handle_in_order(self, msgs: list[Message]) -> None:
        """Messages in their order through the engine, each stored; the alerts they caused
        committed in one transaction and pushed, then each bed's numerics shown once (its
        newest value per code). A message that fails is logged: one bad message must never
        stop the spine. (A list is one slice, or the events passing a backlog: a commit per
        event made a burst's alarms queue behind each other's commits.)"""
        if not msgs:
            return
        alerts: list[Alert] = []
        shown: dict[str, dict[str, Observation]] = {}
        submit, feed, lock = self.writer.submit, self.stepper.feed, self._engine_lock
        read_from = self.engine.read_from
        observed = 0
        for msg in msgs:
            try:
                submit(msg)
                if type(msg) is Observation:
                    observed += 1
                    async with lock:
                        alerts += feed(msg)
                    source = read_from(msg.bed, msg.code)
                    if source is None or source == msg.device:
                        # the value the rules read: a second device's is stored, not shown
                        shown.setdefault(msg.bed, {})[msg.code] = msg
                    continue
                assert isinstance(msg, DeviceEvent)
                self.ctx.metrics.evented()
                await self._event(msg)
                async with lock:
                    alerts += feed(msg)
            except Exception:
                log.exception("pipeline: failed to handle %r", msg)
        self.ctx.metrics.observed(observed)
        await self._commit(alerts)
        hub = self.ctx.hub
        for bed, values in shown.items():
            await hub.publish_numerics(bed, values)
        now = self.ctx.clock.now()
        for msg in msgs:
            self.last_processed[msg.bed] = now  # read by app.watchdog
        self.ctx.metrics.handled((now - min(m.t for m in msgs)).total_seconds())
        self.handled += len(msgs)

    async def _event(self, ev: DeviceEvent) -> None:
        if ev.event in _CONNECTION_EVENTS and ev.device:
            await self.ctx.store.record_device_connection(
                bed=ev.bed,
                device_id=ev.device,
                state=_CONNECTION_EVENTS[ev.event],
                t=ev.t,
                reason=str(ev.fields.get("reason", "")),
            )
            device = self.ctx.views.device(ev.bed, ev.device)
            if device is not None:
                await self.ctx.hub.publish_device(device)
        elif await record_device_infusion(
            self.ctx.store, ev, monitoring_window_h=self.engine.ruleset.monitoring_window_h
        ):
            await self.ctx.hub.refresh_bed(ev.bed)

    async def _acknowledged(self, alert: Alert) -> None:
        if alert.acked_by and alert.acked_at:
            async with self._engine_lock:
                self.engine.acknowledge(alert.id, alert.acked_by, alert.acked_at)

    async def _tick(self) -> None:
        await every(self.ctx.clock, self.tick_s, self._advance, "pipeline: engine tick")

    async def _advance(self) -> None:
        async with self._engine_lock:
            alerts = self.stepper.advance(self.ctx.clock.now())
        await self._commit(alerts)

    async def _commit(self, alerts: list[Alert]) -> None:
        """Commit (then push) the transitions, in one transaction; a failing database is
        retried, never skipped: the drain waits, and the bus keeps what arrives meanwhile."""
        delay = COMMIT_RETRY_S
        while alerts:
            try:
                await self.ctx.alerts.commit_all(alerts)
                return
            except Exception:
                first = alerts[0]
                log.exception(
                    "pipeline: could not commit %d alert(s) (%s: %s at %s); retrying in %.1f s",
                    len(alerts),
                    first.id,
                    first.category,
                    first.bed,
                    delay,
                )
                await self.ctx.clock.sleep(delay)
                delay = min(delay * 2, COMMIT_RETRY_MAX_S)


async def load_snapshot(store: Store, engine: TrialEngine, at: datetime) -> Snapshot:
    """What the store kept of the engine's state at `at`: every bed's latest infusion with
    the stored observations and events the engine asks for (`restore_spans`,
    `restore_events`), and the alerts still on the station with their timers."""
    episodes = await store.station_episodes()
    infusion_of = {b.bed: b.infusion for b in await store.list_beds()}
    names = sorted(set(infusion_of) | {e.alert.bed for e in episodes})
    beds = []
    for name in names:
        row = infusion_of.get(name)
        anchor = None if row is None else _anchor(row)
        spans = engine.restore_spans(None if row is None else row.started_at, at)
        stored: list[Observation] = []
        for since, until, codes in spans:
            stored += await store.observations(name, sorted(codes), since, until)
        events = await store.events(
            name, min(s[0] for s in spans), at, names=sorted(engine.restore_events)
        )
        beds.append(
            BedSnapshot(bed=name, infusion=anchor, observations=tuple(stored), events=tuple(events))
        )
    return Snapshot(at=at, beds=tuple(beds), episodes=tuple(_episode(e) for e in episodes))


NOT_RESTORED_RULE = "engine_state_not_restored"
_NOT_RESTORED_NS = uuid.UUID("8d0f3c2e-5b7a-4e19-a6d4-2c9e7f1b3a55")


def not_restored_alert(bed: str, now: datetime, exc: Exception) -> Alert:
    """The technical alert of a bed whose engine state could not be restored at start."""
    return technical_alert(
        _NOT_RESTORED_NS,
        bed=bed,
        rule=NOT_RESTORED_RULE,
        priority=Priority.MEDIUM,
        onset=now,
        t=now,
        message=(
            "Rules restarted without their state: infusion window, baseline and open alerts "
            "of this bed are unknown to them; watch clinically and check the record"
        ),
        evidence={
            "condition": "the engine's state is restored from the store at start",
            "error": f"{type(exc).__name__}: {exc}",
            "not_assessed": ["infusion window", "baseline", "open alerts", "escalation"],
        },
    )


def _anchor(row: InfusionRow) -> InfusionAnchor:
    device = None if row.source in ("clinician", "device") else row.source
    return InfusionAnchor(
        start=row.started_at,
        end=row.ended_at,
        weight_kg=row.weight_kg,
        volume_ml=row.volume_ml,
        planned_min=row.planned_min,
        device=device,
        time_source=row.start_time_source,
        uncertainty_s=row.start_uncertainty_s,
    )


def _episode(e: StationEpisode) -> OpenEpisode:
    a = e.alert
    return OpenEpisode(
        id=a.id,
        bed=a.bed,
        rule=a.rule,
        onset=a.onset,
        iae=bool(a.iae),
        started=e.started,
        last_trigger=e.last_trigger,
        evidence=a.evidence,
        acked_by=a.acked_by,
        acked_at=a.acked_at,
        ended_at=a.ended_at,
        escalated=e.escalated,
    )


def pipeline_service(
    rules: str | Path | None = None,
    *,
    escalate_after_s: float | None = None,
) -> Callable[[AppContext], contextlib.AbstractAsyncContextManager[Pipeline]]:
    """The pipeline as an app service (see `app.main.create_app`). The rule set is loaded
    here, so a bad file stops the start before anything listens."""
    ruleset = load_ruleset(rules) if rules else default_ruleset()

    @contextlib.asynccontextmanager
    async def run(ctx: AppContext) -> AsyncIterator[Pipeline]:
        escalate = (
            escalate_after_s if escalate_after_s is not None else ctx.settings.escalate_after_s
        )
        pipeline = Pipeline(ctx, build_engine(ruleset, escalate_after_s=escalate))
        await pipeline.start()
        try:
            yield pipeline
        finally:
            await pipeline.stop()

    return run
