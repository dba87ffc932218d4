"""The trial workflow: eligibility checklist, blood gases, exclusion confirmations, the order,
the guarded infusion start, index trends, and the 24 h IAE report.

    GET  /api/patients/{study_id}/trial              patient view: order, checklist, gases
    GET  /api/patients/{study_id}/eligibility        the checklist, computed now
    GET  /api/patients/{study_id}/blood-gases        gases with the ventilator's FiO2/PEEP
    POST /api/patients/{study_id}/blood-gases        enter a gas in mmHg or kPa (also sent to
                                                     the engine, in mmHg)
    PUT  /api/patients/{study_id}/exclusions/{item}  confirm an exclusion criterion
    GET  /api/patients/{study_id}/order              dose and allowed rate
    POST /api/patients/{study_id}/infusion/start     start, only if eligible or overridden
    GET  /api/patients/{study_id}/report             ?format=html|pdf|csv|json
    GET  /api/beds/{bed}/indices                     index trends (?hours=24)

The arm is never in a view; the report carries it only for an admin who asks (`arm=true`).
"""

from __future__ import annotations

import asyncio
import functools
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import Response
from pydantic import Field

from app.adverse_view import ae_dict
from app.api.deps import Ctx
from app.api.site import site_of
from app.auth import ClinicalUser, CurrentUser, Principal, TrialDataUser
from app.context import AppContext
from app.infusions import InfusionRunning
from app.infusions import start_infusion as start_infusion_record
from app.live.views import infusion_dict
from app.openapi_errors import StartRefusedOut, conflict, forbidden
from app.product_check import product_dict, product_status
from app.report import ReportFormat, build_report, render
from app.report.gather import checklist, gases, index_trends
from app.report.locale import pick_language, pick_zone
from app.schemas import In, PlannedMin, SpanHours, UtcTime, VolumeMl
from app.store import InfusionRow, PatientRow
from app.store.rows import Role
from core.model import DeviceEvent, EventSource
from core.records import format_time_or_none as iso
from monitors import RuleSet, default_ruleset
from monitors.trial.eligibility import EXCLUSION_IDS, EXCLUSIONS, Checklist, Criteria
from monitors.trial.enrolment import GasUnit, ImplausibleGas, check_pao2, gas_to_mmhg
from monitors.trial.indices import INDICES
from monitors.trial.order_check import StudyOrder

router = APIRouter(prefix="/api", tags=["trial"])

ORDER = StudyOrder()
FUTURE_TOLERANCE = timedelta(minutes=5)


@functools.cache
def _ruleset() -> RuleSet:
    return default_ruleset()


def site_criteria(request: Request) -> Criteria:
    """The protocol's criteria with the site's settings (`site.qualifying_gas_max_h`)."""
    return Criteria(qualifying_gas_max_h=site_of(request).qualifying_gas_max_h)


SiteCriteria = Annotated[Criteria, Depends(site_criteria)]


# -- request bodies ---------------------------------------------------------------------------
class BloodGasEntry(In):
    """A gas as the analyser prints it: PaO2 (and PaCO2) in `unit`, converted exactly."""

    t: UtcTime | None = Field(default=None, description="When the gas was drawn; now if omitted.")
    unit: GasUnit = Field(description="The unit of pao2 and paco2: mmHg or kPa.")
    pao2: Annotated[float, Field(gt=0, le=800)]
    paco2: Annotated[float, Field(gt=0, le=250)] | None = None
    ph: Annotated[float, Field(ge=6.5, le=8.0)] | None = None
    fio2_pct: Annotated[float, Field(ge=21, le=100)] | None = Field(
        default=None,
        description="Only when the ventilator does not report FiO2; it is used instead of it.",
    )
    note: Annotated[str, Field(max_length=500)] | None = None


class ExclusionEntry(In):
    present: bool = Field(description="true: the criterion applies (the patient is excluded)")
    note: Annotated[str, Field(max_length=500)] | None = None


class TrialInfusionStartIn(In):
    volume_ml: VolumeMl = ORDER.volume_ml
    planned_min: PlannedMin
    t: UtcTime | None = Field(default=None, description="Start time; now when omitted.")
    override_reason: Annotated[str, Field(min_length=10, max_length=1000)] | None = Field(
        default=None,
        description="Start although the checklist is not complete and met: why (audited).",
    )


# -- helpers ----------------------------------------------------------------------------------
async def patient_or_404(ctx: AppContext, study_id: str) -> PatientRow:
    row = await ctx.store.patient(study_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no patient {study_id!r}")
    return row


def entered_time(ctx: AppContext, t: datetime | None) -> datetime:
    now = ctx.clock.now()
    if t is None:
        return now
    if t > now + FUTURE_TOLERANCE:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"t {iso(t)} is in the future"
        )
    return t


