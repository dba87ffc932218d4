"""PostgreSQL: `observation_frames` is partitioned by range of `t`, one partition a UTC day
(`observation_frames_YYYYMMDD`), plus a default partition for frames no day partition holds
(rows moved by migration 0011, a replay of old data, the minutes before the first retention
round). The retention job creates the coming days' partitions ahead and drops a day whole once
nothing in it is kept at full resolution (`app.store._retention`).

A day partition is made while the default may hold rows of that day: those rows are moved
into the new table before it is attached, in one transaction that holds the table (writers
wait for it: milliseconds, once a day) and an advisory lock so two instances do not race.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.store._frames import micros

PARENT = "observation_frames"
DEFAULT = f"{PARENT}_default"
# pg_advisory_xact_lock key for partition changes ("iaep" in ASCII)
PARTITION_LOCK_KEY = 0x69616570
_DAY = timedelta(days=1)


def is_partition(table: str) -> bool:
    """Whether `table` is one of the partitions (not declared in the models)."""
    return table.startswith(f"{PARENT}_")


def declared_object(obj: object, name: str | None, kind: str, *_: object) -> bool:
    """Alembic's `include_object`: leave out the partitions and their indexes, made at run
    time, so that a comparison (or autogenerate) does not propose dropping them."""
    table = getattr(obj, "table", obj) if kind == "index" else obj
    return not is_partition(getattr(table, "name", name) or "")


def partition_name(day: date) -> str:
    return f"{PARENT}_{day:%Y%m%d}"


def day_bounds(day: date) -> tuple[int, int]:
    """The partition's [from, to) in microseconds."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return micros(start), micros(start + _DAY)


async def day_partitions(conn: AsyncConnection) -> dict[date, str]:
    """The day partitions that exist, by day."""
    rows = await conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = CAST(:parent AS regclass)"
        ),
        {"parent": PARENT},
    )
    out: dict[date, str] = {}
    for (name,) in rows:
        if name != DEFAULT:
            out[datetime.strptime(name[len(PARENT) + 1 :], "%Y%m%d").replace(tzinfo=UTC).date()] = (
                name
            )
    return out


async def lock(conn: AsyncConnection) -> None:
    """Serialise partition changes across instances (until the transaction ends)."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PARTITION_LOCK_KEY})


async def create_day(conn: AsyncConnection, day: date) -> None:
    """Add `day`'s partition, moving its rows out of the default partition first."""
    name, (lo, hi) = partition_name(day), day_bounds(day)
    where = f"t >= {lo} AND t < {hi}"
    # writers wait until the commit: none can add a row of that day to the default between
    # the copy and the delete (making the partition takes this lock anyway)
    await conn.execute(text(f"LOCK TABLE {PARENT} IN ACCESS EXCLUSIVE MODE"))
    moved = await conn.scalar(text(f"SELECT 1 FROM {DEFAULT} WHERE {where} LIMIT 1"))
    if moved is None:
        await conn.execute(
            text(f"CREATE TABLE {name} PARTITION OF {PARENT} FOR VALUES FROM ({lo}) TO ({hi})")
        )
        return
    await conn.execute(text(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS)"))
    await conn.execute(text(f"INSERT INTO {name} SELECT * FROM {DEFAULT} WHERE {where}"))
    await conn.execute(text(f"DELETE FROM {DEFAULT} WHERE {where}"))
    await conn.execute(
        text(f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM ({lo}) TO ({hi})")
    )


async def drop_day(conn: AsyncConnection, name: str) -> None:
    await conn.execute(text(f"DROP TABLE {name}"))
