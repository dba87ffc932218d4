"""Store fixtures: each test gets its own database.

SQLite: a file in tmp_path (copied from a migrated template made once per session).
PostgreSQL: a fresh role and schema per test (`tests/pgschema.py`); PostgreSQL tests skip
only when the server cannot be reached.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import shutil
from collections.abc import AsyncIterator, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pgschema import pg_schema_or_skip

from app.store import Store
from app.store.migrate import upgrade
from core.clock import VirtualClock

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
R = TypeVar("R")


def run_aside(coro: Coroutine[Any, Any, R]) -> R:
    """Run a coroutine on its own loop in a thread (session fixtures are first requested
    from inside a test's running loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that per-test databases are copied from."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    run_aside(upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def empty_url(dialect: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database with nothing in it."""
    if dialect == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    async with pg_schema_or_skip() as url:
        yield url


@pytest.fixture
async def migrated_url(
    dialect: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[str]:
    """A database at the Alembic head."""
    if dialect == "sqlite":
        path = tmp_path / "store.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    async with pg_schema_or_skip(migrated=True) as url:
        yield url


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T0)


@pytest.fixture
async def store(migrated_url: str, clock: VirtualClock) -> AsyncIterator[Store]:
    s = await Store.open(migrated_url, clock=clock)
    try:
        yield s
    finally:
        await s.close()
