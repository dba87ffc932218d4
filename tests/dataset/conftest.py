"""Dataset fixtures: a migrated store per test (SQLite, and PostgreSQL when reachable)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pgschema import create_pg_schema, drop_pg_schema, pg_url

from app.store import Store
from app.store.migrate import upgrade
from core.clock import VirtualClock

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        u = f"sqlite+aiosqlite:///{tmp_path / 'dataset.db'}"
        await upgrade(u)
        yield u
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
async def store(url: str) -> AsyncIterator[Store]:
    s = await Store.open(url, clock=VirtualClock(T0))
    try:
        yield s
    finally:
        await s.close()
