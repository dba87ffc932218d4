"""Outbound fixtures: a migrated store per test (SQLite file, or a PostgreSQL schema)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from factories import T0
from pgschema import create_pg_schema, drop_pg_schema, pg_url

from app.store import Store
from app.store.migrate import upgrade
from core.clock import VirtualClock


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T0)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'outbound.db'}"
        await upgrade(url)
        yield url
        return
    try:
        name = await create_pg_schema()
    except ConnectionError as exc:
        pytest.skip(str(exc))
    try:
        await upgrade(pg_url(name))
        yield pg_url(name)
    finally:
        await drop_pg_schema(name)


@pytest.fixture
async def store(store_url: str, clock: VirtualClock) -> AsyncIterator[Store]:
    s = await Store.open(store_url, clock=clock)
    try:
        yield s
    finally:
        await s.close()
