"""Migrations: the hand-written revision matches the models, and the store refuses a
database that is not at head."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, Table, text
from sqlalchemy.engine import Connection

from app.store import Store, StoreNotMigrated, StoreUnavailable, database_url
from app.store._partitions import declared_object
from app.store.engine import make_engine
from app.store.migrate import alembic_config, current, head_revisions, upgrade
from app.store.schema import metadata
from app.store.url import DEFAULT_URL, ENV_VAR, async_url, safe_url


def _diff(conn: Connection, target: MetaData) -> list[object]:
    ctx = MigrationContext.configure(
        conn, opts={"compare_type": True, "include_object": declared_object}
    )
    return list(compare_metadata(ctx, target))


async def _diff_at(url: str, target: MetaData) -> list[object]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_diff, target)
    finally:
        await engine.dispose()


async def test_models_and_migration_agree(empty_url: str) -> None:
    assert await upgrade(empty_url) == head_revisions()
    assert await _diff_at(empty_url, metadata) == []


async def test_the_comparison_would_notice_a_difference(migrated_url: str) -> None:
    changed = MetaData()
    for table in metadata.tables.values():
        table.to_metadata(changed)
    Table("extra", changed, Column("id", Integer, primary_key=True))
    diffs = await _diff_at(migrated_url, changed)
    assert [d[0] for d in diffs if isinstance(d, tuple)] == ["add_table"]


async def test_upgrade_is_idempotent_and_downgrade_round_trips(empty_url: str) -> None:
    await upgrade(empty_url)
    await upgrade(empty_url)
    engine = make_engine(empty_url)

    def down_and_up(conn: Connection, revision: str) -> None:
        cfg = alembic_config(empty_url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)

    try:
        async with engine.connect() as conn:
            await conn.run_sync(down_and_up, "base")
    finally:
        await engine.dispose()
    assert await current(empty_url) == ()
    assert await upgrade(empty_url) == head_revisions()


async def test_unmigrated_database_is_refused(empty_url: str) -> None:
    with pytest.raises(StoreNotMigrated, match="run `iaewatch db upgrade`"):
        await Store.open(empty_url)
    store = await Store.open(empty_url, require_migrated=False)
    try:
        assert await store.ping()
        assert not await store.at_head()
    finally:
        await store.close()


async def test_an_older_revision_is_refused(migrated_url: str) -> None:
    store = await Store.open(migrated_url)
    assert await store.at_head()
    await store.close()
    engine = make_engine(migrated_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM alembic_version"))  # one row per head
            await conn.execute(text("INSERT INTO alembic_version VALUES ('f00d')"))
    finally:
        await engine.dispose()
    with pytest.raises(StoreNotMigrated, match="does not know"):
        await Store.open(migrated_url)


async def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="cannot open the database"):
        await Store.open("postgresql+asyncpg://nobody:secret@127.0.0.1:1/none")
    try:
        await Store.open("postgresql+asyncpg://nobody:secret@127.0.0.1:1/none")
    except StoreUnavailable as exc:
        assert "secret" not in str(exc)  # the password is masked
    with pytest.raises(StoreUnavailable, match="unsupported database URL scheme 'mysql'"):
        await Store.open("mysql://x@y/z")


async def test_upgrade_works_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "elsewhere" / "nested" / "x.db"
    await upgrade(f"sqlite:///{db}")  # a sync-style URL gets the async driver
    assert db.exists()
    assert await current(f"sqlite+aiosqlite:///{db}") == head_revisions()


def test_database_url_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert database_url(None) == DEFAULT_URL
    monkeypatch.setenv(ENV_VAR, "postgresql://u:p%40ss@db/iaew")
    assert database_url(None) == "postgresql+asyncpg://u:p%40ss@db/iaew"
    assert database_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert async_url("postgres://h/d") == "postgresql+asyncpg://h/d"
    assert "p%40ss" not in safe_url(database_url(None))
    assert os.environ[ENV_VAR].startswith("postgresql://")


def test_env_runs_its_own_async_engine_when_given_no_connection(tmp_path: Path) -> None:
    # the path a plain `alembic` invocation takes: env.py makes the engine and loop itself
    url = f"sqlite+aiosqlite:///{tmp_path / 'standalone.db'}"
    command.upgrade(alembic_config(url), "heads")
    assert asyncio.run(current(url)) == head_revisions()
