"""A throwaway PostgreSQL database per test: a fresh login role with a schema of the same
name (127.0.0.1:5432, trust auth, database `test`). PostgreSQL's default search_path starts
with "$user", so everything that role creates lives in its schema, dropped afterwards (a
schema costs milliseconds; CREATE DATABASE costs seconds). Tests skip only when the server
cannot be reached."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from app.store.migrate import upgrade

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_ADMIN = "postgres"
PG_DATABASE = "test"


class PgUnreachable(ConnectionError):
    """PostgreSQL cannot be reached (tests skip, benches say so)."""


async def _pg_admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_ADMIN, database=PG_DATABASE, timeout=5
        )
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise PgUnreachable(f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT}: {exc}") from exc


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


@contextlib.asynccontextmanager
async def pg_schema() -> AsyncIterator[str]:
    """The URL of a throwaway schema, dropped afterwards (PgUnreachable when PostgreSQL cannot
    be reached)."""
    name = await create_pg_schema()
    try:
        yield pg_url(name)
    finally:
        await drop_pg_schema(name)


@contextlib.asynccontextmanager
async def pg_schema_or_skip(*, migrated: bool = False) -> AsyncIterator[str]:
    """`pg_schema` for a test, which skips when PostgreSQL cannot be reached; `migrated`:
    brought to the Alembic heads first."""
    async with contextlib.AsyncExitStack() as stack:
        try:
            url = await stack.enter_async_context(pg_schema())
        except PgUnreachable as exc:
            pytest.skip(str(exc))
        if migrated:
            await upgrade(url)
        yield url


@contextlib.asynccontextmanager
async def migrated_database(dialect: str, folder: Path) -> AsyncIterator[str]:
    """The URL of a database at the Alembic heads: a SQLite file in `folder`, or a throwaway
    PostgreSQL schema (the test skips when PostgreSQL cannot be reached)."""
    if dialect == "sqlite":
        url = f"sqlite+aiosqlite:///{folder / 'migrated.db'}"
        await upgrade(url)
        yield url
        return
    async with pg_schema_or_skip(migrated=True) as url:
        yield url
