"""The trial dataset: forms (outcomes, covariates, biomarkers) kept as versions, record locks,
control patients, and the exports (docs/dataset.md).

    GET  /api/dataset/patients/{study_id}                       forms, lock, computed values
    PUT  /api/dataset/patients/{study_id}/forms/{form}          save a new version
    GET  /api/dataset/patients/{study_id}/forms/{form}/versions every version, with reasons
    POST /api/dataset/patients/{study_id}/lock                  investigator
    POST /api/dataset/patients/{study_id}/unlock                investigator, with a reason
    POST /api/dataset/controls                                  register a control patient
    GET  /api/dataset/export?format=csv|redcap|odm|sdtm[&arm=true]

Data entry and exports: coordinator, investigator or admin; the arm only for an admin who
asks (`arm=true`). Every write and export is audit-logged; an export's response carries the
audit chain head it was made from (`X-Audit-Chain-Head`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import Response
from pydantic import Field

from app.api.deps import Ctx
from app.auth import InvestigatorUser, Principal, require
from app.dataset.assemble import assemble
from app.dataset.export import ExportFormat, build_export, zip_bytes
from app.dataset.records import FormError, register_control, save_form, set_lock
from app.openapi_errors import conflict, forbidden
from app.schemas import In, UtcTime
from app.store import DuplicateError
from app.store._dataset import FORMS, FormRow, RecordLocked
from app.store.rows import Arm, Role
from app.validation import FiniteJsonObject
from core.records import format_time, format_time_or_none

router = APIRouter(prefix="/api/dataset", tags=["dataset"])

DatasetUser = Annotated[Principal, require(Role.COORDINATOR, Role.INVESTIGATOR, Role.ADMIN)]
Reason = Annotated[str, Field(min_length=3, max_length=1000)]


class FormIn(In):
    data: FiniteJsonObject
    reason: Reason | None = Field(
        default=None, description="Required once the record is locked; kept on the version."
    )


class LockIn(In):
    reason: Reason | None = None


class UnlockIn(In):
    reason: Reason


class ControlIn(In):
    study_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
    weight_kg: Annotated[float, Field(gt=0, lt=500)]
    enrolled_at: UtcTime
    age_years: Annotated[int, Field(ge=0, lt=130)] | None = None
    ards_onset: UtcTime | None = None
    arm: Literal["saline", "unknown"] = "saline"


def _form(row: FormRow) -> dict[str, Any]:
    return {
        "study_id": row.study_id,
        "form": row.form,
        "version": row.version,
        "data": row.data,
        "entered_by": row.entered_by,
        "entered_at": format_time(row.entered_at),
        "reason": row.reason,
    }


def _not_found(study_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no patient {study_id}")


@router.get("/patients/{study_id}")
async def get_patient(study_id: str, ctx: Ctx, user: DatasetUser) -> dict[str, Any]:
    patient = await ctx.store.patient(study_id)
    if patient is None:
        raise _not_found(study_id)
    p = await assemble(ctx.store, patient, await ctx.store.current_forms())
    return {
        "study_id": study_id,
        "enrolled_at": format_time(p.t0),
        "infused": p.infusion is not None,
        "versions": p.versions,
        "locked": bool(p.lock and p.lock.locked),
        "locked_by": p.lock.by if p.lock and p.lock.locked else None,
        "forms": {
            "outcomes": p.outcomes.model_dump(mode="json", exclude_none=True),
            "covariates": p.covariates.model_dump(mode="json", exclude_none=True),
            "biomarkers": p.biomarkers.model_dump(mode="json", exclude_none=True),
        },
        "computed": {
            "free_days_d28": p.free_days,
            "oxygenation": [
                {
                    "day": d.day,
                    "t": format_time_or_none(d.t),
                    "pf": d.pf,
                    "oi": d.oi,
                    "source": d.source,
                }
                for d in p.oxygenation
            ],
            "at_enrolment": {
                k: {"value": v.value, "source": v.source} for k, v in p.enrolment.items()
            },
            "apache_ii": p.apache_ii.as_dict(),
            "sofa": p.sofa.as_dict(),
            "bmi": p.bmi,
            "hours_from_onset": p.hours_from_onset,
        },
    }


@router.put("/patients/{study_id}/forms/{form}", responses=conflict("the record is locked"))
async def put_form(
    study_id: str, form: str, body: FormIn, ctx: Ctx, user: DatasetUser
) -> dict[str, Any]:
    try:
        row = await save_form(
            ctx.store,
            study_id,
            form,
            body.data,
            by=user.username,
            t=ctx.clock.now(),
            reason=body.reason,
        )
    except KeyError:
        raise _not_found(study_id) from None
    except FormError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    except RecordLocked as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    return _form(row)


@router.get("/patients/{study_id}/forms/{form}/versions")
async def form_versions(
    study_id: str, form: str, ctx: Ctx, user: DatasetUser
) -> list[dict[str, Any]]:
    if form not in FORMS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no form {form}")
    if await ctx.store.patient(study_id) is None:
        raise _not_found(study_id)
    return [_form(r) for r in await ctx.store.form_versions(study_id, form)]


async def _lock(
    ctx: Ctx, study_id: str, user: Principal, locked: bool, reason: str | None
) -> dict[str, Any]:
    try:
        row = await set_lock(
            ctx.store, study_id, locked=locked, by=user.username, t=ctx.clock.now(), reason=reason
        )
    except KeyError:
        raise _not_found(study_id) from None
    return {
        "study_id": study_id,
        "locked": row.locked,
        "by": row.by,
        "t": format_time(row.t),
        "reason": row.reason,
    }


@router.post("/patients/{study_id}/lock")
async def lock(study_id: str, body: LockIn, ctx: Ctx, user: InvestigatorUser) -> dict[str, Any]:
    return await _lock(ctx, study_id, user, True, body.reason)


@router.post("/patients/{study_id}/unlock")
async def unlock(study_id: str, body: UnlockIn, ctx: Ctx, user: InvestigatorUser) -> dict[str, Any]:
    return await _lock(ctx, study_id, user, False, body.reason)


@router.post(
    "/controls",
    status_code=status.HTTP_201_CREATED,
    responses=conflict("the control is already registered"),
)
async def add_control(body: ControlIn, ctx: Ctx, user: DatasetUser) -> dict[str, Any]:
    try:
        p = await register_control(
            ctx.store,
            study_id=body.study_id,
            weight_kg=body.weight_kg,
            enrolled_at=body.enrolled_at,
            age_years=body.age_years,
            ards_onset=body.ards_onset,
            arm=Arm(body.arm),
            by=user.username,
            t=ctx.clock.now(),
        )
    except DuplicateError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    return {"study_id": p.study_id, "enrolled_at": format_time(p.enrolled_at)}


@router.get(
    "/export",
    response_class=Response,
    responses={
        200: {
            "description": "the export: one file, or a zip of several",
            "content": {"application/zip": {}, "application/xml": {}},
        },
        **forbidden("only an admin may export the arm"),
    },
)
async def export(
    ctx: Ctx,
    user: DatasetUser,
    fmt: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.CSV,
    arm: bool = False,
) -> Response:
    if arm and user.role is not Role.ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="only an admin may export the arm")
    files, prov = await build_export(ctx.store, fmt, include_arm=arm)
    await ctx.store.audit(
        actor=user.username,
        action="dataset.export",
        target=fmt.value,
        details={"arm": arm, "chain_head": prov.chain_head},
        t=ctx.clock.now(),
    )
    headers = {"X-Audit-Chain-Head": prov.chain_head}
    if fmt is ExportFormat.ODM:
        headers["Content-Disposition"] = 'attachment; filename="dataset_odm.xml"'
        return Response(files["dataset_odm.xml"], media_type="application/xml", headers=headers)
    headers["Content-Disposition"] = f'attachment; filename="dataset_{fmt.value}.zip"'
    return Response(zip_bytes(files), media_type="application/zip", headers=headers)
