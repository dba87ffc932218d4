"""The storage service: prune by the retention rule and watch the disk, on the app's clock.

Pruning (`Store.prune`) runs once at start and then every `prune_every_min`; the disk check
(`StorageWatch`) every `disk_tick_s`. Both log and carry on when a round fails: a failing
prune must not stop the service, and the disk watch is what tells of a store in trouble.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from app.context import AppContext
from app.main import Service
from app.storage_config import StorageConfig
from app.storage_watch import MB, RULE, DiskUsage, StorageWatch
from app.store.url import sqlite_path
from core.periodic import every

log = logging.getLogger(__name__)


def storage_service(
    storage: StorageConfig,
    *,
    disk_tick_s: float = 60.0,
    disk_usage: Callable[[Path], DiskUsage] | None = None,
) -> Service:
    """Retention and the disk alarm for the app's lifetime (see the module docstring)."""

    @contextlib.asynccontextmanager
    async def run(ctx: AppContext) -> AsyncIterator[StorageWatch | None]:
        watch = await _watch(ctx, storage, disk_usage)
        tasks = [
            _every(ctx, storage.prune_every_min * 60.0, lambda: _prune(ctx, storage), "prune"),
        ]
        if watch is not None:
            tasks.append(_every(ctx, disk_tick_s, lambda: watch.check(ctx.clock.now()), "disk"))
        try:
            yield watch
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return run


async def _watch(
    ctx: AppContext, storage: StorageConfig, disk_usage: Callable[[Path], DiskUsage] | None
) -> StorageWatch | None:
    path = sqlite_path(ctx.settings.database_url)
    if path is None:
        return None  # PostgreSQL: the server's disk is watched where the server runs

    async def beds() -> list[str]:
        return [b.bed for b in await ctx.store.list_beds()]

    watch = StorageWatch(
        path=path.parent,
        desk=ctx.alerts,
        beds=beds,
        warn_bytes=int(storage.free_warn_mb * MB),
        critical_bytes=int(storage.free_critical_mb * MB),
        **({} if disk_usage is None else {"disk_usage": disk_usage}),
    )
    for episode in await ctx.store.station_episodes():  # taken over, to end like ours
        if episode.alert.rule == RULE and episode.alert.ended_at is None:
            watch.open[episode.alert.bed] = episode.alert
    return watch


async def _prune(ctx: AppContext, storage: StorageConfig) -> None:
    result = await ctx.store.prune(ctx.clock.now(), storage.rule)
    if result.folded_rows or result.minutes_deleted:
        log.info(
            "retention: %d observations folded into %d minutes; %d old minutes deleted",
            result.folded_rows,
            result.minutes_written,
            result.minutes_deleted,
        )


def _every(
    ctx: AppContext, period_s: float, job: Callable[[], Awaitable[None]], name: str
) -> asyncio.Task[None]:
    return asyncio.create_task(
        every(ctx.clock, period_s, job, f"storage: the {name} round", first=True),
        name=f"storage-{name}",
    )
