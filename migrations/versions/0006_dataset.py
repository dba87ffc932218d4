"""The trial dataset: versioned forms (outcomes, covariates, biomarkers) and record locks.

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True)


def _study(table: str) -> tuple[sa.Column[str], sa.ForeignKeyConstraint]:
    return sa.Column("study_id", sa.String(), nullable=False), sa.ForeignKeyConstraint(
        ["study_id"], ["patients.study_id"], name=f"fk_{table}_study_id_patients"
    )


def upgrade() -> None:
    study, fk = _study("dataset_records")
    op.create_table(
        "dataset_records",
        _id(),
        study,
        sa.Column("form", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("entered_by", sa.String(), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dataset_records"),
        fk,
        sa.CheckConstraint(
            "form IN ('outcomes', 'covariates', 'biomarkers')", name="ck_dataset_records_form"
        ),
        sa.CheckConstraint("version >= 1", name="ck_dataset_records_version_positive"),
        sa.UniqueConstraint(
            "study_id", "form", "version", name="uq_dataset_records_study_id_form_version"
        ),
    )
    study, fk = _study("record_locks")
    op.create_table(
        "record_locks",
        _id(),
        study,
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("by", sa.String(), nullable=False),
        sa.Column("t", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_record_locks"),
        fk,
    )
    op.create_index("ix_record_locks_study_id", "record_locks", ["study_id"])


def downgrade() -> None:
    op.drop_index("ix_record_locks_study_id", table_name="record_locks")
    op.drop_table("record_locks")
    op.drop_table("dataset_records")
