"""The SAE reporting clock: when each report of a serious adverse event is due to the sponsor,
and a technical alert when one is overdue.

- Every SAE: the initial report within 24 h of the site becoming aware (`aware_at`).
- A SUSAR (serious, unexpected, related to the product or the procedure): the expedited
  report within 7 days when fatal or life-threatening, within 15 days otherwise
  (ICH E2A; China GCP 2020, art. 48).
Related: WHO-UMC certain, probable, possible, conditional or unassessable (only "unlikely"
rules it out). Time is injected; `SaeClock.check()` is what its loop runs every `tick_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from app.alert_desk import technical_alert
from app.context import AppContext
from app.store._adverse import AdverseEventRow
from core.model import Alert, AlertState, Phase, Priority
from core.periodic import every
from core.records import format_time

log = logging.getLogger(__name__)

RULE = "sae_report_overdue"
NAMESPACE = uuid.UUID("2b8f7c1e-4a0d-4c55-9e2f-7d3a51c0b6a4")
SAE_DUE = timedelta(hours=24)
SUSAR_FATAL_DUE = timedelta(days=7)
SUSAR_OTHER_DUE = timedelta(days=15)
UNRELATED = frozenset({"unlikely"})
FATAL_OR_LIFE_THREATENING = frozenset({"death", "life_threatening"})


def related(ae: AdverseEventRow) -> bool:
    """Related to the product or the procedure on the WHO-UMC scale."""
    return not {ae.causality_product, ae.causality_procedure} <= UNRELATED


def is_susar(ae: AdverseEventRow) -> bool:
    """Serious, unexpected and related: a suspected unexpected serious adverse reaction."""
    return bool(ae.seriousness) and not ae.expected and related(ae)


@dataclass(frozen=True, slots=True, kw_only=True)
class Due:
    """One report owed to the sponsor."""

    report: str  # "sae_initial" or "susar"
    due: datetime
    done_at: datetime | None

    def overdue(self, now: datetime) -> bool:
        return self.done_at is None and now > self.due

    def as_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "report": self.report,
            "due": format_time(self.due),
            "done_at": format_time(self.done_at) if self.done_at else None,
            "overdue": self.overdue(now),
        }


def due_reports(ae: AdverseEventRow) -> list[Due]:
    """The reports `ae` owes (none when it is not serious)."""
    if not ae.seriousness:
        return []
    out = [Due(report="sae_initial", due=ae.aware_at + SAE_DUE, done_at=ae.sponsor_reported_at)]
    if is_susar(ae):
        fatal = bool(FATAL_OR_LIFE_THREATENING & set(ae.seriousness))
        window = SUSAR_FATAL_DUE if fatal else SUSAR_OTHER_DUE
        out.append(Due(report="susar", due=ae.aware_at + window, done_at=ae.susar_reported_at))
    return out


class SaeClock:
    """Raises one `sae_report_overdue` technical alert per overdue report (at the patient's
    bed, or under the study id when they have none), through the alert desk."""

    def __init__(self, ctx: AppContext, *, tick_s: float = 60.0) -> None:
        self.ctx = ctx
        self.tick_s = tick_s
        self._task: asyncio.Task[None] | None = None

    async def check(self) -> list[str]:
        """Commit an alert for each overdue report, and end it once the report is recorded;
        returns the ids of the overdue ones (the same id each time: a repeated check adds
        nothing)."""
        now = self.ctx.clock.now()
        raised = []
        for ae in await self.ctx.store.serious_events():
            for due in due_reports(ae):
                alert = await self._alert(ae, due, now)
                stored = await self.ctx.store.alert(alert.id)
                if due.overdue(now):
                    raised.append(alert.id)
                    if stored is None:
                        log.warning("%s", alert.message)
                        await self.ctx.alerts.commit(alert)
                elif due.done_at is not None and stored is not None and stored.ended_at is None:
                    await self.ctx.alerts.commit(_ended(stored, due.done_at, now))
        return raised

    async def _alert(self, ae: AdverseEventRow, due: Due, now: datetime) -> Alert:
        patient = await self.ctx.store.patient(ae.study_id)
        bed = patient.bed if patient is not None and patient.bed else ae.study_id
        what = "SUSAR report" if due.report == "susar" else "SAE report"
        return technical_alert(
            NAMESPACE,
            bed=bed,
            rule=f"{RULE}:{ae.id}:{due.report}",
            priority=Priority.MEDIUM,
            onset=due.due,
            t=max(now, due.due),
            message=(
                f"{what} for AE {ae.id} ({ae.term}, {ae.study_id}) was due to the sponsor at "
                f"{format_time(due.due)}"
            ),
            evidence={
                "ae_id": ae.id,
                "study_id": ae.study_id,
                "report": due.report,
                "due": format_time(due.due),
            },
        )

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sae-clock")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        await every(self.ctx.clock, self.tick_s, self.check, "sae clock: check", first=True)


@contextlib.asynccontextmanager
async def sae_clock_service(ctx: AppContext) -> AsyncIterator[SaeClock]:
    """The SAE clock for the app's lifetime (a `Service` for `create_app`)."""
    clock = SaeClock(ctx)
    await clock.start()
    try:
        yield clock
    finally:
        await clock.stop()


def _ended(alert: Alert, done_at: datetime, now: datetime) -> Alert:
    """The END of an overdue-report alert: the report was recorded at `done_at`."""
    return replace(
        alert,
        phase=Phase.END,
        state=AlertState.RESOLVED,
        t=max(now, alert.onset),
        ended_at=max(done_at, alert.onset),
        message=f"{alert.message}; sent {format_time(done_at)}",
        seq=None,
    )
