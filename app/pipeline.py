"""The service's spine: bus → (store, rules engine) → committed alerts → station hub.

One subscriber drains the bus in order:
- observations go to the batch writer (off the hot path) and, coalesced, to the hub;
- events are stored; a pump's `infusion_start` / `infusion_end` also opens or closes the
  bed's infusion record (clinician entries are recorded by the API that takes them);
  driver connection events go to the device history and the station's device panel;
- everything goes through the rules engine; every alert transition it returns is committed
  to the database and only then pushed to the stations (`Hub.commit_alert`).
A ticker drives the engine's time-based transitions (persistence met, stale data,
escalation) once a second on the injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from app.api.views import device_dict
from app.context import AppContext
from app.store.writer import ObservationWriter
from core.model import Alert, DeviceEvent, EventSource, Observation, Phase
from monitors import Engine, default_ruleset, load_ruleset
from monitors.order_check import TrialEngine

log = logging.getLogger(__name__)

COMMIT_RETRY_S = 0.5
COMMIT_RETRY_MAX_S = 10.0
_CONNECTION_EVENTS = {
    "device_connected": "connected",
    "device_disconnected": "disconnected",
    "device_stale": "stale",
}


class Pipeline:
    """Drains the bus into the store and the engine; commits and pushes alerts."""

    def __init__(self, ctx: AppContext, engine: Engine, *, tick_s: float = 1.0) -> None:
        self.ctx = ctx
        self.engine = engine
        self.tick_s = tick_s
        self.writer = ObservationWriter(ctx.store, ctx.clock)
        self._sub = ctx.bus.subscribe()
        self._tasks: list[asyncio.Task[None]] = []
        self._engine_lock = asyncio.Lock()

    async def start(self) -> None:
        self.writer.start()
        self._tasks = [
            asyncio.create_task(self._drain(), name="pipeline-drain"),
            asyncio.create_task(self._tick(), name="pipeline-tick"),
        ]

    async def stop(self) -> None:
        self._sub.close()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await self.writer.stop()

    async def _drain(self) -> None:
        async for msg in self._sub:
            try:
                await self.handle(msg)
            except Exception:  # one bad message must never stop the spine
                log.exception("pipeline: failed to handle %r", msg)

    async def handle(self, msg: Observation | DeviceEvent | Alert) -> None:
        if isinstance(msg, Alert):
            if msg.phase is Phase.ACK and msg.acked_by and msg.acked_at:
                self.engine.acknowledge(msg.id, msg.acked_by, msg.acked_at)
            return
        if isinstance(msg, Observation):
            self.writer.submit(msg)
            self.ctx.metrics.observed()
            await self.ctx.hub.publish_numerics(msg.bed, {msg.code: msg})
        else:
            self.writer.submit(msg)
            self.ctx.metrics.evented()
            await self._event(msg)
        async with self._engine_lock:
            alerts = self.engine.feed(msg)
        await self._commit(alerts)

    async def _event(self, ev: DeviceEvent) -> None:
        store, hub = self.ctx.store, self.ctx.hub
        if ev.event in _CONNECTION_EVENTS and ev.device:
            await store.record_device_connection(
                bed=ev.bed,
                device_id=ev.device,
                state=_CONNECTION_EVENTS[ev.event],
                t=ev.t,
                reason=str(ev.fields.get("reason", "")),
            )
            await self._publish_device(ev.bed, ev.device)
        elif ev.event == "infusion_start" and ev.source is not EventSource.CLINICIAN:
            current = await store.current_infusion(ev.bed)
            if current is not None and current.ended_at is None:
                log.warning(
                    "%s: pump reports a new infusion start while one is running; "
                    "the first start stands",
                    ev.bed,
                )
                return
            await store.start_infusion(
                bed=ev.bed,
                t=ev.t,
                weight_kg=_num(ev.fields.get("weight_kg")),
                volume_ml=_num(ev.fields.get("volume_ml")),
                planned_min=_num(ev.fields.get("planned_min")),
                source=ev.device or "device",
            )
            await hub.refresh_bed(ev.bed)
        elif ev.event == "infusion_end" and ev.source is not EventSource.CLINICIAN:
            await store.end_infusion(bed=ev.bed, t=ev.t)
            await hub.refresh_bed(ev.bed)

    async def _publish_device(self, bed: str, device_id: str) -> None:
        provider = self.ctx.devices.get(bed, device_id)
        if provider is not None:
            await self.ctx.hub.publish_device(device_dict(bed, device_id, provider))

    async def _tick(self) -> None:
        while True:
            await self.ctx.clock.sleep(self.tick_s)
            try:
                async with self._engine_lock:
                    alerts = self.engine.tick(self.ctx.clock.now())
                await self._commit(alerts)
            except Exception:
                log.exception("pipeline: engine tick failed")

    async def _commit(self, alerts: list[Alert]) -> None:
        """Commit (then push) each transition; a failing database is retried, never skipped:
        the drain waits, and the bus keeps what arrives meanwhile, in order."""
        for alert in alerts:
            delay = COMMIT_RETRY_S
            while True:
                try:
                    await self.ctx.hub.commit_alert(alert)
                    break
                except Exception:
                    log.exception(
                        "pipeline: could not commit alert %s (%s at %s); retrying in %.1f s",
                        alert.id,
                        alert.category,
                        alert.bed,
                        delay,
                    )
                    await self.ctx.clock.sleep(delay)
                    delay = min(delay * 2, COMMIT_RETRY_MAX_S)


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def pipeline_service(
    rules: str | Path | None = None,
    *,
    escalate_after_s: float | None = None,
) -> Callable[[AppContext], contextlib.AbstractAsyncContextManager[Pipeline]]:
    """The pipeline as an app service (see `app.main.create_app`)."""
    ruleset = load_ruleset(rules) if rules else default_ruleset()

    @contextlib.asynccontextmanager
    async def run(ctx: AppContext) -> AsyncIterator[Pipeline]:
        escalate = (
            escalate_after_s if escalate_after_s is not None else (ctx.settings.escalate_after_s)
        )
        # the trial's engine: the rule set plus the study order check (rate, VTBI, pauses)
        pipeline = Pipeline(ctx, TrialEngine(ruleset, escalate_after_s=escalate))
        await pipeline.start()
        try:
            yield pipeline
        finally:
            await pipeline.stop()

    return run
