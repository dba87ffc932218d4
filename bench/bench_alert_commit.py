"""An alert's commit (`Store.commit_alerts`, one transition) while the event loop is busy.

At a busy station the event loop's turns take milliseconds (a slice of the pipeline, a
numerics flush to every station client). Here a task keeps the loop busy with turns of
`--turn-ms` of pure Python, as those are, while alerts are committed one at a time, a START
then an UPDATE of each; the yardstick is the same commit on an idle loop. The interpreter runs
with the station's GIL switch interval (`app.runtime_tuning`). SQLite (a file) and PostgreSQL
(a throwaway schema; skipped when the server cannot be reached).

    .venv/bin/python bench/bench_alert_commit.py [--commits 100] [--turn-ms 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "support"))

from factories import make_alert
from pgschema import PgUnreachable, pg_schema

from app.runtime_tuning import SWITCH_INTERVAL_S
from app.store import Store
from app.store.migrate import upgrade
from core.model import Phase


async def _busy(stop: asyncio.Event, turn_s: float) -> None:
    """Turns of `turn_s` of pure Python until `stop`."""
    clock = time.perf_counter
    while not stop.is_set():
        until = clock() + turn_s
        while clock() < until:
            pass
        await asyncio.sleep(0)


async def _commits(store: Store, commits: int, turn_s: float, tag: str) -> list[float]:
    """Delays (ms) of `commits` commits, with the loop busy in turns of `turn_s` (0: idle)."""
    stop = asyncio.Event()
    busy = asyncio.create_task(_busy(stop, turn_s)) if turn_s else None
    delays = []
    try:
        for i in range(commits):
            phase = Phase.START if i % 2 == 0 else Phase.UPDATE
            alert = make_alert(id=f"{tag}-{i // 2}", phase=phase)
            t = time.perf_counter()
            await store.commit_alerts([alert])
            delays.append((time.perf_counter() - t) * 1000.0)
            await asyncio.sleep(0.002)
    finally:
        stop.set()
        if busy is not None:
            await busy
    return delays


async def _bench(label: str, url: str, commits: int, turn_ms: float) -> None:
    await upgrade(url)
    store = await Store.open(url)
    try:
        await _commits(store, 10, 0.0, "warm-up")
        for turn in (0.0, turn_ms):
            d = await _commits(store, commits, turn / 1000.0, f"turn-{turn:g}")
            what = "idle loop (yardstick)" if not turn else f"loop busy, {turn:g} ms turns"
            print(
                f"{label:<11} {what:<28} p50 {statistics.median(d):6.1f} ms   "
                f"p90 {statistics.quantiles(d, n=10)[-1]:6.1f} ms   max {max(d):6.1f} ms"
            )
    finally:
        await store.close()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commits", type=int, default=100)
    ap.add_argument("--turn-ms", type=float, default=3.0)
    args = ap.parse_args()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    print(f"{args.commits} commits each; GIL switch interval {SWITCH_INTERVAL_S * 1000:g} ms")
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/alerts.db"
        await _bench("sqlite", url, args.commits, args.turn_ms)
    try:
        async with pg_schema() as url:
            await _bench("postgresql", url, args.commits, args.turn_ms)
    except PgUnreachable as exc:
        print(f"postgresql skipped: {exc}")


if __name__ == "__main__":
    asyncio.run(main())
