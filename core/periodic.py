"""The one guarded periodic loop behind every background job (the watchdog, the SAE clock,
retention, device presence, the engine's tick, the hub's flushes): a round that fails is
logged and the next one runs, so a job outlives a failing store, desk or push. And
`running`, which keeps such a job going for the lifetime of a block."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from core.clock import Clock

log = logging.getLogger(__name__)


async def every(
    clock: Clock,
    period_s: float,
    work: Callable[[], Awaitable[object]],
    what: str,
    *,
    first: bool = False,
) -> None:
    """Await `work()` every `period_s` seconds on `clock` until cancelled: the first round
    after one period, or at once when `first`. A failing round is logged as "<what> failed"."""
    if not first:
        await clock.sleep(period_s)
    while True:
        try:
            await work()
        except Exception:
            log.exception("%s failed", what)
        await clock.sleep(period_s)


@contextlib.asynccontextmanager
async def running(job: Coroutine[Any, Any, object], name: str) -> AsyncIterator[None]:
    """Run `job` as a task while the block runs; cancel it (and wait for it) when it ends."""
    task = asyncio.create_task(job, name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
