"""The interpreter's settings for a station that answers within 100 ms (a `Service`).

Measured with `bench/bench_station_scale.py --beds 500 --clients 100` (docs/performance.md):
- **GIL switch interval 1 ms** (CPython's default is 5 ms). The SQLite writer's thread gives up
  the GIL on every statement and must take it back from a busy event loop, each time waiting
  up to the interval: batches of observations held the database's write lock 100-700 ms, and
  an alert commit waited behind them.
- **The long-lived heap frozen** (`gc.freeze`) at start, `FIRST_FREEZE_S` later (the beds'
  state is built as their devices first report), and every `FREEZE_EVERY_S`. A full
  collection walks every sliding window of every bed (some 28,000 deques at 500 beds): it
  stopped the event loop 210-230 ms every few seconds; with the heap frozen, 10-20 ms. A
  frozen object is still freed when nothing refers to it, but not as part of a garbage cycle,
  so every `FULL_COLLECT_EVERY_S` everything is unfrozen and collected once (one such pause),
  then frozen again.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import AsyncIterator

from app.context import AppContext
from core.periodic import every, running

SWITCH_INTERVAL_S = 0.001
FIRST_FREEZE_S = 15.0
FREEZE_EVERY_S = 60.0
FULL_COLLECT_EVERY_S = 6 * 3600.0


def freeze_heap(*, full: bool = False) -> None:
    """Collect what is young (everything, when `full`), then freeze what is left."""
    if full:
        gc.unfreeze()
    gc.collect()
    gc.freeze()


@contextlib.asynccontextmanager
async def runtime_tuning_service(ctx: AppContext) -> AsyncIterator[None]:
    """Apply the settings above for the app's lifetime (start it after the pipeline, whose
    restored state is the heap worth freezing)."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    freeze_heap()
    rounds = int(FULL_COLLECT_EVERY_S // FREEZE_EVERY_S)
    count = 0

    async def refreeze() -> None:
        nonlocal count
        count += 1
        freeze_heap(full=count % rounds == 0)

    async def freezes() -> None:
        await ctx.clock.sleep(FIRST_FREEZE_S)
        await every(ctx.clock, FREEZE_EVERY_S, refreeze, "heap freeze", first=True)

    try:
        async with running(freezes(), "heap-freeze"):
            yield
    finally:
        gc.unfreeze()
        sys.setswitchinterval(previous)