def checklist_dict(check: Checklist) -> dict[str, Any]:
    return {
        "at": iso(check.now),
        "verdict": check.verdict.value,
        "eligible": check.eligible,
        "items": [i.as_dict() for i in check.items],
    }


def order_dict(weight_kg: float | None) -> dict[str, Any]:
    """The order for a weight (for the bed view: `infusion_order` next to `patient`)."""
    return ORDER.as_dict(weight_kg)


def _patient_view(p: PatientRow) -> dict[str, Any]:
    return {
        "study_id": p.study_id,
        "bed": p.bed,
        "weight_kg": p.weight_kg,
        "age_years": p.age_years,
        "ards_onset": iso(p.ards_onset),
        "enrolled_at": iso(p.enrolled_at),
        "discharged_at": iso(p.discharged_at),
    }


# -- patient views ----------------------------------------------------------------------------
@router.get("/patients/{study_id}/trial")
async def trial_view(
    study_id: str, ctx: Ctx, _user: CurrentUser, criteria: SiteCriteria
) -> dict[str, Any]:
    """Everything the trial workflow shows for a patient (never the arm), with each adverse
    event's reports and when they are due."""
    p = await patient_or_404(ctx, study_id)
    now = ctx.clock.now()
    check, found = await checklist(ctx.store, p, now, criteria)
    infusion = None
    if p.bed is not None:
        row = await ctx.store.current_infusion(p.bed)
        if row is not None and row.study_id == p.study_id:
            infusion = infusion_dict(row, await ctx.views.latest(p.bed), now)
    product, missing = await product_status(ctx, p, now)
    return {
        "patient": _patient_view(p),
        "order": order_dict(product.dose_weight_kg if product else p.weight_kg),
        "product": product_dict(product, missing),
        "eligibility": checklist_dict(check),
        "blood_gases": [g.as_dict() for g in found],
        "infusion": infusion,
        "exclusions": [{"id": i, "label": label} for i, label in EXCLUSIONS],
        "adverse_events": [
            ae_dict(ae, now) for ae in await ctx.store.adverse_events_of(p.study_id)
        ],
    }


@router.get("/patients/{study_id}/eligibility")
async def eligibility(
    study_id: str, ctx: Ctx, _user: CurrentUser, criteria: SiteCriteria
) -> dict[str, Any]:
    """The checklist computed now from the stored data (met / not_met / unknown per item)."""
    p = await patient_or_404(ctx, study_id)
    check, _ = await checklist(ctx.store, p, ctx.clock.now(), criteria)
    return checklist_dict(check)


@router.get("/patients/{study_id}/order")
async def order(study_id: str, ctx: Ctx, _user: CurrentUser) -> dict[str, Any]:
    """The dose (10^6 cells/kg × the weight basis of the product record, else the actual
    weight) and the allowed rate range for this patient."""
    p = await patient_or_404(ctx, study_id)
    product, _ = await product_status(ctx, p, ctx.clock.now())
    return order_dict(product.dose_weight_kg if product else p.weight_kg)


@router.get("/patients/{study_id}/blood-gases")
async def list_gases(study_id: str, ctx: Ctx, _user: CurrentUser) -> list[dict[str, Any]]:
    p = await patient_or_404(ctx, study_id)
    return [g.as_dict() for g in await gases(ctx.store, bed=p.bed, study_id=p.study_id)]


@router.post("/patients/{study_id}/blood-gases", status_code=201)
async def add_gas(
    study_id: str, body: BloodGasEntry, ctx: Ctx, user: TrialDataUser
) -> dict[str, Any]:
    """Record an arterial blood gas, converted to mmHg exactly (422 for a PaO2 below the
    plausibility floor); it also goes to the rules engine as a `blood_gas` event."""
    p = await patient_or_404(ctx, study_id)
    t = entered_time(ctx, body.t)
    pao2 = gas_to_mmhg(body.pao2, body.unit)
    paco2 = None if body.paco2 is None else gas_to_mmhg(body.paco2, body.unit)
    try:
        check_pao2(pao2)
    except ImplausibleGas as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    row = await ctx.store.add_blood_gas(
        study_id=study_id,
        t=t,
        entered_by=user.username,
        pao2_mmhg=pao2,
        paco2_mmhg=paco2,
        ph=body.ph,
        fio2_pct=body.fio2_pct,
        note=body.note,
        entered=(body.unit.value, body.pao2, body.paco2),
    )
    fields: dict[str, Any] = {
        k: v
        for k, v in (
            ("pao2_mmhg", pao2),
            ("paco2_mmhg", paco2),
            ("ph", body.ph),
            ("fio2_pct", body.fio2_pct),
        )
        if v is not None
    }
    fields |= {"entered_by": user.username, "study_id": study_id}
    if p.bed is not None:
        await ctx.bus.publish(
            DeviceEvent(
                t=t, bed=p.bed, event="blood_gas", fields=fields, source=EventSource.CLINICIAN
            )
        )
    await ctx.store.audit(
        actor=user.username,
        action="trial.blood_gas",
        target=study_id,
        details={
            "t": iso(t),
            "entered": {"unit": body.unit.value, "pao2": body.pao2, "paco2": body.paco2},
            **{k: v for k, v in fields.items() if k != "entered_by"},
        },
        t=ctx.clock.now(),
    )
    found = await gases(ctx.store, bed=p.bed, study_id=study_id, since=row.t, until=row.t)
    return found[0].as_dict() if found else {"t": iso(row.t), "pao2_mmhg": row.pao2_mmhg}


