"""The outbound outbox: messages for alarm managers, EHR interfaces and webhooks, written in
the alert's transaction and deleted once their endpoint accepted them (app.outbound).

Revision ID: 0007
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True),
        sa.Column("endpoint", sa.String(), nullable=False),
        sa.Column("control_id", sa.String(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("alert_id", sa.String(), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("endpoint", "control_id", name="uq_outbox_endpoint_control_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_outbox_endpoint_id", "outbox", ["endpoint", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_endpoint_id", table_name="outbox")
    op.drop_table("outbox")
