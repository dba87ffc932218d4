"""The initial iaewatch schema.

beds, patients, devices and their connection history, infusions (order + record),
observations, events, alerts (current state) and alert_transitions (one row per transition;
its key is the global seq), users and the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column[int]:
    # 64-bit on PostgreSQL; INTEGER on SQLite so that it is the rowid
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True)


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _json(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False)


def _alert_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("bed", sa.String(), nullable=False),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("iae", sa.Boolean(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("priority", sa.String(), nullable=False),
        sa.Column("phase", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        _time("onset"),
        _time("t"),
        sa.Column("message", sa.Text(), nullable=False),
        _json("evidence"),
        sa.Column("acked_by", sa.String(), nullable=True),
        _time("acked_at", nullable=True),
        _time("ended_at", nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "beds",
        sa.Column("bed", sa.String(), nullable=False),
        sa.Column("label", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("bed", name="pk_beds"),
    )

    op.create_table(
        "patients",
        _id(),
        sa.Column("study_id", sa.String(), nullable=False),
        sa.Column("bed", sa.String(), nullable=True),
        sa.Column("weight_kg", sa.Double(), nullable=False),
        sa.Column("arm", sa.String(), nullable=False),
        _time("ards_onset", nullable=True),
        sa.Column("age_years", sa.Integer(), nullable=True),
        _time("enrolled_at"),
        _time("discharged_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_patients"),
        sa.UniqueConstraint("study_id", name="uq_patients_study_id"),
        sa.ForeignKeyConstraint(["bed"], ["beds.bed"], name="fk_patients_bed_beds"),
        sa.CheckConstraint("arm IN ('cells', 'saline', 'unknown')", name=op.f("ck_patients_arm")),
        sa.CheckConstraint("weight_kg > 0", name=op.f("ck_patients_weight_positive")),
    )
    op.create_index("ix_patients_bed", "patients", ["bed"])

    op.create_table(
        "devices",
        sa.Column("bed", sa.String(), nullable=False),
        sa.Column("device_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("protocol", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=True),
        _time("state_since", nullable=True),
        sa.PrimaryKeyConstraint("bed", "device_id", name="pk_devices"),
        sa.ForeignKeyConstraint(["bed"], ["beds.bed"], name="fk_devices_bed_beds"),
    )

    op.create_table(
        "device_connections",
        _id(),
        sa.Column("bed", sa.String(), nullable=False),
        sa.Column("device_id", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        _time("t"),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_device_connections"),
        sa.ForeignKeyConstraint(
            ["bed", "device_id"],
            ["devices.bed", "devices.device_id"],
            name="fk_device_connections_bed_device_id_devices",
        ),
    )
    op.create_index(
        "ix_device_connections_bed_device_id_t", "device_connections", ["bed", "device_id", "t"]
    )

    op.create_table(
        "infusions",
        _id(),
        sa.Column("bed", sa.String(), nullable=False),
        sa.Column("study_id", sa.String(), nullable=True),
        _time("started_at"),
        _time("ended_at", nullable=True),
        sa.Column("weight_kg", sa.Double(), nullable=True),
        sa.Column("volume_ml", sa.Double(), nullable=True),
        sa.Column("planned_min", sa.Double(), nullable=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_infusions"),
        sa.ForeignKeyConstraint(["bed"], ["beds.bed"], name="fk_infusions_bed_beds"),
        sa.ForeignKeyConstraint(
            ["study_id"], ["patients.study_id"], name="fk_infusions_study_id_patients"
        ),
    )
    op.create_index("ix_infusions_bed_started_at", "infusions", ["bed", "started_at"])

    op.create_table(
        "observations",
        _id(),
        _time("t"),
        sa.Column("bed", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("unit", sa.String(), nullable=False),
        sa.Column("device", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_observations"),
    )
    op.create_index("ix_observations_bed_code_t", "observations", ["bed", "code", "t"])

    op.create_table(
        "events",
        _id(),
        _time("t"),
        sa.Column("bed", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        _json("fields"),
        sa.Column("device", sa.String(), nullable=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_bed_t", "events", ["bed", "t"])

    op.create_table(
        "alerts",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        *_alert_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_bed_onset", "alerts", ["bed", "onset"])
    op.create_index("ix_alerts_state", "alerts", ["state"])
    op.create_index("ix_alerts_onset", "alerts", ["onset"])

    op.create_table(
        "alert_transitions",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True),
        sa.Column("alert_id", sa.String(), nullable=False),
        *_alert_columns(),
        sa.PrimaryKeyConstraint("seq", name="pk_alert_transitions"),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name="fk_alert_transitions_alert_id_alerts"
        ),
        # AUTOINCREMENT: SQLite never reuses a seq, even after the newest row is deleted
        sqlite_autoincrement=True,
    )
    op.create_index("ix_alert_transitions_alert_id", "alert_transitions", ["alert_id"])

    op.create_table(
        "users",
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=False),
        _time("created_at"),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("username", name="pk_users"),
        sa.CheckConstraint("role IN ('nurse', 'engineer', 'admin')", name=op.f("ck_users_role")),
    )

    op.create_table(
        "audit_log",
        _id(),
        _time("t"),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        _json("details"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_t", "audit_log", ["t"])


def downgrade() -> None:
    for table in (
        "audit_log",
        "users",
        "alert_transitions",
        "alerts",
        "events",
        "observations",
        "infusions",
        "device_connections",
        "devices",
        "patients",
        "beds",
    ):
        op.drop_table(table)
