"""The tables. Alembic (`migrations/`) is the only way they reach a database.

Observations, events, alerts and transitions carry `bed` without a foreign key on purpose:
a value or an alert from a bed nobody configured yet must still be kept, never refused.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from app.store.audit_chain import hash_default, prev_hash_default
from app.store.types import JSONDoc, UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

# 64-bit keys on PostgreSQL; INTEGER on SQLite so the key is the rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")

ARMS = ("cells", "saline", "unknown")
ROLES = ("nurse", "coordinator", "investigator", "engineer", "admin")

beds = Table(
    "beds",
    metadata,
    Column("bed", String(), primary_key=True),
    Column("label", String(), nullable=True),
)

patients = Table(
    "patients",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("study_id", String(), nullable=False, unique=True),
    Column("bed", String(), ForeignKey("beds.bed"), nullable=True),
    Column("weight_kg", Double(), nullable=False),
    Column("arm", String(), nullable=False),
    Column("ards_onset", UTCDateTime(), nullable=True),
    Column("age_years", Integer(), nullable=True),
    Column("enrolled_at", UTCDateTime(), nullable=False),
    Column("discharged_at", UTCDateTime(), nullable=True),
    CheckConstraint("arm IN ('cells', 'saline', 'unknown')", name="arm"),
    CheckConstraint("weight_kg > 0", name="weight_positive"),
    Index("ix_patients_bed", "bed"),
)

devices = Table(
    "devices",
    metadata,
    Column("bed", String(), ForeignKey("beds.bed"), primary_key=True),
    Column("device_id", String(), primary_key=True),
    Column("kind", String(), nullable=False),
    Column("protocol", String(), nullable=False),
    Column("address", String(), nullable=False),
    Column("state", String(), nullable=True),
    Column("state_since", UTCDateTime(), nullable=True),
)

device_connections = Table(
    "device_connections",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("bed", String(), nullable=False),
    Column("device_id", String(), nullable=False),
    Column("state", String(), nullable=False),
    Column("t", UTCDateTime(), nullable=False),
    Column("reason", Text(), nullable=False),
    ForeignKeyConstraint(["bed", "device_id"], ["devices.bed", "devices.device_id"]),
    Index("ix_device_connections_bed_device_id_t", "bed", "device_id", "t"),
)

# One row per infusion: the order (weight, volume, planned duration) and the record (start, end).
infusions = Table(
    "infusions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("bed", String(), ForeignKey("beds.bed"), nullable=False),
    Column("study_id", String(), ForeignKey("patients.study_id"), nullable=True),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("ended_at", UTCDateTime(), nullable=True),
    Column("weight_kg", Double(), nullable=True),
    Column("volume_ml", Double(), nullable=True),
    Column("planned_min", Double(), nullable=True),
    Column("source", String(), nullable=False),
    # a pump's start seen only at reconnection lies within [started_at - gap, started_at]
    Column("start_uncertainty_s", Double(), nullable=True),
    Column("start_time_source", String(), nullable=True),  # "pump", "seen_at_reconnect", None
    Index("ix_infusions_bed_started_at", "bed", "started_at"),
)

# Observations, one row per device frame (`app.store._frames` has the layout): a stream is one
# bed's device with its list of (code, unit) series; a frame is one sample of a stream, its
# values packed in `vals`. On PostgreSQL `observation_frames` is partitioned by range of `t`
# (a day each, `app.store._partitions`) and has no primary key index: nothing looks a frame up
# by id, which only orders frames of the same time.
observation_streams = Table(
    "observation_streams",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("bed", String(), nullable=False),
    Column("device", String(), nullable=True),
    Column("series", Text(), nullable=False),  # JSON [[code, unit], ...]
    Index("ix_observation_streams_bed", "bed"),
)

observation_frames = Table(
    "observation_frames",
    metadata,
    Column("t", BigInteger(), nullable=False),  # microseconds since 1970, UTC
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("stream", Integer(), nullable=False),
    Column("vals", LargeBinary(), nullable=False),
    Column("flags", LargeBinary(), nullable=True),
    Index("ix_observation_frames_stream_t", "stream", "t"),
)

# Device events and clinician entries (blood gases too, as `blood_gas` events, for now).
observation_minutes = Table(
    "observation_minutes",
    metadata,
    # observations past their full-resolution retention, one row per minute and series:
    # `samples` rows were there, `n` of them with a value; min, median and max of those values
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("minute", UTCDateTime(), nullable=False),
    Column("bed", String(), nullable=False),
    Column("code", String(), nullable=False),
    Column("unit", String(), nullable=False),
    Column("device", String(), nullable=True),
    Column("samples", Integer(), nullable=False),
    Column("n", Integer(), nullable=False),
    Column("min", Double(), nullable=True),
    Column("median", Double(), nullable=True),
    Column("max", Double(), nullable=True),
    Index("ix_observation_minutes_bed_code_minute", "bed", "code", "minute"),
)

events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("t", UTCDateTime(), nullable=False),
    Column("bed", String(), nullable=False),
    Column("name", String(), nullable=False),
    Column("fields", JSONDoc, nullable=False),
    Column("device", String(), nullable=True),
    Column("source", String(), nullable=False),
    Index("ix_events_bed_t", "bed", "t"),
)


def _alert_columns() -> list[Column[object]]:
    """What an alert looks like at one transition: the current row and each history row."""
    return [
        Column("bed", String(), nullable=False),
        Column("category", String(), nullable=False),
        Column("iae", Boolean(), nullable=False),
        Column("rule", String(), nullable=False),
        Column("priority", String(), nullable=False),
        Column("phase", String(), nullable=False),
        Column("state", String(), nullable=False),
        Column("onset", UTCDateTime(), nullable=False),
        Column("t", UTCDateTime(), nullable=False),
        Column("message", Text(), nullable=False),
        Column("evidence", JSONDoc, nullable=False),
        Column("acked_by", String(), nullable=True),
        Column("acked_at", UTCDateTime(), nullable=True),
        Column("ended_at", UTCDateTime(), nullable=True),
    ]


# Current state per alert id; `seq` is the seq of its latest transition.
alerts = Table(
    "alerts",
    metadata,
    Column("id", String(), primary_key=True),
    Column("seq", BigInteger(), nullable=False),
    *_alert_columns(),
    Index("ix_alerts_bed_onset", "bed", "onset"),
    Index("ix_alerts_state", "state"),
    Index("ix_alerts_onset", "onset"),
)

# One row per transition; the autoincrement key is the global, never-reused `seq`.
alert_transitions = Table(
    "alert_transitions",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("alert_id", String(), ForeignKey("alerts.id"), nullable=False),
    *_alert_columns(),
    Index("ix_alert_transitions_alert_id", "alert_id"),
    sqlite_autoincrement=True,
)

users = Table(
    "users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled", Boolean(), nullable=False, server_default=false()),
    CheckConstraint(
        "role IN ('nurse', 'coordinator', 'investigator', 'engineer', 'admin')", name="role"
    ),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("t", UTCDateTime(), nullable=False),
    Column("actor", String(), nullable=False),
    Column("action", String(), nullable=False),
    Column("target", String(), nullable=False),
    Column("details", JSONDoc, nullable=False),
    # the hash chain (app.store.audit_chain), filled by these defaults on every insert
    Column("prev_hash", String(64), nullable=False, default=prev_hash_default),
    Column("hash", String(64), nullable=False, default=hash_default),
    Index("ix_audit_log_t", "t"),
)

# Outbound messages waiting for their endpoint (app.outbound), oldest first: a row is written
# in the same transaction as the alert transition it carries, and deleted once the endpoint
# accepted it (HL7 AA, HTTP 2xx). `control_id` is the message's idempotent id (MSH-10).
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("endpoint", String(), nullable=False),
    Column("control_id", String(), nullable=False),
    Column("created", UTCDateTime(), nullable=False),
    Column("alert_id", String(), nullable=True),
    Column("seq", BigInteger(), nullable=True),
    Column("payload", Text(), nullable=False),
    Column("attempts", Integer(), nullable=False, server_default="0"),
    Column("last_error", Text(), nullable=True),
    UniqueConstraint("endpoint", "control_id"),
    Index("ix_outbox_endpoint_id", "endpoint", "id"),
    sqlite_autoincrement=True,
)
