"""Outbound fixtures: a migrated store per test (SQLite file, or a PostgreSQL schema)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from factories import T0
from pgschema import migrated_database

from app.store import Store
from core.clock import VirtualClock


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T0)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with migrated_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def store(store_url: str, clock: VirtualClock) -> AsyncIterator[Store]:
    s = await Store.open(store_url, clock=clock)
    try:
        yield s
    finally:
        await s.close()
