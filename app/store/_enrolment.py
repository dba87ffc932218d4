"""Enrolment facts and the product record (migration 0005).

`enrolment_facts`: one row per entry of a confirmed fact (consent, imaging, airway, body,
protective ventilation); the newest per kind counts, the older rows are the history.
`product_records`: one row per product checklist entry (the bag, its cells, its preparation,
the line); the newest counts. Both are audit-logged in the same transaction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Double,
    ForeignKey,
    Index,
    String,
    Table,
    select,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from app.store.base import StoreBase, inserted_id
from app.store.schema import BigId, audit_log, metadata, patients
from app.store.types import JSONDoc, UTCDateTime

FACT_KINDS = ("consent", "imaging", "airway", "body", "protective_ventilation")

enrolment_facts = Table(
    "enrolment_facts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("study_id", String(), ForeignKey("patients.study_id"), nullable=False),
    Column("kind", String(), nullable=False),
    Column("data", JSONDoc, nullable=False),
    Column("entered_by", String(), nullable=False),
    Column("entered_at", UTCDateTime(), nullable=False),
    CheckConstraint(
        "kind IN ('consent', 'imaging', 'airway', 'body', 'protective_ventilation')", name="kind"
    ),
    Index("ix_enrolment_facts_study_id_kind", "study_id", "kind"),
)

product_records = Table(
    "product_records",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("study_id", String(), ForeignKey("patients.study_id"), nullable=False),
    Column("weight_basis", String(), nullable=False),
    Column("dose_weight_kg", Double(), nullable=False),
    Column("bag_id", String(), nullable=False),
    Column("lot_id", String(), nullable=False),
    Column("cell_count", Double(), nullable=False),
    Column("viability_pct", Double(), nullable=False),
    Column("prepared_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("preservation", String(), nullable=False),
    Column("washed", Boolean(), nullable=False),
    Column("lumen_confirmed", Boolean(), nullable=False),
    Column("entered_by", String(), nullable=False),
    Column("entered_at", UTCDateTime(), nullable=False),
    CheckConstraint("weight_basis IN ('actual', 'pbw', 'capped')", name="weight_basis"),
    CheckConstraint("preservation IN ('fresh', 'cryopreserved_dmso')", name="preservation"),
    Index("ix_product_records_study_id", "study_id"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class FactRow:
    """One entry of a confirmed enrolment fact (`data`: the kind's fields, times as text)."""

    id: int
    study_id: str
    kind: str
    data: dict[str, Any]
    entered_by: str
    entered_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ProductRow:
    """One product checklist entry."""

    id: int
    study_id: str
    weight_basis: str
    dose_weight_kg: float
    bag_id: str
    lot_id: str
    cell_count: float
    viability_pct: float
    prepared_at: datetime
    expires_at: datetime
    preservation: str
    washed: bool
    lumen_confirmed: bool
    entered_by: str
    entered_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def _audit(
    conn: AsyncConnection,
    *,
    t: datetime,
    actor: str,
    action: str,
    target: str,
    details: dict[str, Any],
) -> None:
    await conn.execute(
        audit_log.insert().values(t=t, actor=actor, action=action, target=target, details=details)
    )


async def _require_patient(conn: AsyncConnection, study_id: str) -> None:
    found = await conn.scalar(select(patients.c.id).where(patients.c.study_id == study_id))
    if found is None:
        raise KeyError(study_id)


class EnrolmentQueries(StoreBase):
    async def add_fact(
        self, *, study_id: str, kind: str, data: dict[str, Any], by: str, t: datetime
    ) -> FactRow:
        """Record one confirmed fact (unknown study id → KeyError; unknown kind → ValueError)."""
        if kind not in FACT_KINDS:
            raise ValueError(f"unknown enrolment fact {kind!r}")
        async with self._write() as conn:
            await _require_patient(conn, study_id)
            values: dict[str, Any] = {
                "study_id": study_id,
                "kind": kind,
                "data": data,
                "entered_by": by,
                "entered_at": t,
            }
            new_id = inserted_id(await conn.execute(enrolment_facts.insert().values(**values)))
            await _audit(conn, t=t, actor=by, action=f"trial.{kind}", target=study_id, details=data)
        return FactRow(id=new_id, **values)

    async def facts(self, study_id: str) -> dict[str, FactRow]:
        """The entry in force per kind (the newest)."""
        c = enrolment_facts.c
        stmt = select(enrolment_facts).where(c.study_id == study_id).order_by(c.entered_at, c.id)
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return {r["kind"]: _fact(r) for r in rows}

    async def add_product(
        self, *, study_id: str, by: str, t: datetime, **fields: Any
    ) -> ProductRow:
        """Record the product checklist (the newest entry counts)."""
        async with self._write() as conn:
            await _require_patient(conn, study_id)
            values: dict[str, Any] = {
                "study_id": study_id,
                "entered_by": by,
                "entered_at": t,
                **fields,
            }
            new_id = inserted_id(await conn.execute(product_records.insert().values(**values)))
            await _audit(
                conn, t=t, actor=by, action="trial.product", target=study_id, details=fields
            )
        return ProductRow(id=new_id, **values)

    async def product(self, study_id: str) -> ProductRow | None:
        """The product checklist in force (the newest entry), if any."""
        c = product_records.c
        stmt = (
            select(product_records)
            .where(c.study_id == study_id)
            .order_by(c.entered_at.desc(), c.id.desc())
            .limit(1)
        )
        async with self._read() as conn:
            row = (await conn.execute(stmt)).mappings().one_or_none()
        return None if row is None else ProductRow(**dict(row))


def _fact(row: RowMapping) -> FactRow:
    return FactRow(
        id=row["id"],
        study_id=row["study_id"],
        kind=row["kind"],
        data=dict(row["data"]),
        entered_by=row["entered_by"],
        entered_at=row["entered_at"],
    )
