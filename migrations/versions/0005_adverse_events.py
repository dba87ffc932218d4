"""Eligibility facts, the product record, adjudication with e-signatures, the AE/SAE record,
and the coordinator and investigator roles (issue 15).

- `blood_gases`: the gas as entered (`gas_unit`, `pao2_entered`, `paco2_entered`); rows from
  before stay as they were (mmHg, the three columns NULL).
- `enrolment_facts`, `product_records`, `signatures`, `adverse_events`,
  `adverse_event_alerts`, `adjudications`: new tables.
- `users.role` may also be `coordinator` or `investigator`.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ROLES = "role IN ('nurse', 'engineer', 'admin')"
NEW_ROLES = "role IN ('nurse', 'coordinator', 'investigator', 'engineer', 'admin')"


def _id() -> sa.Column[int]:
    # 64-bit on PostgreSQL; INTEGER on SQLite so that it is the rowid
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True)


def _big(name: str, *, nullable: bool) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=nullable)


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _json(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False)


def _study_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["study_id"], ["patients.study_id"], name=f"fk_{table}_study_id_patients"
    )


def _set_roles(check: str) -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_role"), type_="check")
        batch.create_check_constraint(op.f("ck_users_role"), check)


def upgrade() -> None:
    with op.batch_alter_table("blood_gases") as batch:
        batch.add_column(sa.Column("gas_unit", sa.String(), nullable=True))
        batch.add_column(sa.Column("pao2_entered", sa.Double(), nullable=True))
        batch.add_column(sa.Column("paco2_entered", sa.Double(), nullable=True))
    _set_roles(NEW_ROLES)

    op.create_table(
        "enrolment_facts",
        _id(),
        sa.Column("study_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        _json("data"),
        sa.Column("entered_by", sa.String(), nullable=False),
        _time("entered_at"),
        sa.PrimaryKeyConstraint("id", name="pk_enrolment_facts"),
        _study_fk("enrolment_facts"),
        sa.CheckConstraint(
            "kind IN ('consent', 'imaging', 'airway', 'body', 'protective_ventilation')",
            name=op.f("ck_enrolment_facts_kind"),
        ),
    )
    op.create_index("ix_enrolment_facts_study_id_kind", "enrolment_facts", ["study_id", "kind"])

    op.create_table(
        "product_records",
        _id(),
        sa.Column("study_id", sa.String(), nullable=False),
        sa.Column("weight_basis", sa.String(), nullable=False),
        sa.Column("dose_weight_kg", sa.Double(), nullable=False),
        sa.Column("bag_id", sa.String(), nullable=False),
        sa.Column("lot_id", sa.String(), nullable=False),
        sa.Column("cell_count", sa.Double(), nullable=False),
        sa.Column("viability_pct", sa.Double(), nullable=False),
        _time("prepared_at"),
        _time("expires_at"),
        sa.Column("preservation", sa.String(), nullable=False),
        sa.Column("washed", sa.Boolean(), nullable=False),
        sa.Column("lumen_confirmed", sa.Boolean(), nullable=False),
        sa.Column("entered_by", sa.String(), nullable=False),
        _time("entered_at"),
        sa.PrimaryKeyConstraint("id", name="pk_product_records"),
        _study_fk("product_records"),
        sa.CheckConstraint(
            "weight_basis IN ('actual', 'pbw', 'capped')",
            name=op.f("ck_product_records_weight_basis"),
        ),
        sa.CheckConstraint(
            "preservation IN ('fresh', 'cryopreserved_dmso')",
            name=op.f("ck_product_records_preservation"),
        ),
    )
    op.create_index("ix_product_records_study_id", "product_records", ["study_id"])

    op.create_table(
        "signatures",
        _id(),
        sa.Column("record_kind", sa.String(), nullable=False),
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("signer", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("meaning", sa.String(), nullable=False),
        _time("t"),
        sa.Column("record_sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_signatures"),
    )
    op.create_index(
        "ix_signatures_record_kind_record_id", "signatures", ["record_kind", "record_id"]
    )

    op.create_table(
        "adverse_events",
        _id(),
        sa.Column("study_id", sa.String(), nullable=False),
        sa.Column("term", sa.Text(), nullable=False),
        sa.Column("meddra_code", sa.String(), nullable=True),
        _time("onset"),
        _time("resolved_at", nullable=True),
        sa.Column("ctcae_grade", sa.Integer(), nullable=False),
        _json("seriousness"),
        sa.Column("causality_product", sa.String(), nullable=False),
        sa.Column("causality_procedure", sa.String(), nullable=False),
        sa.Column("expected", sa.Boolean(), nullable=False),
        sa.Column("action_taken", sa.String(), nullable=False),
        sa.Column("treatment", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("reporter", sa.String(), nullable=False),
        _time("aware_at"),
        _time("created_at"),
        _time("sponsor_reported_at", nullable=True),
        _time("susar_reported_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_adverse_events"),
        _study_fk("adverse_events"),
        sa.CheckConstraint(
            "ctcae_grade BETWEEN 1 AND 5", name=op.f("ck_adverse_events_ctcae_grade")
        ),
    )
    op.create_index("ix_adverse_events_study_id", "adverse_events", ["study_id"])

    op.create_table(
        "adverse_event_alerts",
        _big("ae_id", nullable=False),
        sa.Column("alert_id", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("ae_id", "alert_id", name="pk_adverse_event_alerts"),
        sa.ForeignKeyConstraint(
            ["ae_id"], ["adverse_events.id"], name="fk_adverse_event_alerts_ae_id_adverse_events"
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name="fk_adverse_event_alerts_alert_id_alerts"
        ),
    )
    op.create_index(
        "ix_adverse_event_alerts_alert_id", "adverse_event_alerts", ["alert_id"], unique=True
    )

    op.create_table(
        "adjudications",
        _id(),
        sa.Column("alert_id", sa.String(), nullable=False),
        sa.Column("verdict", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("reason_text", sa.Text(), nullable=True),
        _big("ae_id", nullable=True),
        _big("signature_id", nullable=False),
        _time("t"),
        sa.PrimaryKeyConstraint("id", name="pk_adjudications"),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name="fk_adjudications_alert_id_alerts"
        ),
        sa.ForeignKeyConstraint(
            ["ae_id"], ["adverse_events.id"], name="fk_adjudications_ae_id_adverse_events"
        ),
        sa.ForeignKeyConstraint(
            ["signature_id"], ["signatures.id"], name="fk_adjudications_signature_id_signatures"
        ),
        sa.CheckConstraint("verdict IN ('iae', 'not_iae')", name=op.f("ck_adjudications_verdict")),
    )
    op.create_index("ix_adjudications_alert_id", "adjudications", ["alert_id"])


def downgrade() -> None:
    for table in (
        "adjudications",
        "adverse_event_alerts",
        "adverse_events",
        "signatures",
        "product_records",
        "enrolment_facts",
    ):
        op.drop_table(table)
    _set_roles(OLD_ROLES)
    with op.batch_alter_table("blood_gases") as batch:
        batch.drop_column("paco2_entered")
        batch.drop_column("pao2_entered")
        batch.drop_column("gas_unit")
