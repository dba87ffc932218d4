"""The trial dataset's entered records and locks (migration 0006, issue 16).

- `dataset_records`: one row per saved version of a patient's form (`outcomes`,
  `covariates`, `biomarkers`); the highest `version` counts, the older ones are the history.
  A save after the record was locked needs a `reason`, kept on the version it made.
- `record_locks`: one row per lock or unlock of a patient's record by an investigator; the
  newest counts.
Control patients are rows of `patients` without a bed (and without an infusion).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from app.store._beds import _patient
from app.store._data import read_observations
from app.store.base import StoreBase, inserted_id
from app.store.errors import DuplicateError, StoreError
from app.store.rows import Arm, PatientRow
from app.store.schema import BigId, metadata, patients
from app.store.types import JSONDoc, UTCDateTime
from core.model import Observation

FORMS = ("outcomes", "covariates", "biomarkers")

dataset_records = Table(
    "dataset_records",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("study_id", String(), ForeignKey("patients.study_id"), nullable=False),
    Column("form", String(), nullable=False),
    Column("version", Integer(), nullable=False),
    Column("data", JSONDoc, nullable=False),
    Column("entered_by", String(), nullable=False),
    Column("entered_at", UTCDateTime(), nullable=False),
    Column("reason", Text(), nullable=True),
    CheckConstraint("form IN ('outcomes', 'covariates', 'biomarkers')", name="form"),
    CheckConstraint("version >= 1", name="version_positive"),
    UniqueConstraint("study_id", "form", "version"),
)

record_locks = Table(
    "record_locks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("study_id", String(), ForeignKey("patients.study_id"), nullable=False),
    Column("locked", Boolean(), nullable=False),
    Column("by", String(), nullable=False),
    Column("t", UTCDateTime(), nullable=False),
    Column("reason", Text(), nullable=True),
    Index("ix_record_locks_study_id", "study_id"),
)


class RecordLocked(StoreError):
    """A locked record was edited without a reason."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FormRow:
    """One saved version of a patient's form."""

    study_id: str
    form: str
    version: int
    data: dict[str, Any]
    entered_by: str
    entered_at: datetime
    reason: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ObservationSummary:
    """One parameter code of one bed over a period: how many values, mean, range, span."""

    code: str
    unit: str
    n: int
    mean: float | None
    min: float | None
    max: float | None
    first_t: datetime
    last_t: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class LockRow:
    """A lock (or unlock) of a patient's record."""

    study_id: str
    locked: bool
    by: str
    t: datetime
    reason: str | None


def _columns(row: FormRow | LockRow) -> dict[str, Any]:
    return asdict(row)


def _form(row: RowMapping) -> FormRow:
    return FormRow(
        study_id=row["study_id"],
        form=row["form"],
        version=row["version"],
        data=dict(row["data"]),
        entered_by=row["entered_by"],
        entered_at=row["entered_at"],
        reason=row["reason"],
    )


def _lock(row: RowMapping) -> LockRow:
    return LockRow(
        study_id=row["study_id"],
        locked=row["locked"],
        by=row["by"],
        t=row["t"],
        reason=row["reason"],
    )


async def _lock_of(conn: AsyncConnection, study_id: str) -> LockRow | None:
    c = record_locks.c
    row = (
        (
            await conn.execute(
                select(record_locks).where(c.study_id == study_id).order_by(c.id.desc()).limit(1)
            )
        )
        .mappings()
        .one_or_none()
    )
    return None if row is None else _lock(row)


