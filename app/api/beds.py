"""`/api/beds`: beds with patient, infusion, numerics and alerts; trends; clinician entries."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, status

from app.api.deps import Ctx
from app.api.trial import SiteCriteria, bed_infusion_guard, record_clinician_start
from app.auth import ClinicalUser, CurrentUser, Principal
from app.context import AppContext
from app.infusions import end_infusion as end_infusion_record
from app.live.views import infusion_dict
from app.openapi_errors import StartRefusedOut, conflict
from app.schemas import (
    BedOut,
    BloodGasIn,
    DoseIn,
    EventIn,
    EventOut,
    InfusionOut,
    InfusionStartIn,
    InfusionStopIn,
    SpanHours,
    TrendsOut,
)
from core.errors import UnitError
from core.model import DeviceEvent, EventSource, Observation
from core.params import VASOPRESSOR_CODES, parameter
from core.records import format_time_or_none as iso
from core.units import to_canonical

router = APIRouter(prefix="/api/beds", tags=["beds"])

FUTURE_TOLERANCE = timedelta(minutes=5)
"""Entered times may run this far ahead of the server's clock (unsynchronised bedside clocks)."""


def _not_found(bed: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no bed {bed!r}")


def _unprocessable(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)


async def _require_bed(ctx: AppContext, bed: str) -> None:
    if not any(row.bed == bed for row in await ctx.store.list_beds()):
        raise _not_found(bed)


def _entered_time(ctx: AppContext, t: datetime | None) -> datetime:
    now = ctx.clock.now()
    if t is None:
        return now
    if t > now + FUTURE_TOLERANCE:
        raise _unprocessable(f"t {iso(t)} is in the future")
    return t


@router.get("", response_model=list[BedOut])
async def list_beds(ctx: Ctx, _user: CurrentUser) -> list[dict[str, Any]]:
    """Every bed with its patient, infusion (and progress), latest numerics, alert summary."""
    return await ctx.views.beds()


@router.get("/{bed}", response_model=BedOut)
async def get_bed(bed: str, ctx: Ctx, _user: CurrentUser) -> dict[str, Any]:
    view = await ctx.views.bed(bed)
    if view is None:
        raise _not_found(bed)
    return view


@router.get("/{bed}/trends", response_model=TrendsOut)
async def get_trends(
    bed: str,
    ctx: Ctx,
    _user: CurrentUser,
    codes: Annotated[str, Query(min_length=1, description="comma-separated parameter codes")],
    hours: SpanHours = 6,
    points: Annotated[int, Query(ge=2, le=5000)] = 300,
) -> dict[str, Any]:
    """Each code's values over the last `hours`, reduced to at most `points` points."""
    wanted = [c.strip() for c in codes.split(",") if c.strip()]
    if not wanted:
        raise _unprocessable("codes names no parameter")
    if len(wanted) > 32:
        raise _unprocessable("at most 32 codes per request")
    await _require_bed(ctx, bed)
    until = ctx.clock.now()
    since = until - timedelta(hours=hours)
    series = await ctx.store.trends(bed, wanted, since, until, points=points)
    out: dict[str, Any] = {}
    for code in wanted:
        param = parameter(code)
        out[code] = {
            "unit": param.unit if param else None,
            "points": [(iso(t), v) for t, v in series.get(code, [])],
        }
    return {"bed": bed, "since": iso(since), "until": iso(until), "series": out}


@router.post(
    "/{bed}/infusion/start",
    response_model=InfusionOut,
    status_code=201,
    responses=conflict(
        "an infusion is already running, or the patient's start is not allowed",
        model=StartRefusedOut,
    ),
)
async def start_infusion(
    bed: str, body: InfusionStartIn, ctx: Ctx, user: ClinicalUser, criteria: SiteCriteria
) -> dict[str, Any]:
    """Record the study infusion's start and tell the rules engine (a clinician event).

    The trial's rule: no start for an ineligible or incomplete record (409 with the
    checklist) unless `override_reason` is given, which is written to the audit log."""
    await _require_bed(ctx, bed)
    t = _entered_time(ctx, body.t)
    if body.override_reason:
        await ctx.store.audit(
            actor=user.username,
            action="trial.override",
            target=bed,
            details={"reason": body.override_reason, "via": "bed infusion start"},
            t=ctx.clock.now(),
        )
    else:
        await bed_infusion_guard(bed, ctx, user, criteria)
    weight = body.weight_kg
    if weight is None:
        patient = await ctx.store.patient_at_bed(bed)
        if patient is None:
            raise _unprocessable("weight_kg is required: no patient is enrolled at this bed")
        weight = patient.weight_kg
    row, event = await record_clinician_start(
        ctx, bed, t, weight_kg=weight, volume_ml=body.volume_ml, planned_min=body.planned_min
    )
    await _publish(ctx, user, event)
    await ctx.hub.refresh_bed(bed)
    return infusion_dict(row, await ctx.views.latest(bed), ctx.clock.now())


@router.post(
    "/{bed}/infusion/stop",
    response_model=InfusionOut,
    responses=conflict("no infusion is running at the bed"),
)
async def stop_infusion(
    bed: str,
    ctx: Ctx,
    user: ClinicalUser,
    body: Annotated[InfusionStopIn | None, Body()] = None,
) -> dict[str, Any]:
    """Record the end of the running infusion (409 when none runs)."""
    await _require_bed(ctx, bed)
    t = _entered_time(ctx, body.t if body else None)
    running = await ctx.store.current_infusion(bed)
    if running is None or not running.running:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"no infusion is running at {bed}")
    if t < running.started_at:
        raise _unprocessable(f"t {iso(t)} is before the infusion started")
    event = DeviceEvent(t=t, bed=bed, event="infusion_end", fields={}, source=EventSource.CLINICIAN)
    row = await end_infusion_record(ctx.store, event)
    if row is None:  # ended by someone else meanwhile
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"no infusion is running at {bed}")
    await _publish(ctx, user, event)
    await ctx.hub.refresh_bed(bed)
    return infusion_dict(row, await ctx.views.latest(bed), ctx.clock.now())


