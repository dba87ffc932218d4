"""The per-bed watchdog: a technical alert when the rules engine stops processing a live bed.

The engine cannot raise an alert about itself being stuck, so this is its own service beside
the pipeline. Once a `tick_s` (on the injected clock) it looks at every bed with a connected
device (`ctx.devices`) and at when the pipeline last finished a message of that bed
(`Pipeline.last_processed`). A bed silent since the later of that mark, the moment a device of
the bed connected and the watchdog's start, for `stall_s` (or a device's own `stale_after`
when longer: a central that sends once a minute), gets a high-priority technical alert
`engine_stalled` (id uuid5 of bed, rule and onset), committed through the alert desk; the
first message processed for the bed after it ends the alert. An alert of the watchdog
still open in the store at start is taken over, so it ends like one raised in this run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from app.alert_desk import technical_alert
from app.context import AppContext
from app.devices import RunningDevice
from app.main import Service
from core.model import Alert, AlertState, Phase, Priority
from core.periodic import every
from core.records import format_time
from drivers.base import ConnectionState

log = logging.getLogger(__name__)

RULE = "engine_stalled"
NAMESPACE = uuid.UUID("6c1f3e8a-2f55-4f0e-9d43-0b7d6a1c2e91")


class Progress(Protocol):
    """What the watchdog reads of the pipeline: per bed, when it last finished a message."""

    @property
    def last_processed(self) -> Mapping[str, datetime]: ...


class Watchdog:
    """Raises and ends `engine_stalled` per bed; see the module docstring."""

    def __init__(
        self, ctx: AppContext, progress: Progress, *, stall_s: float, tick_s: float = 1.0
    ) -> None:
        if not stall_s > 0 or not tick_s > 0:
            raise ValueError("stall_s and tick_s must be positive")
        self.ctx = ctx
        self.progress = progress
        self.stall = timedelta(seconds=stall_s)
        self.tick_s = tick_s
        self.started = ctx.clock.now()
        self.open: dict[str, Alert] = {}
        """bed → the start of its open `engine_stalled` alert."""
        self._mark_then: dict[str, datetime | None] = {}
        """bed → its last processed mark when its alert started (None: none, or a past run)."""
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        for episode in await self.ctx.store.station_episodes():
            a = episode.alert
            if a.rule == RULE and a.ended_at is None:
                self.open[a.bed] = a
        self._task = asyncio.create_task(self._run(), name="watchdog")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        await every(self.ctx.clock, self.tick_s, self.check, "watchdog: check")

    def live_beds(self) -> dict[str, list[tuple[str, datetime, timedelta]]]:
        """Per bed, its connected devices: (device, connected since, the silence it allows:
        `stall_s`, or the device's own `stale_after` when longer, e.g. a slow HL7 central)."""
        live: dict[str, list[tuple[str, datetime, timedelta]]] = {}
        for (bed, device), provider in self.ctx.devices.items():
            status = provider.status
            if status.state is not ConnectionState.CONNECTED:
                continue
            own = provider.config.stale_after if isinstance(provider, RunningDevice) else 0.0
            allowed = max(self.stall, timedelta(seconds=own))
            live.setdefault(bed, []).append((device, status.since or self.started, allowed))
        return live

    async def check(self) -> None:
        """One look at every bed: start what has stalled, end what has resumed."""
        now = self.ctx.clock.now()
        marks = self.progress.last_processed
        for bed, alert in list(self.open.items()):
            mark, before = marks.get(bed), self._mark_then.get(bed)
            if mark is not None and (before is None or mark > before):
                await self._end(alert, now, mark)
        for bed, devices in self.live_beds().items():
            if bed in self.open:
                continue
            mark = marks.get(bed)
            floor = max(self.started, mark) if mark else self.started
            onset = min(max(floor, since) + allowed for _, since, allowed in devices)
            if now >= onset:
                await self._start(bed, onset, now, [d for d, _, _ in devices], mark)

    async def _start(
        self,
        bed: str,
        onset: datetime,
        now: datetime,
        devices: list[str],
        mark: datetime | None,
    ) -> None:
        quiet_from = max(mark or self.started, self.started)
        silent_s = (now - quiet_from).total_seconds()
        alert = technical_alert(
            NAMESPACE,
            bed=bed,
            rule=RULE,
            priority=Priority.HIGH,
            onset=onset,
            t=now,
            message=(
                f"Alarm monitoring stalled: nothing from {', '.join(sorted(devices))} processed "
                f"for {silent_s:.0f} s; this bed's alerts cannot be raised"
            ),
            evidence={
                "silent_s": round(silent_s, 3),
                "devices": sorted(devices),
                "last_processed": format_time(mark) if mark else None,
            },
        )
        log.error("watchdog: %s: %s", bed, alert.message)
        await self.ctx.alerts.commit(alert)
        self.open[bed] = alert
        self._mark_then[bed] = mark

    async def _end(self, alert: Alert, now: datetime, mark: datetime) -> None:
        ended = replace(
            alert,
            phase=Phase.END,
            state=AlertState.RESOLVED,
            t=max(now, alert.onset),
            ended_at=max(mark, alert.onset),
            message="Alarm monitoring resumed",
            evidence={**alert.evidence, "resumed_at": format_time(mark)},
            seq=None,
        )
        log.info("watchdog: %s: processing resumed", alert.bed)
        await self.ctx.alerts.commit(ended)
        del self.open[alert.bed]
        self._mark_then.pop(alert.bed, None)


def watched(
    pipeline: Callable[[AppContext], contextlib.AbstractAsyncContextManager[Progress]],
    *,
    stall_s: float | None = None,
    tick_s: float = 1.0,
) -> Service:
    """`pipeline` (a service yielding a `Progress`, e.g. `pipeline_service(...)`) with its
    watchdog: it starts after the pipeline and stops before it. `stall_s` defaults to the
    setting `watchdog_stall_s`."""

    @contextlib.asynccontextmanager
    async def run(ctx: AppContext) -> AsyncIterator[Progress]:
        async with pipeline(ctx) as progress:
            stall = stall_s if stall_s is not None else ctx.settings.watchdog_stall_s
            dog = Watchdog(ctx, progress, stall_s=stall, tick_s=tick_s)
            await dog.start()
            try:
                yield progress
            finally:
                await dog.stop()

    return run
