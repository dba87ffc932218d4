"""The AE/SAE record (CRF fields), its investigator signature and its reporting clock:

    GET   /api/patients/{study_id}/adverse-events     the AEs with their due reports
    POST  /api/patients/{study_id}/adverse-events     record an AE, grouping alerts into it
    PATCH /api/adverse-events/{ae_id}                 change CRF fields (audited)
    POST  /api/adverse-events/{ae_id}/sign            the investigator's e-signature
    POST  /api/adverse-events/{ae_id}/reported        a report was sent to the sponsor

Coordinators, nurses and investigators enter; only an investigator signs.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import Field, model_validator
from sqlalchemy.exc import IntegrityError

from app.adverse_view import ae_dict
from app.api.adjudication import SignIn, reauthenticate
from app.api.deps import Ctx
from app.api.trial import entered_time, patient_or_404
from app.auth import CurrentUser, InvestigatorUser, TrialDataUser
from app.context import AppContext
from app.openapi_errors import conflict
from app.schemas import In, UtcTime
from app.store._adverse import AdverseEventRow

router = APIRouter(prefix="/api", tags=["adverse events"])
AeId = Annotated[int, Path(ge=1, le=2**63 - 1)]  # a database key: larger ones are a 422


class Seriousness(StrEnum):
    DEATH = "death"
    LIFE_THREATENING = "life_threatening"
    HOSPITALISATION = "hospitalisation_prolonged"
    DISABILITY = "disability"
    CONGENITAL_ANOMALY = "congenital_anomaly"
    IMPORTANT_MEDICAL_EVENT = "important_medical_event"


class Causality(StrEnum):
    """WHO-UMC causality categories."""

    CERTAIN = "certain"
    PROBABLE = "probable"
    POSSIBLE = "possible"
    UNLIKELY = "unlikely"
    CONDITIONAL = "conditional"
    UNASSESSABLE = "unassessable"


class Action(StrEnum):
    NONE = "none"
    INTERRUPTED = "interrupted"
    RATE_REDUCED = "rate_reduced"
    STOPPED = "stopped"


class Outcome(StrEnum):
    RECOVERED = "recovered"
    RECOVERING = "recovering"
    NOT_RECOVERED = "not_recovered"
    RECOVERED_WITH_SEQUELAE = "recovered_with_sequelae"
    FATAL = "fatal"
    UNKNOWN = "unknown"


Text = Annotated[str, Field(min_length=1, max_length=500)]


class AdverseEventIn(In):
    term: Text = Field(description="the event, verbatim")
    meddra_code: Annotated[str, Field(pattern=r"^\d{8}$")] | None = None
    onset: UtcTime
    resolved_at: UtcTime | None = None
    ctcae_grade: Annotated[int, Field(ge=1, le=5)]
    seriousness: list[Seriousness] = Field(default_factory=list)
    causality_product: Causality
    causality_procedure: Causality
    expected: bool = Field(description="listed in the reference safety information")
    action_taken: Action
    treatment: Annotated[str, Field(max_length=2000)] | None = None
    outcome: Outcome
    aware_at: UtcTime | None = Field(default=None, description="site aware; now if omitted")
    alert_ids: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> AdverseEventIn:
        if self.resolved_at is not None and self.resolved_at < self.onset:
            raise ValueError("resolved_at is before onset")
        fatal = self.ctcae_grade == 5 or self.outcome is Outcome.FATAL
        if fatal and Seriousness.DEATH not in self.seriousness:
            raise ValueError("a fatal event (grade 5 or outcome fatal) is serious: death")
        return self


class AdverseEventPatch(In):
    term: Text | None = None
    meddra_code: Annotated[str, Field(pattern=r"^\d{8}$")] | None = None
    resolved_at: UtcTime | None = None
    ctcae_grade: Annotated[int, Field(ge=1, le=5)] | None = None
    seriousness: list[Seriousness] | None = None
    causality_product: Causality | None = None
    causality_procedure: Causality | None = None
    expected: bool | None = None
    action_taken: Action | None = None
    treatment: Annotated[str, Field(max_length=2000)] | None = None
    outcome: Outcome | None = None


class ReportedIn(In):
    report: Literal["sae_initial", "susar"]
    t: UtcTime | None = None


async def _ae_or_404(ctx: AppContext, ae_id: int) -> AdverseEventRow:
    ae = await ctx.store.adverse_event(ae_id)
    if ae is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no adverse event {ae_id}")
    return ae


@router.get("/patients/{study_id}/adverse-events")
async def list_events(study_id: str, ctx: Ctx, _user: CurrentUser) -> list[dict[str, Any]]:
    await patient_or_404(ctx, study_id)
    now = ctx.clock.now()
    return [ae_dict(ae, now) for ae in await ctx.store.adverse_events_of(study_id)]


@router.post(
    "/patients/{study_id}/adverse-events",
    status_code=201,
    responses=conflict("the event cannot be recorded as given"),
)
async def add_event(
    study_id: str, body: AdverseEventIn, ctx: Ctx, user: TrialDataUser
) -> dict[str, Any]:
    """Record an AE (the caller is its reporter), grouping `alert_ids` into it."""
    await patient_or_404(ctx, study_id)
    now = ctx.clock.now()
    crf = body.model_dump(mode="python", exclude={"alert_ids", "aware_at"})
    crf["seriousness"] = [s.value for s in body.seriousness]
    try:
        ae = await ctx.store.add_adverse_event(
            study_id=study_id,
            by=user.username,
            t=now,
            alert_ids=body.alert_ids,
            reporter=user.username,
            aware_at=entered_time(ctx, body.aware_at),
            **crf,
        )
    except KeyError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no alert {exc.args[0]!r}") from None
    except ValueError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    return ae_dict(ae, now)


@router.patch("/adverse-events/{ae_id}")
async def change_event(
    ae_id: AeId, body: AdverseEventPatch, ctx: Ctx, user: TrialDataUser
) -> dict[str, Any]:
    """Change CRF fields; an earlier signature then no longer matches (`valid: false`)."""
    current = await _ae_or_404(ctx, ae_id)
    changes = body.model_dump(mode="python", exclude_unset=True)
    if "seriousness" in changes and changes["seriousness"] is not None:
        changes["seriousness"] = [s.value for s in body.seriousness or []]
    now = ctx.clock.now()
    if not changes:  # nothing to change (an empty UPDATE is an SQL error)
        return ae_dict(current, now)
    try:
        ae = await ctx.store.update_adverse_event(ae_id, by=user.username, t=now, **changes)
    except IntegrityError:  # null for a field the CRF requires
        nulls = ", ".join(k for k, v in changes.items() if v is None)
        raise HTTPException(422, detail=f"these fields cannot be emptied: {nulls}") from None
    return ae_dict(ae, now)


@router.post("/adverse-events/{ae_id}/sign")
async def sign_event(ae_id: AeId, body: SignIn, ctx: Ctx, user: InvestigatorUser) -> dict[str, Any]:
    """The investigator signs the AE record as it stands (password re-entered)."""
    await _ae_or_404(ctx, ae_id)
    await reauthenticate(ctx, user, body.password, f"adverse_event:{ae_id}")
    now = ctx.clock.now()
    ae = await ctx.store.sign_adverse_event(
        ae_id, signer=user.username, role=user.role.value, meaning=body.meaning, t=now
    )
    return ae_dict(ae, now)


@router.post("/adverse-events/{ae_id}/reported")
async def reported(ae_id: AeId, body: ReportedIn, ctx: Ctx, user: TrialDataUser) -> dict[str, Any]:
    """Record that a report (the initial SAE report or the SUSAR report) reached the sponsor."""
    await _ae_or_404(ctx, ae_id)
    now = ctx.clock.now()
    column = "sponsor_reported_at" if body.report == "sae_initial" else "susar_reported_at"
    ae = await ctx.store.update_adverse_event(
        ae_id, by=user.username, t=now, **{column: entered_time(ctx, body.t)}
    )
    return ae_dict(ae, now)