@router.put("/patients/{study_id}/exclusions/{item}")
async def confirm_exclusion(
    study_id: str,
    item: str,
    body: ExclusionEntry,
    ctx: Ctx,
    user: TrialDataUser,
    criteria: SiteCriteria,
) -> dict[str, Any]:
    """A clinician confirms whether one exclusion criterion applies (audited); returns the
    checklist as it now stands."""
    p = await patient_or_404(ctx, study_id)
    if item not in EXCLUSION_IDS:
        known = ", ".join(i for i, _ in EXCLUSIONS)
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"no exclusion criterion {item!r} (known: {known})"
        )
    now = ctx.clock.now()
    await ctx.store.confirm_exclusion(
        study_id=study_id, item=item, present=body.present, by=user.username, t=now, note=body.note
    )
    check, _ = await checklist(ctx.store, p, now, criteria)
    return checklist_dict(check)


# -- the guarded infusion start ----------------------------------------------------------------
async def bed_infusion_guard(
    bed: str, ctx: Ctx, user: ClinicalUser, criteria: SiteCriteria
) -> None:
    """A dependency for `POST /api/beds/{bed}/infusion/start`: refuse (409) unless the bed's
    patient is enrolled, eligible and has a complete product checklist; an override goes
    through the patient endpoint."""
    p = await ctx.store.patient_at_bed(bed)
    if p is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail={
                "message": f"no patient is enrolled at {bed}: enrol first",
                "eligibility": None,
            },
        )
    now = ctx.clock.now()
    check, _ = await checklist(ctx.store, p, now, criteria)
    product, missing = await product_status(ctx, p, now)
    if not check.eligible or missing:
        what = check.verdict.value if not check.eligible else "missing its product checklist"
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail={
                "message": (
                    f"patient {p.study_id} is {what}: start through "
                    f"POST /api/patients/{p.study_id}/infusion/start with an override_reason"
                ),
                "eligibility": checklist_dict(check),
                "product": product_dict(product, missing),
            },
        )


async def record_clinician_start(
    ctx: AppContext,
    bed: str,
    t: datetime,
    *,
    weight_kg: float | None,
    volume_ml: float | None,
    planned_min: float | None,
) -> tuple[InfusionRow, DeviceEvent]:
    """A clinician's infusion start, recorded (`app.infusions`; 409 while one runs). The
    caller puts the returned event on the bus once it has audited the start."""
    fields = {"weight_kg": weight_kg, "volume_ml": volume_ml, "planned_min": planned_min}
    event = DeviceEvent(
        t=t, bed=bed, event="infusion_start", fields=fields, source=EventSource.CLINICIAN
    )
    try:
        row = await start_infusion_record(ctx.store, event)
    except InfusionRunning:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail=f"an infusion is running at {bed}"
        ) from None
    return row, event


