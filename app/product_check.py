"""The product checklist as the service applies it, and the guard on pump starts.

`product_status` reads a patient's newest product record and says what is missing at a time.
`product_guard_service` watches the bus: a pump that starts the study infusion while the
bed's patient has no complete checklist raises an `infusion_problem` alert
(`start_without_checklist`) that asks for the reason, which a clinician then gives through
`POST /api/patients/{study_id}/unchecked-start-reason` (audited).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from app.context import AppContext
from app.store import PatientRow, Store
from core.model import Alert, AlertState, Category, DeviceEvent, EventSource, Phase, Priority
from core.records import format_time
from monitors.trial.product import Preservation, Product, WeightBasis, problems

log = logging.getLogger(__name__)

RULE = "start_without_checklist"
NAMESPACE = uuid.UUID("9a4d2c6e-1b7f-4e3a-8c5d-2f6e0b1a7d93")


async def product_of(store: Store, study_id: str) -> Product | None:
    """The patient's product checklist in force, if any."""
    row = await store.product(study_id)
    if row is None:
        return None
    return Product(
        weight_basis=WeightBasis(row.weight_basis),
        dose_weight_kg=row.dose_weight_kg,
        bag_id=row.bag_id,
        lot_id=row.lot_id,
        cell_count=row.cell_count,
        viability_pct=row.viability_pct,
        prepared_at=row.prepared_at,
        expires_at=row.expires_at,
        preservation=Preservation(row.preservation),
        washed=row.washed,
        lumen_confirmed=row.lumen_confirmed,
    )


async def product_status(
    ctx: AppContext, patient: PatientRow, at: datetime
) -> tuple[Product | None, list[str]]:
    """The product record and what keeps its checklist from being complete at `at`."""
    product = await product_of(ctx.store, patient.study_id)
    min_v = ctx.settings.product_min_viability_pct
    return product, problems(product, at, min_viability_pct=min_v)


def product_dict(product: Product | None, missing: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"complete": not missing, "problems": missing}
    if product is not None:
        out |= {
            "weight_basis": product.weight_basis.value,
            "dose_weight_kg": product.dose_weight_kg,
            "dose_cells": product.dose_cells,
            "bag_id": product.bag_id,
            "lot_id": product.lot_id,
            "cell_count": product.cell_count,
            "viability_pct": product.viability_pct,
            "prepared_at": format_time(product.prepared_at),
            "expires_at": format_time(product.expires_at),
            "preservation": product.preservation.value,
            "washed": product.washed,
            "lumen_confirmed": product.lumen_confirmed,
        }
    return out


async def check_pump_start(ctx: AppContext, ev: DeviceEvent) -> Alert | None:
    """The alert for a pump's study-infusion start without a complete checklist (committed),
    or None when the checklist was complete or no patient is at the bed."""
    if ev.event != "infusion_start" or ev.source is EventSource.CLINICIAN:
        return None
    patient = await ctx.store.patient_at_bed(ev.bed)
    if patient is None:
        return None
    _, missing = await product_status(ctx, patient, ev.t)
    if not missing:
        return None
    now = ctx.clock.now()
    alert = Alert(
        id=str(uuid.uuid5(NAMESPACE, f"{ev.bed}\x1f{patient.study_id}\x1f{format_time(ev.t)}")),
        bed=ev.bed,
        category=Category.INFUSION_PROBLEM,
        rule=RULE,
        priority=Priority.MEDIUM,
        phase=Phase.START,
        state=AlertState.ACTIVE,
        onset=ev.t,
        t=max(now, ev.t),
        message=(
            f"Study infusion started at the pump without a complete product checklist "
            f"({'; '.join(missing)}): record the reason"
        ),
        evidence={"study_id": patient.study_id, "problems": missing, "reason_required": True},
    )
    log.warning("%s: %s", ev.bed, alert.message)
    await ctx.alerts.commit(alert)
    return alert


@contextlib.asynccontextmanager
async def product_guard_service(ctx: AppContext) -> AsyncIterator[None]:
    """Watch the bus for pump starts for the app's lifetime (a `Service`)."""
    sub = ctx.bus.subscribe(events_only=True)

    async def run() -> None:
        while True:
            try:
                msg = await sub.get()
            except EOFError:
                return
            if isinstance(msg, DeviceEvent):
                try:
                    await check_pump_start(ctx, msg)
                except Exception:  # the guard must outlive a failing store or desk
                    log.exception("product guard: check failed")

    task = asyncio.create_task(run(), name="product-guard")
    try:
        yield
    finally:
        sub.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
