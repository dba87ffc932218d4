"""Trial records: entered blood gases and exclusion-criterion confirmations per patient.

Revision ID: 0002
Revises: 0001
Create Date: 2026-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column[int]:
    # 64-bit on PostgreSQL; INTEGER on SQLite so that it is the rowid
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True)


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "blood_gases",
        _id(),
        sa.Column("study_id", sa.String(), nullable=False),
        _time("t"),
        sa.Column("pao2_mmhg", sa.Double(), nullable=True),
        sa.Column("paco2_mmhg", sa.Double(), nullable=True),
        sa.Column("ph", sa.Double(), nullable=True),
        sa.Column("fio2_pct", sa.Double(), nullable=True),
        sa.Column("entered_by", sa.String(), nullable=False),
        _time("entered_at"),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_blood_gases"),
        sa.ForeignKeyConstraint(
            ["study_id"], ["patients.study_id"], name="fk_blood_gases_study_id_patients"
        ),
    )
    op.create_index("ix_blood_gases_study_id_t", "blood_gases", ["study_id", "t"])

    op.create_table(
        "exclusion_answers",
        _id(),
        sa.Column("study_id", sa.String(), nullable=False),
        sa.Column("item", sa.String(), nullable=False),
        sa.Column("answer", sa.String(), nullable=False),
        sa.Column("by", sa.String(), nullable=False),
        _time("t"),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_exclusion_answers"),
        sa.ForeignKeyConstraint(
            ["study_id"], ["patients.study_id"], name="fk_exclusion_answers_study_id_patients"
        ),
        sa.CheckConstraint(
            "answer IN ('present', 'absent')", name=op.f("ck_exclusion_answers_answer")
        ),
    )
    op.create_index(
        "ix_exclusion_answers_study_id_item_t", "exclusion_answers", ["study_id", "item", "t"]
    )


def downgrade() -> None:
    for table in ("exclusion_answers", "blood_gases"):
        op.drop_table(table)