@router.post("/{bed}/events", response_model=EventOut, status_code=201)
async def post_event(bed: str, body: EventIn, ctx: Ctx, user: ClinicalUser) -> dict[str, Any]:
    """A clinician entry: clinical_sign, cardioversion, cardiac_arrest, death, extubation,
    blood_gas or vasopressor_status (the confirmed pre-infusion vasopressors)."""
    await _require_bed(ctx, bed)
    t = _entered_time(ctx, body.t)
    if isinstance(body, BloodGasIn):  # PaO2 and PaCO2 converted to mmHg, as typed too
        fields = body.event_fields()
    else:
        fields = body.model_dump(exclude={"event", "t"}, exclude_none=True)
    fields["entered_by"] = user.username
    event = DeviceEvent(t=t, bed=bed, event=body.event, fields=fields, source=EventSource.CLINICIAN)
    await _publish(ctx, user, event)
    return {
        "bed": bed,
        "event": event.event,
        "t": iso(t),
        "fields": fields,
        "source": event.source.value,
    }


@router.post("/{bed}/doses", response_model=EventOut, status_code=201)
async def post_dose(bed: str, body: DoseIn, ctx: Ctx, user: ClinicalUser) -> dict[str, Any]:
    """A vasopressor dose read off a pump that is not networked: it goes to the rules as the
    dose observation such a pump would send (in the drug's canonical unit, device `manual`),
    so escalation and "third vasopressor" rules see it. Audited."""
    await _require_bed(ctx, bed)
    t = _entered_time(ctx, body.t)
    code = VASOPRESSOR_CODES[body.drug.lower()]
    param = parameter(code)
    assert param is not None  # every vasopressor code is in the vocabulary
    patient = await ctx.store.patient_at_bed(bed)
    try:
        value = to_canonical(
            code, body.dose, body.unit, weight_kg=patient.weight_kg if patient else None
        )
    except UnitError as exc:
        raise _unprocessable(f"unit {body.unit!r}: {exc}") from None
    await ctx.bus.publish(
        Observation(t=t, bed=bed, code=code, value=value, unit=param.unit, device="manual")
    )
    fields: dict[str, Any] = {
        "drug": body.drug.lower(),
        "dose": body.dose,
        "unit": body.unit,
        "code": code,
        "value": value,
        "canonical_unit": param.unit,
    }
    if body.note:
        fields["note"] = body.note
    await ctx.store.audit(
        actor=user.username,
        action="dose:manual",
        target=bed,
        details={"t": iso(t), **fields},
        t=ctx.clock.now(),
    )
    return {
        "bed": bed,
        "event": "manual_dose",
        "t": iso(t),
        "fields": fields,
        "source": "clinician",
    }


async def _publish(ctx: AppContext, user: Principal, event: DeviceEvent) -> None:
    """Put a clinician's event on the bus (the engine and the store take it from there)."""
    await ctx.bus.publish(event)
    await ctx.store.audit(
        actor=user.username,
        action=f"event:{event.event}",
        target=event.bed,
        details={"t": iso(event.t), **event.fields},
        t=ctx.clock.now(),
    )
