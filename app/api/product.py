"""The product record and the reason for a pump start without a checklist:

GET  /api/patients/{study_id}/product                 the checklist and what it lacks
PUT  /api/patients/{study_id}/product                 record the bag (coordinator, nurse,
                                                      investigator; audited)
POST /api/patients/{study_id}/unchecked-start-reason  why the pump started without it
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, status
from pydantic import Field, model_validator

from app.api.deps import Ctx
from app.api.trial import patient_or_404
from app.auth import ClinicalUser, CurrentUser, TrialDataUser
from app.enrolment import enrolment_facts
from app.openapi_errors import conflict
from app.product_check import RULE, product_dict, product_status
from app.schemas import In, UtcTime
from monitors.trial.product import Preservation, WeightBasis, dose_weight

router = APIRouter(prefix="/api/patients/{study_id}", tags=["trial"])


class ProductIn(In):
    weight_basis: WeightBasis
    cap_kg: Annotated[float, Field(gt=0, le=300)] | None = Field(
        default=None, description="the cap, for weight_basis 'capped'"
    )
    bag_id: Annotated[str, Field(min_length=1, max_length=64)]
    lot_id: Annotated[str, Field(min_length=1, max_length=64)]
    cell_count: Annotated[float, Field(gt=0, le=1e12)]
    viability_pct: Annotated[float, Field(ge=0, le=100)]
    prepared_at: UtcTime
    expires_at: UtcTime
    preservation: Preservation
    washed: bool
    lumen_confirmed: bool = Field(description="a dedicated central-line lumen, confirmed")

    @model_validator(mode="after")
    def _window(self) -> ProductIn:
        if self.expires_at <= self.prepared_at:
            raise ValueError("expires_at must be after prepared_at")
        return self


class ReasonIn(In):
    reason: Annotated[str, Field(min_length=10, max_length=1000)]


@router.get("/product")
async def get_product(study_id: str, ctx: Ctx, _user: CurrentUser) -> dict[str, Any]:
    p = await patient_or_404(ctx, study_id)
    return product_dict(*await product_status(ctx, p, ctx.clock.now()))


@router.put("/product")
async def put_product(
    study_id: str, body: ProductIn, ctx: Ctx, user: TrialDataUser
) -> dict[str, Any]:
    """Record the bag; the dose weight follows the weight basis (PBW from height and sex)."""
    p = await patient_or_404(ctx, study_id)
    now = ctx.clock.now()
    body_fact = (await enrolment_facts(ctx.store, p, now)).get("body")
    try:
        weight = dose_weight(
            body.weight_basis,
            actual_kg=p.weight_kg,
            pbw_kg=None if body_fact is None else body_fact.pbw_kg,
            cap_kg=body.cap_kg,
        )
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    fields = body.model_dump(mode="python", exclude={"cap_kg"})
    fields["weight_basis"] = body.weight_basis.value
    fields["preservation"] = body.preservation.value
    await ctx.store.add_product(
        study_id=study_id, by=user.username, t=now, dose_weight_kg=round(weight, 1), **fields
    )
    return product_dict(*await product_status(ctx, p, now))


@router.post(
    "/unchecked-start-reason",
    status_code=201,
    responses=conflict("the patient is not at a bed, or there is no start to explain"),
)
async def unchecked_start_reason(
    study_id: str, body: ReasonIn, ctx: Ctx, user: ClinicalUser
) -> dict[str, Any]:
    """Why the pump started without a complete checklist (audited against the alert)."""
    p = await patient_or_404(ctx, study_id)
    if p.bed is None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"{study_id} is not at a bed")
    found = [a for a in await ctx.store.alerts(bed=p.bed) if a.rule == RULE]
    if not found:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="no pump start without a checklist to explain"
        )
    alert = found[0]
    await ctx.store.audit(
        actor=user.username,
        action="trial.unchecked_start_reason",
        target=study_id,
        details={"alert_id": alert.id, "reason": body.reason},
        t=ctx.clock.now(),
    )
    return {"alert_id": alert.id, "reason": body.reason, "by": user.username}
