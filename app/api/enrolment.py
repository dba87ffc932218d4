"""Confirmed enrolment facts (coordinator, nurse or investigator; each audited):

    PUT /api/patients/{study_id}/consent                  who consented, when, taken by whom
    PUT /api/patients/{study_id}/imaging                  X-ray or CT, time, reader, bilateral
    PUT /api/patients/{study_id}/airway                   endotracheal tube or tracheostomy
    PUT /api/patients/{study_id}/body                     height and sex (predicted body weight)
    PUT /api/patients/{study_id}/protective-ventilation   a clinician's confirmation

Each returns the checklist as it now stands. The newest entry of a kind counts.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from app.api.deps import Ctx
from app.api.trial import SiteCriteria, checklist_dict, entered_time, patient_or_404
from app.auth import Principal, TrialDataUser
from app.context import AppContext
from app.report.gather import checklist
from app.schemas import In, UtcTime
from monitors.trial.eligibility import Criteria
from monitors.trial.enrolment import AirwayKind, Consenter, Modality, Sex

router = APIRouter(prefix="/api/patients/{study_id}", tags=["trial"])

Text = Annotated[str, Field(min_length=1, max_length=200)]


class ConsentIn(In):
    consenter: Consenter
    consenter_name: Text
    t: UtcTime
    taken_by: Text


class ImagingIn(In):
    modality: Modality
    t: UtcTime
    reader: Text
    bilateral: bool


class AirwayIn(In):
    kind: AirwayKind
    t: UtcTime | None = None


class BodyIn(In):
    height_cm: Annotated[float, Field(ge=100, le=250)]
    sex: Sex


class ProtectiveIn(In):
    note: Annotated[str, Field(min_length=5, max_length=500)]


async def _record(
    ctx: AppContext,
    user: Principal,
    study_id: str,
    kind: str,
    data: dict[str, Any],
    criteria: Criteria,
) -> dict[str, Any]:
    p = await patient_or_404(ctx, study_id)
    now = ctx.clock.now()
    if "t" in data:
        data["t"] = entered_time(ctx, data["t"])  # 422 when in the future
    try:
        await ctx.store.add_fact(study_id=study_id, kind=kind, data=data, by=user.username, t=now)
    except KeyError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no patient {study_id!r}") from None
    check, _ = await checklist(ctx.store, p, now, criteria)
    return checklist_dict(check)


def _data(body: BaseModel) -> dict[str, Any]:
    return body.model_dump(mode="python")


@router.put("/consent")
async def consent(
    study_id: str, body: ConsentIn, ctx: Ctx, user: TrialDataUser, criteria: SiteCriteria
) -> dict[str, Any]:
    """Informed consent: patient or legal representative, when, and who took it."""
    return await _record(ctx, user, study_id, "consent", _data(body), criteria)


@router.put("/imaging")
async def imaging(
    study_id: str, body: ImagingIn, ctx: Ctx, user: TrialDataUser, criteria: SiteCriteria
) -> dict[str, Any]:
    """The chest image read for bilateral infiltrates (modality, time, reader)."""
    return await _record(ctx, user, study_id, "imaging", _data(body), criteria)


@router.put("/airway")
async def airway(
    study_id: str, body: AirwayIn, ctx: Ctx, user: TrialDataUser, criteria: SiteCriteria
) -> dict[str, Any]:
    """Confirm the invasive airway (the confirming user and time are recorded)."""
    data = _data(body) | {"confirmed_by": user.username}
    data["t"] = body.t or ctx.clock.now()
    return await _record(ctx, user, study_id, "airway", data, criteria)


@router.put("/body")
async def body_facts(
    study_id: str, body: BodyIn, ctx: Ctx, user: TrialDataUser, criteria: SiteCriteria
) -> dict[str, Any]:
    """Height and sex, for predicted body weight (ARDSNet)."""
    return await _record(ctx, user, study_id, "body", _data(body), criteria)


@router.put("/protective-ventilation")
async def protective(
    study_id: str, body: ProtectiveIn, ctx: Ctx, user: TrialDataUser, criteria: SiteCriteria
) -> dict[str, Any]:
    """Confirm protective ventilation over the interval when the ventilator data cannot."""
    data = {"by": user.username, "t": ctx.clock.now(), "note": body.note}
    return await _record(ctx, user, study_id, "protective_ventilation", data, criteria)
