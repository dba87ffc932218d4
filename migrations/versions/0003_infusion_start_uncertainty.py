"""How sure an infusion's start time is: the pump's own time, or seen at reconnection.

A pump's start first seen after a link outage lies within [started_at - start_uncertainty_s,
started_at]; `start_time_source` is "pump", "seen_at_reconnect" or NULL (seen live, entered).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("infusions") as batch:
        batch.add_column(sa.Column("start_uncertainty_s", sa.Double(), nullable=True))
        batch.add_column(sa.Column("start_time_source", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("infusions") as batch:
        batch.drop_column("start_time_source")
        batch.drop_column("start_uncertainty_s")