class DatasetQueries(StoreBase):
    """Forms with versions, record locks, control patients and every patient."""

    async def save_form(
        self,
        study_id: str,
        form: str,
        data: dict[str, Any],
        *,
        by: str,
        t: datetime,
        reason: str | None = None,
    ) -> FormRow:
        """Save a new version of a form; `KeyError` for an unknown patient, `RecordLocked`
        when the record is locked and no reason is given."""
        if form not in FORMS:
            raise ValueError(f"form must be one of {', '.join(FORMS)}, not {form!r}")
        reason = reason.strip() if reason and reason.strip() else None
        c = dataset_records.c
        async with self._write() as conn:
            if (
                await conn.scalar(select(patients.c.id).where(patients.c.study_id == study_id))
                is None
            ):
                raise KeyError(study_id)
            lock = await _lock_of(conn, study_id)
            if lock is not None and lock.locked and reason is None:
                raise RecordLocked(
                    f"the record of {study_id} was locked by {lock.by}: an edit needs a reason"
                )
            last = await conn.scalar(
                select(func.max(c.version)).where(c.study_id == study_id, c.form == form)
            )
            saved = FormRow(
                study_id=study_id,
                form=form,
                version=int(last or 0) + 1,
                data=data,
                entered_by=by,
                entered_at=t,
                reason=reason,
            )
            await conn.execute(dataset_records.insert().values(**_columns(saved)))
        return saved

    async def form_versions(self, study_id: str, form: str) -> list[FormRow]:
        """Every version of a patient's form, oldest first."""
        c = dataset_records.c
        stmt = (
            select(dataset_records)
            .where(c.study_id == study_id, c.form == form)
            .order_by(c.version)
        )
        async with self._read() as conn:
            return [_form(r) for r in (await conn.execute(stmt)).mappings()]

    async def form_history(self, study_id: str) -> list[FormRow]:
        """Every version of every form of a patient, by form and version."""
        c = dataset_records.c
        stmt = select(dataset_records).where(c.study_id == study_id).order_by(c.form, c.version)
        async with self._read() as conn:
            return [_form(r) for r in (await conn.execute(stmt)).mappings()]

    async def observation_summary(
        self, bed: str, since: datetime, until: datetime
    ) -> list[ObservationSummary]:
        """Per code and unit of `bed` in [since, until]: count of values, mean, min, max, and
        the first and last time (computed in SQL)."""
        groups: dict[tuple[str, str], list[Observation]] = {}
        async with self._read() as conn:
            for o in await read_observations(conn, bed, None, since, until):
                groups.setdefault((o.code, o.unit), []).append(o)
        out = []
        for (code, unit), group in sorted(groups.items()):
            values = [o.value for o in group if o.value is not None]
            out.append(
                ObservationSummary(
                    code=code,
                    unit=unit,
                    n=len(values),
                    mean=math.fsum(values) / len(values) if values else None,
                    min=min(values, default=None),
                    max=max(values, default=None),
                    first_t=min(o.t for o in group),
                    last_t=max(o.t for o in group),
                )
            )
        return out

    async def current_forms(self) -> dict[tuple[str, str], FormRow]:
        """The newest version of every form of every patient, by (study id, form)."""
        c = dataset_records.c
        newest = (
            select(c.study_id, c.form, func.max(c.version).label("v"))
            .group_by(c.study_id, c.form)
            .subquery()
        )
        stmt = select(dataset_records).join(
            newest,
            (c.study_id == newest.c.study_id)
            & (c.form == newest.c.form)
            & (c.version == newest.c.v),
        )
        async with self._read() as conn:
            return {
                (r.study_id, r.form): r for r in map(_form, (await conn.execute(stmt)).mappings())
            }

    async def set_lock(
        self, study_id: str, *, locked: bool, by: str, t: datetime, reason: str | None = None
    ) -> LockRow:
        """Lock (or unlock) a patient's record; `KeyError` for an unknown patient."""
        async with self._write() as conn:
            if (
                await conn.scalar(select(patients.c.id).where(patients.c.study_id == study_id))
                is None
            ):
                raise KeyError(study_id)
            lock = LockRow(study_id=study_id, locked=locked, by=by, t=t, reason=reason)
            await conn.execute(record_locks.insert().values(**_columns(lock)))
        return lock

    async def lock_state(self, study_id: str) -> LockRow | None:
        """The newest lock or unlock of a patient's record, None if never locked."""
        async with self._read() as conn:
            return await _lock_of(conn, study_id)

    async def register_control(
        self,
        *,
        study_id: str,
        weight_kg: float,
        enrolled_at: datetime,
        arm: Arm = Arm.SALINE,
        age_years: int | None = None,
        ards_onset: datetime | None = None,
    ) -> PatientRow:
        """A control patient: registered without a bed or an infusion (`DuplicateError` when
        the study id exists)."""
        if not study_id.strip():
            raise ValueError("study_id is required")
        if not 0 < weight_kg < 500:
            raise ValueError(f"weight_kg must be a plausible weight in kg, not {weight_kg!r}")
        async with self._write() as conn:
            if await conn.scalar(select(patients.c.id).where(patients.c.study_id == study_id)):
                raise DuplicateError(f"the study id {study_id} is already registered")
            inserted_id(
                await conn.execute(
                    patients.insert().values(
                        study_id=study_id,
                        bed=None,
                        weight_kg=float(weight_kg),
                        arm=Arm(arm).value,
                        ards_onset=ards_onset,
                        age_years=age_years,
                        enrolled_at=enrolled_at,
                    )
                )
            )
            row = (
                (await conn.execute(select(patients).where(patients.c.study_id == study_id)))
                .mappings()
                .one()
            )
        return _patient(row)

    async def all_patients(self) -> list[PatientRow]:
        """Every registered patient, by study id."""
        async with self._read() as conn:
            rows = await conn.execute(select(patients).order_by(patients.c.study_id))
            return [_patient(r) for r in rows.mappings()]
