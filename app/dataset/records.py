"""Entering the dataset: a form is checked (its model, the biomarker schedule, the order of
timed events against day 0), saved as a new version and audit-logged; a record is locked or
unlocked by an investigator; a control patient is registered. Shared by the API and the CLI.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from app.dataset.forms import FORM_MODELS, BiomarkersForm, OutcomesForm
from app.dataset.freedays import EventOrderError, Switch, intervals
from app.dataset.schedule import Schedule, load_schedule
from app.store import PatientRow, Store
from app.store._dataset import FormRow, LockRow
from app.store.rows import Arm


class FormError(ValueError):
    """A form that cannot be saved, with the reason (API 422, CLI exit 1)."""


def _reason(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}" for e in exc.errors()
    )


def _check_events(out: OutcomesForm, t0: datetime) -> None:
    try:
        intervals(
            t0,
            on_at_t0=True,
            switches=[Switch(e.t, e.event == "reintubation") for e in out.ventilation],
        )
        intervals(
            t0, on_at_t0=True, switches=[Switch(e.t, e.event == "icu_readmission") for e in out.icu]
        )
    except EventOrderError as exc:
        raise FormError(f"outcomes: {exc}") from None
    pressors = [Switch(e.t, e.event == "vasopressor_start") for e in out.vasopressors]
    for on in (True, False):
        try:
            intervals(t0, on_at_t0=on, switches=pressors)
            break
        except EventOrderError as exc:
            problem = exc
    else:
        raise FormError(f"outcomes.vasopressors: {problem}")
    if out.death_at is not None and out.death_at < t0:
        raise FormError("outcomes.death_at: before day 0")


def _check_samples(bio: BiomarkersForm, schedule: Schedule) -> None:
    for i, s in enumerate(bio.samples):
        if schedule.marker(s.marker) is None:
            known = ", ".join(m.name for m in schedule.markers)
            raise FormError(f"samples.{i}.marker: {s.marker!r} is not in the schedule ({known})")
        if schedule.timepoint(s.timepoint) is None:
            known = ", ".join(t.name for t in schedule.timepoints)
            raise FormError(
                f"samples.{i}.timepoint: {s.timepoint!r} is not in the schedule ({known})"
            )


def check_form(form: str, payload: Any, patient: PatientRow, schedule: Schedule) -> dict[str, Any]:
    """The form's data as stored (JSON), or `FormError` saying what is wrong."""
    model = FORM_MODELS.get(form)
    if model is None:
        raise FormError(f"form must be one of {', '.join(FORM_MODELS)}, not {form!r}")
    try:
        parsed = model.model_validate(payload)
    except ValidationError as exc:
        raise FormError(f"{form}: {_reason(exc)}") from None
    if isinstance(parsed, OutcomesForm):
        _check_events(parsed, patient.enrolled_at)
    if isinstance(parsed, BiomarkersForm):
        _check_samples(parsed, schedule)
    return parsed.model_dump(mode="json", exclude_none=True)


async def _patient(store: Store, study_id: str) -> PatientRow:
    patient = await store.patient(study_id)
    if patient is None:
        raise KeyError(study_id)
    return patient


async def save_form(
    store: Store,
    study_id: str,
    form: str,
    payload: Any,
    *,
    by: str,
    t: datetime,
    reason: str | None = None,
    schedule: Schedule | None = None,
) -> FormRow:
    """Check and save a new version of a form (`KeyError`: unknown patient; `FormError`;
    `RecordLocked`: locked and no reason)."""
    patient = await _patient(store, study_id)
    data = check_form(form, payload, patient, schedule or load_schedule())
    row = await store.save_form(study_id, form, data, by=by, t=t, reason=reason)
    await store.audit(
        actor=by,
        action=f"dataset.{form}",
        target=study_id,
        details={"version": row.version, "reason": row.reason},
        t=t,
    )
    return row


async def set_lock(
    store: Store, study_id: str, *, locked: bool, by: str, t: datetime, reason: str | None = None
) -> LockRow:
    """Lock or unlock a patient's record (the caller checks that `by` is an investigator)."""
    await _patient(store, study_id)
    if not locked and not (reason and reason.strip()):
        raise FormError("unlocking a record needs a reason")
    row = await store.set_lock(study_id, locked=locked, by=by, t=t, reason=reason)
    await store.audit(
        actor=by,
        action="dataset.lock" if locked else "dataset.unlock",
        target=study_id,
        details={"reason": reason},
        t=t,
    )
    return row


async def register_control(
    store: Store,
    *,
    study_id: str,
    weight_kg: float,
    enrolled_at: datetime,
    by: str,
    t: datetime,
    arm: Arm = Arm.SALINE,
    age_years: int | None = None,
    ards_onset: datetime | None = None,
) -> PatientRow:
    """Register a control patient (no bed, no infusion) and audit it."""
    row = await store.register_control(
        study_id=study_id,
        weight_kg=weight_kg,
        enrolled_at=enrolled_at,
        arm=arm,
        age_years=age_years,
        ards_onset=ards_onset,
    )
    await store.audit(
        actor=by, action="dataset.control", target=study_id, details={"arm": arm.value}, t=t
    )
    return row