@router.post(
    "/patients/{study_id}/infusion/start",
    status_code=201,
    responses=conflict(
        "the patient is not at a bed, an infusion runs, or the start is not allowed",
        model=StartRefusedOut,
    ),
)
async def start_infusion(
    study_id: str,
    body: TrialInfusionStartIn,
    ctx: Ctx,
    user: ClinicalUser,
    criteria: SiteCriteria,
) -> dict[str, Any]:
    """Start the study infusion: refused (409, with the checklist) when the record is
    ineligible or incomplete, unless `override_reason` is given — then audit-logged."""
    p = await patient_or_404(ctx, study_id)
    if p.bed is None or p.discharged_at is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"{study_id} is not at a bed")
    bed = p.bed
    t = entered_time(ctx, body.t)
    current = await ctx.store.current_infusion(bed)
    if current is not None and current.running:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"an infusion is running at {bed}")
    done = await ctx.store.infusions(study_id=study_id)
    if done and body.override_reason is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"{study_id} already had the study infusion at {iso(done[0].started_at)}",
        )
    check, _ = await checklist(ctx.store, p, t, criteria)
    product, missing = await product_status(ctx, p, t)
    if (not check.eligible or missing) and body.override_reason is None:
        what = check.verdict.value if not check.eligible else "missing its product checklist"
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail={
                "message": f"{study_id} is {what}: give override_reason to start",
                "eligibility": checklist_dict(check),
                "product": product_dict(product, missing),
            },
        )
    now = ctx.clock.now()
    if body.override_reason is not None:
        await ctx.store.audit(
            actor=user.username,
            action="trial.override",
            target=study_id,
            details={
                "reason": body.override_reason,
                "verdict": check.verdict.value,
                "failing": {i.id: i.status.value for i in check.failing()},
                "product_problems": missing,
                "repeat_infusion": bool(done),
                "bed": bed,
            },
            t=now,
        )
    row, event = await record_clinician_start(
        ctx, bed, t, weight_kg=p.weight_kg, volume_ml=body.volume_ml, planned_min=body.planned_min
    )
    await ctx.bus.publish(event)
    await ctx.store.audit(
        actor=user.username,
        action="trial.infusion_start",
        target=study_id,
        details={"t": iso(t), "bed": bed, "verdict": check.verdict.value, **event.fields},
        t=now,
    )
    await ctx.hub.refresh_bed(bed)
    out = infusion_dict(row, await ctx.views.latest(bed), now)
    out["eligibility"] = checklist_dict(check)
    out["order"] = order_dict(product.dose_weight_kg if product else p.weight_kg)
    out["product"] = product_dict(product, missing)
    return out


# -- indices ----------------------------------------------------------------------------------
@router.get("/beds/{bed}/indices")
async def bed_indices(
    bed: str,
    ctx: Ctx,
    _user: CurrentUser,
    hours: SpanHours = 24,
    points: Annotated[int, Query(ge=2, le=2000)] = 288,
) -> dict[str, Any]:
    """P/F and OI at each blood gas; S/F (SpO2 ≤ 97 % only), driving pressure and static
    compliance per time bucket, over the last `hours`."""
    if not any(r.bed == bed for r in await ctx.store.list_beds()):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no bed {bed!r}")
    until = ctx.clock.now()
    since = until - timedelta(hours=hours)
    series = await index_trends(ctx.store, bed, since, until, points=points)
    return {
        "bed": bed,
        "since": iso(since),
        "until": iso(until),
        "indices": {
            i.code: {
                "label": i.label,
                "unit": i.unit,
                "formula": i.formula,
                "note": i.note,
                "points": [(iso(t), round(v, 3)) for t, v in series.get(i.code, [])],
            }
            for i in INDICES
        },
    }


# -- the report -------------------------------------------------------------------------------
@router.get(
    "/patients/{study_id}/report",
    response_class=Response,
    responses={
        200: {
            "description": "the report in the asked format",
            "content": {
                "text/html": {},
                "application/pdf": {},
                "text/csv": {},
                "application/json": {},
            },
        },
        **forbidden("only an admin may see the arm"),
    },
)
async def report(
    study_id: str,
    request: Request,
    ctx: Ctx,
    user: CurrentUser,
    format: Annotated[ReportFormat, Query()] = ReportFormat.HTML,
    arm: Annotated[bool, Query(description="include the trial arm (admins only)")] = False,
    gap_s: Annotated[float, Query(gt=0, le=3600)] = 60.0,
    lang: Annotated[
        str | None, Query(description="en or zh-CN (default: the user's Accept-Language)")
    ] = None,
    tz: Annotated[str | None, Query(description="IANA zone (default: the site's)")] = None,
) -> Response:
    """The 24 h IAE report from the infusion start (interim while the window runs), in `lang`
    with local times in `tz` and UTC beside them."""
    if arm and user.role is not Role.ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="only an admin may see the arm")
    try:
        language = pick_language(lang, request.headers.get("accept-language"))
        zone = pick_zone(tz, site_of(request).timezone)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    await patient_or_404(ctx, study_id)
    rep = await build_report(
        ctx.store,
        study_id,
        ctx.clock.now(),
        ruleset=_ruleset(),
        include_arm=arm,
        gap_s=gap_s,
        criteria=site_criteria(request),
    )
    body = await asyncio.to_thread(functools.partial(render, lang=language, tz=zone), rep, format)
    await _audit_report(ctx, user, study_id, format, arm)
    name = f"iae-report-{study_id}.{format.value}"
    disposition = "inline" if format is ReportFormat.HTML else "attachment"
    return Response(
        content=body,
        media_type=format.media_type,
        headers={"Content-Disposition": f'{disposition}; filename="{name}"'},
    )


async def _audit_report(
    ctx: AppContext, user: Principal, study_id: str, fmt: ReportFormat, arm: bool
) -> None:
    await ctx.store.audit(
        actor=user.username,
        action="trial.report",
        target=study_id,
        details={"format": fmt.value, "arm": arm},
        t=ctx.clock.now(),
    )
