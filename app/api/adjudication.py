"""Adjudication of alerts, signed electronically (investigator only):

    POST /api/adjudications        one verdict over one or more alerts, with e-signature
    GET  /api/adjudications        ?alert_id=…&alert_id=…: those in force, by alert id
    GET  /api/alerts/{id}/adjudication

A signature (21 CFR Part 11 §11.50, §11.200; China GCP) is made by re-entering the password
at the time of signing; it records the signer's name and role, its meaning and its time, and
is bound to the SHA-256 of what was signed. A wrong password is 403 and is audited.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import Field, model_validator

from app.adverse_view import signature_dict
from app.api.deps import Ctx
from app.auth import CurrentUser, InvestigatorUser, Principal
from app.context import AppContext
from app.openapi_errors import conflict, not_found
from app.schemas import In
from app.security import verify_password
from app.store._adverse import AdjudicationRow
from core.records import format_time

router = APIRouter(prefix="/api", tags=["adjudication"])


class Verdict(StrEnum):
    IAE = "iae"
    NOT_IAE = "not_iae"


class NotIaeReason(StrEnum):
    ARTEFACT = "artefact"
    PRE_EXISTING = "pre_existing"
    OTHER = "other"


class SignIn(In):
    """What an e-signature needs: the password again and what the signature means."""

    password: Annotated[str, Field(min_length=1, max_length=256)]
    meaning: Annotated[str, Field(min_length=3, max_length=200)] = "reviewed and approved"


class AdjudicationIn(SignIn):
    alert_ids: Annotated[list[str], Field(min_length=1, max_length=100)]
    verdict: Verdict
    reason: NotIaeReason | None = None
    reason_text: Annotated[str, Field(max_length=1000)] | None = None
    ae_id: int | None = Field(
        default=None, ge=1, le=2**63 - 1, description="group confirmed alerts into this AE"
    )

    @model_validator(mode="after")
    def _consistent(self) -> AdjudicationIn:
        if self.verdict is Verdict.NOT_IAE and self.reason is None:
            raise ValueError("'not an IAE' needs a reason: artefact, pre_existing or other")
        if self.reason is NotIaeReason.OTHER and not (self.reason_text or "").strip():
            raise ValueError("reason 'other' needs reason_text")
        if self.verdict is Verdict.IAE and self.reason is not None:
            raise ValueError("a confirmed IAE takes no 'not an IAE' reason")
        if self.verdict is Verdict.NOT_IAE and self.ae_id is not None:
            raise ValueError("only confirmed IAEs are grouped into an adverse event")
        return self


async def reauthenticate(ctx: AppContext, user: Principal, password: str, what: str) -> None:
    """Check the signer's password again (403, audited, when it is wrong)."""
    row = await ctx.store.user(user.username)
    ok = row is not None and await asyncio.to_thread(verify_password, password, row.password_hash)
    if not ok:
        await ctx.store.audit(
            actor=user.username,
            action="esign_failed",
            target=what,
            details={},
            t=ctx.clock.now(),
        )
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="signature refused: wrong password")


def adjudication_dict(a: AdjudicationRow) -> dict[str, Any]:
    return {
        "alert_id": a.alert_id,
        "verdict": a.verdict,
        "reason": a.reason,
        "reason_text": a.reason_text,
        "ae_id": a.ae_id,
        "t": format_time(a.t),
        "signature": signature_dict(a.signature),
    }


@router.post(
    "/adjudications",
    status_code=201,
    responses={
        **conflict("the adjudication is refused as given (the detail says why)"),
        **not_found("no such adverse event or alert"),
    },
)
async def adjudicate(
    body: AdjudicationIn, ctx: Ctx, user: InvestigatorUser
) -> list[dict[str, Any]]:
    """Adjudicate alerts (confirmed IAE, or not an IAE with a reason) under one signature;
    confirmed ones are grouped into `ae_id`."""
    await reauthenticate(ctx, user, body.password, "adjudication")
    if body.ae_id is not None and await ctx.store.adverse_event(body.ae_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no adverse event {body.ae_id}")
    try:
        rows = await ctx.store.adjudicate(
            alert_ids=body.alert_ids,
            verdict=body.verdict.value,
            reason=body.reason.value if body.reason else None,
            reason_text=body.reason_text,
            ae_id=body.ae_id,
            signer=user.username,
            role=user.role.value,
            meaning=body.meaning,
            t=ctx.clock.now(),
        )
    except KeyError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no alert {exc.args[0]!r}") from None
    except ValueError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    return [adjudication_dict(r) for r in rows]


@router.get("/adjudications")
async def list_adjudications(
    ctx: Ctx,
    _user: CurrentUser,
    alert_id: Annotated[list[str], Query(min_length=1, max_length=500)],
) -> dict[str, dict[str, Any]]:
    """The adjudications in force for these alerts, by alert id (one not adjudicated is
    absent): what the trial page shows beside each alert."""
    found = await ctx.store.adjudications_for(alert_id)
    return {k: adjudication_dict(a) for k, a in found.items()}


@router.get("/alerts/{alert_id}/adjudication")
async def get_adjudication(alert_id: str, ctx: Ctx, _user: CurrentUser) -> dict[str, Any]:
    """The adjudication in force for an alert (404 while it has none)."""
    found = (await ctx.store.adjudications_for([alert_id])).get(alert_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{alert_id!r} is not adjudicated")
    return adjudication_dict(found)
