"""The storage service on a virtual clock with a real SQLite store: the disk filling up raises
`storage_low` at every bed (medium, then escalated to high), space coming back ends it; the
retention rule runs at start and then on its period."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from realtime import drive

from app.alert_desk import AlertDesk
from app.config import load_config
from app.retention import storage_service
from app.storage_config import StorageConfig
from app.storage_watch import MB, RULE, DiskUsage
from app.store import Store
from app.store.migrate import upgrade
from core.clock import VirtualClock
from core.errors import ConfigError
from core.model import Observation, Phase, Priority

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
TOTAL = 100_000 * MB


class Disk:
    def __init__(self) -> None:
        self.free = 50_000 * MB

    def __call__(self, path: Path) -> DiskUsage:
        return DiskUsage(TOTAL, TOTAL - self.free, self.free)


@pytest.fixture
async def store(tmp_path: Path) -> Any:
    url = f"sqlite+aiosqlite:///{tmp_path / 'station.db'}"
    await upgrade(url)
    s = await Store.open(url)
    for bed in ("ICU-1", "ICU-2"):
        await s.upsert_bed(bed)
    yield s
    await s.close()


def context(store: Store, clock: VirtualClock, url: str) -> Any:
    return SimpleNamespace(
        clock=clock,
        store=store,
        alerts=AlertDesk(store),
        settings=SimpleNamespace(database_url=url),
    )


async def storage_alerts(store: Store) -> list[Any]:
    return [a for a in await store.alerts() if a.rule == RULE]


async def settled(store: Store, done: Callable[[list[Any]], bool]) -> list[Any]:
    """The storage alerts once `done` holds: the commits run on a real SQLite file after the
    virtual clock moved (a bound on a hung test, not a verdict)."""
    async with asyncio.timeout(10):
        while not done(found := await storage_alerts(store)):
            await asyncio.sleep(0.02)
    return found


async def test_a_filling_disk_raises_escalates_and_ends_at_every_bed(
    store: Store, tmp_path: Path
) -> None:
    clock = VirtualClock(T0)
    disk = Disk()
    ctx = context(store, clock, f"sqlite+aiosqlite:///{tmp_path / 'station.db'}")
    service = storage_service(StorageConfig(), disk_tick_s=60.0, disk_usage=disk)
    async with service(ctx) as watch:
        await drive(clock, 61, step=5.0)
        assert await storage_alerts(store) == []
        disk.free = 1500 * MB  # below the 2048 MB warning
        await drive(clock, 60, step=5.0)
        raised = await settled(store, lambda found: len(found) == 2)
        assert sorted(a.bed for a in raised) == ["ICU-1", "ICU-2"]
        assert {a.priority for a in raised} == {Priority.MEDIUM}
        assert "1500 MB free" in raised[0].message
        disk.free = 300 * MB  # below the 512 MB critical level
        await drive(clock, 60, step=5.0)
        high = await settled(store, lambda f: {a.priority for a in f} == {Priority.HIGH})
        assert len(high) == 2
        disk.free = 10_000 * MB
        await drive(clock, 60, step=5.0)
        ended = await settled(store, lambda f: all(a.ended_at is not None for a in f))
        assert len(ended) == 2
        assert watch is not None and watch.open == {}
        history = await store.alert_history(ended[0].id)
        assert [h.phase for h in history] == [Phase.START, Phase.ESCALATE, Phase.END]


async def test_retention_runs_at_start(store: Store, tmp_path: Path) -> None:
    old = T0 - timedelta(days=40)
    await store.add_observations(
        [
            Observation(
                t=old + timedelta(seconds=s),
                bed="ICU-1",
                code="MDC_ECG_HEART_RATE",
                value=80.0 + s,
                unit="/min",
            )
            for s in range(0, 120, 10)
        ]
    )
    clock = VirtualClock(T0)
    ctx = context(store, clock, f"sqlite+aiosqlite:///{tmp_path / 'station.db'}")
    async with storage_service(StorageConfig(), disk_usage=Disk())(ctx):
        await drive(clock, 1)
        async with asyncio.timeout(10):  # the prune's commits run on a real SQLite file
            while await store.observations("ICU-1"):
                await asyncio.sleep(0.02)
    minutes = await store.minute_aggregates("ICU-1", "MDC_ECG_HEART_RATE", old, T0)
    assert [(m.samples, m.min, m.max) for m in minutes] == [(6, 80.0, 130.0), (6, 140.0, 190.0)]


def test_storage_section_names_file_line_and_field(tmp_path: Path) -> None:
    example = (Path(__file__).parents[2] / "examples" / "iaewatch.yaml").read_text()
    path = tmp_path / "icu.yaml"
    path.write_text("storage:\n  full_resolution_days: 0.5\n" + example)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert (info.value.line, info.value.field) == (2, "storage.full_resolution_days")
    path.write_text("storage:\n  free_warn_mb: 100\n  free_critical_mb: 200\n" + example)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert (info.value.line, info.value.field) == (3, "storage.free_critical_mb")
    path.write_text("storage:\n  full_resolution_days: 7\n" + example)
    assert load_config(path).storage.rule.full == timedelta(days=7)
