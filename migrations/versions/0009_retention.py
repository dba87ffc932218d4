"""Retention: per-minute aggregates of observations past their full-resolution retention.

Revision ID: 0009
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "observation_minutes",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bed", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("unit", sa.String(), nullable=False),
        sa.Column("device", sa.String(), nullable=True),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("min", sa.Double(), nullable=True),
        sa.Column("median", sa.Double(), nullable=True),
        sa.Column("max", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observation_minutes")),
    )
    op.create_index(
        "ix_observation_minutes_bed_code_minute",
        "observation_minutes",
        ["bed", "code", "minute"],
    )


def downgrade() -> None:
    op.drop_index("ix_observation_minutes_bed_code_minute", table_name="observation_minutes")
    op.drop_table("observation_minutes")
