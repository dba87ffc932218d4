"""Storage cost: bytes per observation and per bed-day, at full resolution and as minutes;
and the insert rate a 500-bed station needs.

One bed's hour at its real rates (a monitor's 12 numerics at 1 Hz, a ventilator's 10 every
second, two pumps' 3 values each at 1 Hz: 28 values a second) goes into a fresh database through
`Store.add_observations`, one device frame per device and second. The frames table and its
index are measured (SQLite: `dbstat`; PostgreSQL: the heap and indexes of every partition, not
the free-space and visibility maps, 32 kB a table whatever its size) and scaled to 24 h; the
bed's streams (a handful of rows, written once) are added as they are. Then the retention rule
folds it into per-minute aggregates, measured the same way. Three times: whole numbers (most
monitor numerics), tenths (temperatures, FiO2: both kept as int16 in a frame) and values that
need all of a float64 (the worst case: 8 bytes a value). The yardstick is the issue's target:
50 MB per bed-day at full resolution.

The insert rate: `--rate-beds` beds (500) of the same 28 values a second for `--rate-seconds`
simulated seconds, through `Store.add_observations` in batches of 2,000 (the batch writer's
`max_batch`), best of three (the first also adds the beds' streams); the yardstick is what the
station must take, 500 × 28 = 14,000/s.

    .venv/bin/python bench/bench_storage.py [--minutes 60] [--rate-seconds 10] [--no-pg]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "support"))

from pgschema import PgUnreachable, pg_schema
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
TABLES = ("observation_frames", "observation_streams", "observation_minutes")
RATE_BEDS = 500
RATE_TARGET = RATE_BEDS * len(SERIES)
Values = Callable[[int, int], float]
KINDS: dict[str, Values] = {
    "whole numbers": lambda second, i: 60.0 + (second + i) % 40,
    "tenths": lambda second, i: 60.0 + (second + i) % 40 + (second % 10) / 10,
    "any float64": lambda second, i: 60.0 + (second + i) % 40 + 1 / 3,
}


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
            else:  # a partitioned table has no storage of its own: add up its partitions
                size = await conn.execute(
                    text(
                        "SELECT coalesce(sum(pg_relation_size(r) + pg_indexes_size(r)), 0) "
                        "FROM (SELECT CAST(:t AS regclass) AS r UNION ALL SELECT inhrelid "
                        "FROM pg_inherits WHERE inhparent = CAST(:t AS regclass)) AS p"
                    ),
                    {"t": table},
                )
                out[table] = int(size.scalar() or 0)
    return out


async def run(url: str, minutes: int, kind: str) -> None:
    await upgrade(url)
    store = await Store.open(url)
    value = KINDS[kind]
    try:
        rows = 0
        for second in range(minutes * 60):
            if second % 60 == 0:
                batch: list[Observation] = []
            t = T0 + timedelta(seconds=second)
            batch += [
                Observation(
                    t=t, bed="ICU-1", code=code, value=value(second, i), unit=unit, device=dev
                )
                for i, (code, dev, unit) in enumerate(SERIES)
            ]
            if second % 60 == 59:
                await store.add_observations(batch)
                rows += len(batch)
        full = await measure(store, url)
        # frames grow with time; a bed's streams are a handful of rows, written once
        per_row = full["observation_frames"] / rows
        streams = full["observation_streams"]
        per_day_mb = (full["observation_frames"] * (24 * 60 / minutes) + streams) / 1e6
        folded = await store.prune(
            T0 + timedelta(days=2),
            RetentionRule(full=timedelta(days=1), aggregates=timedelta(days=30)),
        )
        after = await measure(store, url)
        minutes_day_mb = after["observation_minutes"] * (24 * 60 / minutes) / 1e6
        dialect = "sqlite" if url.startswith("sqlite") else "postgresql"
        verdict = "meets" if per_day_mb <= TARGET_MB else "misses"
        print(
            f"{dialect:10} {kind:12} {rows:>9,} obs  {per_row:6.1f} B/observation (frames + "
            f"index; + {streams / 1e3:.0f} kB of streams per bed)  {per_day_mb:6.1f} MB/bed-day "
            f"full resolution ({verdict} the "
            f"{TARGET_MB:g} MB target)  {folded.minutes_written:,} minute rows → "
            f"{minutes_day_mb:5.2f} MB/bed-day as minutes"
        )
    finally:
        await store.close()


def station(beds: int, seconds: int, shift: timedelta) -> list[Observation]:
    """`seconds` of `beds` beds at the real rates, each bed's devices on their own phase."""
    out: list[Observation] = []
    for second in range(seconds):
        for b in range(beds):
            t = T0 + shift + timedelta(seconds=second, milliseconds=(b * 37) % 1000)
            out += [
                Observation(
                    t=t,
                    bed=f"ICU-{b}",
                    code=code,
                    value=60.0 + (second + i) % 40,
                    unit=unit,
                    device=dev,
                )
                for i, (code, dev, unit) in enumerate(SERIES)
            ]
    return out


async def rate(url: str, beds: int, seconds: int) -> None:
    await upgrade(url)
    store = await Store.open(url)
    try:
        best = float("inf")
        for round_ in range(3):
            data = station(beds, seconds, timedelta(hours=round_))
            start = time.perf_counter()
            for i in range(0, len(data), 2000):
                await store.add_observations(data[i : i + 2000])
            best = min(best, time.perf_counter() - start)
        dialect = "sqlite" if url.startswith("sqlite") else "postgresql"
        got = len(data) / best
        verdict = "meets" if got >= RATE_TARGET else "misses"
        print(
            f"{dialect:10} insert rate {got:>9,.0f} observations/s ({len(data):,} in {best:.2f} s, "
            f"{verdict} the {RATE_TARGET:,}/s a {RATE_BEDS}-bed station needs)"
        )
    finally:
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--rate-beds", type=int, default=500)
    parser.add_argument("--rate-seconds", type=int, default=10)
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    print(f"one bed, {len(SERIES)} values/s at real rates, {args.minutes} min, scaled to 24 h")
    with tempfile.TemporaryDirectory() as folder:
        for i, kind in enumerate(KINDS):
            await run(f"sqlite+aiosqlite:///{folder}/bench{i}.db", args.minutes, kind)
        await rate(f"sqlite+aiosqlite:///{folder}/rate.db", args.rate_beds, args.rate_seconds)
    if args.no_pg:
        return
    jobs: list[Callable[[str], Awaitable[None]]] = [
        *(functools.partial(run, minutes=args.minutes, kind=k) for k in KINDS),
        functools.partial(rate, beds=args.rate_beds, seconds=args.rate_seconds),
    ]
    try:
        for job in jobs:
            async with pg_schema() as url:
                await job(url)
    except PgUnreachable as exc:
        print(f"postgresql skipped: {exc}")


if __name__ == "__main__":
    asyncio.run(main())
