"""Compact observations: one row per device frame instead of one row per value.

`observations` (a row per value, text columns, an index on bed, code and time) becomes
`observation_streams` (a bed's device and its list of series) and `observation_frames` (time in
microseconds, stream, values packed in one blob: `app.store._frames`). On PostgreSQL the
frames table is partitioned by range of time with a default partition; the retention job adds
the day partitions. Every row is moved over, in id order, a page at a time; downgrade moves them
back.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import sqlalchemy as sa
from alembic import op

from app.store._frames import Stream, frames, observations_of, series_of, series_text
from app.store.types import UTCDateTime
from core.model import Observation, ValueStatus

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PAGE = 20_000

OLD = sa.table(
    "observations",
    sa.column("id", sa.BigInteger()),
    sa.column("t", UTCDateTime()),
    sa.column("bed", sa.String()),
    sa.column("code", sa.String()),
    sa.column("value", sa.Double()),
    sa.column("unit", sa.String()),
    sa.column("device", sa.String()),
    sa.column("status", sa.String()),
)
_streams = sa.table(
    "observation_streams",
    sa.column("id", sa.Integer()),
    sa.column("bed", sa.String()),
    sa.column("device", sa.String()),
    sa.column("series", sa.Text()),
)
_frames = sa.table(
    "observation_frames",
    sa.column("t", sa.BigInteger()),
    sa.column("id", sa.BigInteger()),
    sa.column("stream", sa.Integer()),
    sa.column("vals", sa.LargeBinary()),
    sa.column("flags", sa.LargeBinary()),
)


def upgrade() -> None:
    op.create_table(
        "observation_streams",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("bed", sa.String(), nullable=False),
        sa.Column("device", sa.String(), nullable=True),
        sa.Column("series", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observation_streams")),
    )
    op.create_index("ix_observation_streams_bed", "observation_streams", ["bed"])
    if op.get_bind().dialect.name == "postgresql":
        # no primary key: it would have to include t, and nothing looks a frame up by id
        op.execute(
            "CREATE TABLE observation_frames (t BIGINT NOT NULL, id BIGSERIAL NOT NULL, "
            "stream INTEGER NOT NULL, vals BYTEA NOT NULL, flags BYTEA) PARTITION BY RANGE (t)"
        )
        op.execute(
            "CREATE TABLE observation_frames_default PARTITION OF observation_frames DEFAULT"
        )
    else:
        op.create_table(
            "observation_frames",
            sa.Column("t", sa.BigInteger(), nullable=False),
            sa.Column("id", BigId, primary_key=True, autoincrement=True),
            sa.Column("stream", sa.Integer(), nullable=False),
            sa.Column("vals", sa.LargeBinary(), nullable=False),
            sa.Column("flags", sa.LargeBinary(), nullable=True),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_observation_frames")),
        )
    op.create_index("ix_observation_frames_stream_t", "observation_frames", ["stream", "t"])
    _move_up(op.get_bind())
    op.drop_index("ix_observations_bed_code_t", table_name="observations")
    op.drop_table("observations")


def _move_up(conn: sa.Connection) -> None:
    ids: dict[tuple[str, str | None, str], int] = {}
    for page in _old_pages(conn):
        rows = []
        for f in frames(page):
            key = (f.bed, f.device, series_text(f.series))
            if key not in ids:
                ids[key] = conn.execute(
                    _streams.insert()
                    .values(bed=f.bed, device=f.device, series=key[2])
                    .returning(_streams.c.id)
                ).scalar_one()
            rows.append({"t": f.t, "stream": ids[key], "vals": f.vals, "flags": f.flags})
        conn.execute(_frames.insert(), rows)


def _old_pages(conn: sa.Connection) -> Iterator[list[Observation]]:
    c, last = OLD.c, None
    while True:
        stmt = sa.select(OLD).order_by(c.id).limit(PAGE)
        if last is not None:
            stmt = stmt.where(c.id > last)
        rows = conn.execute(stmt).mappings().all()
        if not rows:
            return
        last = rows[-1]["id"]
        yield [old_observation(r) for r in rows]


def old_observation(row: sa.RowMapping) -> Observation:
    """An `observations` row of 0010 as the value type."""
    return Observation(
        t=row["t"],
        bed=row["bed"],
        code=row["code"],
        value=row["value"],
        unit=row["unit"],
        device=row["device"],
        status=ValueStatus(row["status"]),
    )


def downgrade() -> None:
    op.create_table(
        "observations",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("t", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bed", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("unit", sa.String(), nullable=False),
        sa.Column("device", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observations")),
    )
    op.create_index("ix_observations_bed_code_t", "observations", ["bed", "code", "t"])
    _move_down(op.get_bind())
    op.drop_index("ix_observation_frames_stream_t", table_name="observation_frames")
    op.drop_table("observation_frames")  # on PostgreSQL, with its partitions
    op.drop_index("ix_observation_streams_bed", table_name="observation_streams")
    op.drop_table("observation_streams")


def _move_down(conn: sa.Connection) -> None:
    s = _streams.c
    streams = {
        r.id: Stream(r.id, r.bed, r.device, series_of(r.series))
        for r in conn.execute(sa.select(s.id, s.bed, s.device, s.series))
    }
    c, last = _frames.c, None
    while True:
        stmt = sa.select(c.t, c.id, c.stream, c.vals, c.flags).order_by(c.t, c.id).limit(PAGE)
        if last is not None:
            stmt = stmt.where(sa.tuple_(c.t, c.id) > sa.tuple_(*last))
        page = conn.execute(stmt).all()
        if not page:
            return
        last = page[-1][:2]
        rows = [
            {
                "t": o.t,
                "bed": o.bed,
                "code": o.code,
                "value": o.value,
                "unit": o.unit,
                "device": o.device,
                "status": o.status.value,
            }
            for t, _, stream, vals, flags in page
            for o in observations_of(streams[stream], t, vals, flags)
        ]
        conn.execute(OLD.insert(), rows)
