"""Storage cost: bytes per observation and per bed-day, at full resolution and as minutes.

One bed's hour at its real rates (a monitor's 12 numerics at 1 Hz, a ventilator's 10 every
second, two pumps' 3 values each at 1 Hz: 28 values a second) goes into a fresh database through
`Store.add_observations`; the table and its index are measured (SQLite: `dbstat`; PostgreSQL:
`pg_total_relation_size`) and scaled to 24 h. Then the retention rule folds it into per-minute
aggregates, which are measured the same way. The yardstick is the issue's target: 50 MB per
bed-day at full resolution.

    .venv/bin/python bench/bench_storage.py [--minutes 60] [--no-pg]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "support"))

from pgschema import create_pg_schema, drop_pg_schema, pg_url
from sqlalchemy import text

from app.store import Store
from app.store._retention import RetentionRule
from app.store.migrate import upgrade
from core.model import Observation

T0 = datetime(2026, 3, 1, tzinfo=UTC)
TARGET_MB = 50.0
SERIES = (
    [(f"MDC_MONITOR_{i}", "monitor", "/min") for i in range(12)]
    + [(f"MDC_VENT_{i}", "vent", "cm[H2O]") for i in range(10)]
    + [(f"MDC_PUMP_{p}_{i}", f"pump-{p}", "mL/h") for p in ("study", "norepi") for i in range(3)]
)
TABLES = ("observations", "observation_minutes")


async def measure(store: Store, url: str) -> dict[str, int]:
    sqlite = url.startswith("sqlite")
    out: dict[str, int] = {}
    async with store._engine.connect() as conn:  # a benchmark looks inside
        if sqlite:
            await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        for table in TABLES:
            if sqlite:
                rows = await conn.execute(
                    text("SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = :t"),
                    {"t": table},
                )
                total = int(rows.scalar() or 0)
                indexes = await conn.execute(
                    text("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"),
                    {"t": table},
                )
                for (name,) in indexes.all():
                    got = await conn.execute(
                        text("SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = :n"),
                        {"n": name},
                    )
                    total += int(got.scalar() or 0)
                out[table] = total
            else:
                size = await conn.execute(text("SELECT pg_total_relation_size(:t)"), {"t": table})
                out[table] = int(size.scalar() or 0)
    return out


async def run(url: str, minutes: int) -> None:
    await upgrade(url)
    store = await Store.open(url)
    try:
        rows = 0
        for second in range(minutes * 60):
            if second % 60 == 0:
                batch: list[Observation] = []
            t = T0 + timedelta(seconds=second)
            batch += [
                Observation(
                    t=t, bed="ICU-1", code=code, value=60.0 + second % 40, unit=unit, device=dev
                )
                for code, dev, unit in SERIES
            ]
            if second % 60 == 59:
                await store.add_observations(batch)
                rows += len(batch)
        full = await measure(store, url)
        per_row = full["observations"] / rows
        per_day_mb = full["observations"] * (24 * 60 / minutes) / 1e6
        folded = await store.prune(
            T0 + timedelta(days=2),
            RetentionRule(full=timedelta(days=1), aggregates=timedelta(days=30)),
        )
        after = await measure(store, url)
        minutes_day_mb = after["observation_minutes"] * (24 * 60 / minutes) / 1e6
        dialect = "sqlite" if url.startswith("sqlite") else "postgresql"
        verdict = "meets" if per_day_mb <= TARGET_MB else "misses"
        print(
            f"{dialect:10} {rows:>9,} rows  {per_row:6.1f} B/observation (table + indexes)  "
            f"{per_day_mb:7.1f} MB/bed-day full resolution ({verdict} the {TARGET_MB:g} MB "
            f"target)  {folded.minutes_written:,} minute rows → {minutes_day_mb:5.2f} MB/bed-day "
            "as minutes"
        )
    finally:
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    print(f"one bed, {len(SERIES)} values/s at real rates, {args.minutes} min, scaled to 24 h")
    with tempfile.TemporaryDirectory() as folder:
        await run(f"sqlite+aiosqlite:///{folder}/bench.db", args.minutes)
    if args.no_pg:
        return
    try:
        role = await create_pg_schema()
    except ConnectionError as exc:
        print(f"postgresql skipped: {exc}")
        return
    try:
        await run(pg_url(role), args.minutes)
    finally:
        await drop_pg_schema(role)


if __name__ == "__main__":
    asyncio.run(main())
