"""Store throughput: observations through `Store.add_observations` vs raw driver executemany.

500 beds × 15 parameters at 1 Hz for N simulated seconds, written in batches of one second of
data (7,500 rows); each bed's 15 values share one timestamp, as one monitor frame's do.

The same observations go into the same table of the same database twice per round: once
through the store (`Observation`s in; everything the store does is timed: packing them into
device frames, the transaction) and once as a raw driver `executemany` (aiosqlite / asyncpg)
of the same frames packed before the clock starts: the strictest baseline, pure driver and
database time. The table is
emptied between runs, so both start from the same state. Best of `--rounds` for each.

    .venv/bin/python bench/bench_store.py [--seconds 20] [--beds 500] [--rounds 2] [--no-pg]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite
import asyncpg

from app.store import Store
from app.store._frames import Series, frames
from app.store.engine import SQLITE_BUSY_TIMEOUT_MS
from app.store.migrate import upgrade
from core.model import Observation

CODES = [
    ("MDC_PULS_OXIM_SAT_O2", "%"),
    ("MDC_PULS_OXIM_PULS_RATE", "/min"),
    ("MDC_ECG_HEART_RATE", "/min"),
    ("MDC_PRESS_BLD_ART_SYS", "mm[Hg]"),
    ("MDC_PRESS_BLD_ART_DIA", "mm[Hg]"),
    ("MDC_PRESS_BLD_ART_MEAN", "mm[Hg]"),
    ("MDC_TEMP_BLD", "Cel"),
    ("MDC_VENT_RESP_RATE", "/min"),
    ("MDC_AWAY_CO2_ET", "mm[Hg]"),
    ("MDC_VENT_CONC_AWAY_O2_INSP", "%"),
    ("MDC_PRESS_AWAY_END_EXP_POS", "cm[H2O]"),
    ("MDC_PRESS_AWAY_INSP_PEAK", "cm[H2O]"),
    ("MDC_VOL_AWAY_TIDAL_EXP", "mL"),
    ("MDC_FLOW_FLUID_PUMP", "mL/h"),
    ("MDC_VOL_FLUID_DELIV", "mL"),
]
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
INSERT_SQL = "INSERT INTO observation_frames (t, stream, vals, flags) VALUES ({}, {}, {}, {})"
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"


def simulated(seconds: int, beds: int) -> list[list[Observation]]:
    """One batch per simulated second: every bed's every parameter."""
    names = [f"ICU-{b + 1}" for b in range(beds)]
    batches = []
    for s in range(seconds):
        batch: list[Observation] = []
        for b, bed in enumerate(names):
            # each bed's monitor runs on its own phase; one frame stamps all its values
            t = T0 + timedelta(seconds=s, milliseconds=(b * 37) % 1000)
            batch.extend(
                Observation(
                    t=t,
                    bed=bed,
                    code=code,
                    value=50.0 + (s + i) % 40,
                    unit=unit,
                    device=f"{bed}-mon",
                )
                for i, (code, unit) in enumerate(CODES)
            )
        batches.append(batch)
    return batches


def packed(batches: list[list[Observation]]) -> list[list[tuple[object, ...]]]:
    """The frames the store writes, as driver tuples (a stream id per bed and device)."""
    ids: dict[tuple[str, str | None, Series], int] = {}
    return [
        [
            (f.t, ids.setdefault((f.bed, f.device, f.series), len(ids) + 1), f.vals, f.flags)
            for f in frames(batch)
        ]
        for batch in batches
    ]


async def timed(run: Callable[[], Awaitable[None]]) -> float:
    start = time.perf_counter()
    await run()
    return time.perf_counter() - start


async def bench(
    label: str,
    url: str,
    raw: Callable[[], Awaitable[None]],
    clear: Callable[[], Awaitable[None]],
    batches: list[list[Observation]],
    rounds: int,
) -> None:
    rows = sum(len(b) for b in batches)
    store = await Store.open(url)

    async def via_store() -> None:
        for batch in batches:
            await store.add_observations(batch)

    best_store = best_raw = float("inf")
    try:
        for _ in range(rounds):
            await clear()
            best_store = min(best_store, await timed(via_store))
            await clear()
            best_raw = min(best_raw, await timed(raw))
        await clear()
    finally:
        await store.close()
    s_rate, r_rate = rows / best_store, rows / best_raw
    print(
        f"{label:<10} {rows:>9,} observations  store {s_rate:>10,.0f}/s ({best_store:6.2f} s)  "
        f"raw executemany of the frames {r_rate:>10,.0f}/s ({best_raw:6.2f} s)  "
        f"store/raw {100 * s_rate / r_rate:5.1f} %"
    )


async def bench_sqlite(batches: list[list[Observation]], rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        url = f"sqlite+aiosqlite:///{path}"
        await upgrade(url)
        db = await aiosqlite.connect(path, isolation_level=None)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        sql = INSERT_SQL.format(*["?"] * 4)
        prebuilt = packed(batches)

        async def raw() -> None:
            for rows in prebuilt:
                await db.execute("BEGIN IMMEDIATE")
                await db.executemany(sql, rows)
                await db.execute("COMMIT")

        async def clear() -> None:
            await db.execute("DELETE FROM observation_frames")

        try:
            await bench("sqlite", url, raw, clear, batches, rounds)
        finally:
            await db.close()


async def bench_postgres(batches: list[list[Observation]], rounds: int) -> None:
    try:
        admin = await asyncpg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres", timeout=5
        )
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        print(f"postgresql skipped: not reachable at {PG_HOST}:{PG_PORT} ({exc})")
        return
    name = f"iaew_bench_{uuid.uuid4().hex[:8]}"
    await admin.execute(f"CREATE DATABASE {name}")
    try:
        url = f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
        await upgrade(url)
        conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=name)
        sql = INSERT_SQL.format(*[f"${i}" for i in range(1, 5)])
        prebuilt = packed(batches)

        async def raw() -> None:
            for rows in prebuilt:
                async with conn.transaction():
                    await conn.executemany(sql, rows)

        async def clear() -> None:
            await conn.execute("TRUNCATE observation_frames")

        try:
            await bench("postgresql", url, raw, clear, batches, rounds)
        finally:
            await conn.close()
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20, help="simulated seconds of data")
    parser.add_argument("--beds", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2, help="best of this many runs each")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)
    batches = simulated(args.seconds, args.beds)
    print(
        f"{args.beds} beds x {len(CODES)} parameters at 1 Hz, {args.seconds} s simulated, "
        f"batches of {len(batches[0]):,} rows; best of {args.rounds}"
    )
    await bench_sqlite(batches, args.rounds)
    if not args.no_pg:
        await bench_postgres(batches, args.rounds)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
