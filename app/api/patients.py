"""`/api/patients`: trial patients (pseudonymous study ids) and enrolment at a bed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status

from app.api.deps import Ctx
from app.auth import CurrentUser, TrialDataUser
from app.live.views import patient_dict
from app.openapi_errors import conflict, not_found
from app.schemas import PatientIn, PatientOut

router = APIRouter(prefix="/api/patients", tags=["patients"])


@router.get("", response_model=list[PatientOut])
async def list_patients(ctx: Ctx, _user: CurrentUser) -> list[dict[str, Any]]:
    """Patients currently at a bed."""
    rows = await ctx.store.list_beds()
    return [patient_dict(r.patient) for r in rows if r.patient is not None]


@router.post(
    "",
    response_model=PatientOut,
    status_code=201,
    responses={
        **conflict("the bed has a patient, or the patient is already enrolled"),
        **not_found("no such bed"),
    },
)
async def enrol(body: PatientIn, ctx: Ctx, user: TrialDataUser) -> dict[str, Any]:
    """Enrol a patient at a bed (409 when the study id exists or the bed is taken)."""
    if not any(r.bed == body.bed for r in await ctx.store.list_beds()):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no bed {body.bed!r}")
    if await ctx.store.patient_at_bed(body.bed) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"bed {body.bed} has a patient")
    if await ctx.store.patient(body.study_id) is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail=f"patient {body.study_id} is already enrolled"
        )
    row = await ctx.store.enrol_patient(
        bed=body.bed,
        study_id=body.study_id,
        weight_kg=body.weight_kg,
        arm=body.arm,
        ards_onset=body.ards_onset,
        age_years=body.age_years,
    )
    await ctx.store.audit(
        actor=user.username,
        action="enrol",
        target=body.study_id,
        details={"bed": body.bed},
        t=ctx.clock.now(),
    )
    await ctx.hub.refresh_bed(body.bed)
    return patient_dict(row)


@router.get("/{study_id}", response_model=PatientOut)
async def get_patient(study_id: str, ctx: Ctx, _user: CurrentUser) -> dict[str, Any]:
    row = await ctx.store.patient(study_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no patient {study_id!r}")
    return patient_dict(row)
