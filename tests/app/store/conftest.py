"""Store fixtures: each test gets its own database.

SQLite: a file in tmp_path (copied from a migrated template made once per session).
PostgreSQL (127.0.0.1:5432, trust auth, database `test`): a fresh role and a schema of the
same name per test. PostgreSQL's default search_path starts with "$user", so everything that
role creates and reads lives in its own schema, dropped afterwards (a schema per test costs
milliseconds; CREATE DATABASE costs seconds on a disk that fsyncs). PostgreSQL tests skip
only when the server cannot be reached.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import shutil
import uuid
from collections.abc import AsyncIterator, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest

from app.store import Store
from app.store.migrate import upgrade
from core.clock import VirtualClock

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_ADMIN = "postgres"
PG_DATABASE = "test"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
R = TypeVar("R")


def run_aside(coro: Coroutine[Any, Any, R]) -> R:
    """Run a coroutine on its own loop in a thread (session fixtures are first requested
    from inside a test's running loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _pg_admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_ADMIN, database=PG_DATABASE, timeout=5
        )
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise ConnectionError(f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT}: {exc}") from exc


async def create_pg_schema() -> str:
    """A new login role with its own schema; returns the role (= schema) name."""
    name = f"iaew_{uuid.uuid4().hex[:12]}"
    admin = await _pg_admin()
    try:
        await admin.execute(f"CREATE ROLE {name} LOGIN; CREATE SCHEMA {name} AUTHORIZATION {name}")
    finally:
        await admin.close()
    return name


async def drop_pg_schema(name: str) -> None:
    admin = await _pg_admin()
    try:
        await admin.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE; DROP ROLE IF EXISTS {name}")
    finally:
        await admin.close()


def pg_url(role: str) -> str:
    return f"postgresql+asyncpg://{role}@{PG_HOST}:{PG_PORT}/{PG_DATABASE}"


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
    try:
        name = await create_pg_schema()
    except ConnectionError as exc:
        pytest.skip(str(exc))
    try:
        yield pg_url(name)
    finally:
        await drop_pg_schema(name)


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
def clock() -> VirtualClock:
    return VirtualClock(T0)


@pytest.fixture
async def store(migrated_url: str, clock: VirtualClock) -> AsyncIterator[Store]:
    s = await Store.open(migrated_url, clock=clock)
    try:
        yield s
    finally:
        await s.close()
