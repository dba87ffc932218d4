"""The audit log is hash-chained and append-only (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from pgschema import PG_ADMIN, create_pg_schema, drop_pg_schema, pg_url
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from app.commands import audit as audit_command
from app.store import Store
from app.store.audit_chain import GENESIS
from app.store.engine import make_engine
from app.store.migrate import upgrade
from core.clock import VirtualClock

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


async def _fill(store: Store, n: int) -> None:
    for i in range(n):
        await store.audit(
            actor=f"user{i % 3}",
            action="test.entry",
            target=f"S-{i}",
            details={"i": i, "note": "ünïcode", "x": 1.5},
            t=T0 + timedelta(seconds=i, microseconds=7),
        )


async def _sql(url: str, *statements: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            for s in statements:
                await conn.execute(text(s))
    finally:
        await engine.dispose()


async def test_every_row_links_to_the_one_before(store: Store) -> None:
    assert await store.audit_head() == (0, GENESIS)
    await _fill(store, 5)
    report = await store.verify_audit_chain()
    assert report.ok and report.rows == 5
    count, head = await store.audit_head()
    assert count == 5 and head == report.head != GENESIS


async def test_updates_and_deletes_are_refused(store: Store, migrated_url: str) -> None:
    await _fill(store, 2)
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            await _sql(migrated_url, statement)
    assert (await store.verify_audit_chain()).ok


async def test_a_tampered_row_is_named(store: Store, migrated_url: str, dialect: str) -> None:
    await _fill(store, 6)
    # someone with the owner's rights switches the guard off and edits row 3
    off, on = _guard_off_on(dialect)
    await _sql(migrated_url, *off, "UPDATE audit_log SET actor = 'mallory' WHERE id = 3", *on)
    report = await store.verify_audit_chain()
    assert not report.ok and report.broken_id == 3 and "altered" in str(report.problem)


async def test_a_deleted_row_is_a_missing_link(
    store: Store, migrated_url: str, dialect: str
) -> None:
    await _fill(store, 6)
    off, on = _guard_off_on(dialect)
    await _sql(migrated_url, *off, "DELETE FROM audit_log WHERE id = 4", *on)
    report = await store.verify_audit_chain()
    assert not report.ok and report.broken_id == 5 and "missing" in str(report.problem)


def _guard_off_on(dialect: str) -> tuple[list[str], list[str]]:
    if dialect == "postgresql":
        return (
            ["ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change"],
            ["ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change"],
        )
    return (
        ["DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"],
        [],
    )


async def test_concurrent_writers_keep_one_chain(store: Store, migrated_url: str) -> None:
    other = await Store.open(migrated_url, clock=VirtualClock(T0))
    try:
        await asyncio.gather(_fill(store, 15), _fill(other, 15))
    finally:
        await other.close()
    report = await store.verify_audit_chain()
    assert report.ok and report.rows == 30


@pytest.mark.postgres
async def test_existing_rows_are_chained_by_the_migration() -> None:
    try:
        name = await create_pg_schema()
    except ConnectionError as exc:
        pytest.skip(str(exc))
    url = pg_url(name)
    try:
        await upgrade(url, "0003")
        await _sql(
            url,
            "INSERT INTO audit_log (t, actor, action, target, details) VALUES "
            "('2026-03-01T08:00:00Z', 'ada', 'user_add', 'nina', '{\"role\": \"nurse\"}'), "
            "('2026-03-01T08:00:01.5Z', 'nina', 'login', 'nina', '{}')",
        )
        await upgrade(url)
        store = await Store.open(url, require_migrated=True)
        try:
            report = await store.verify_audit_chain()
            assert report.ok and report.rows == 2
        finally:
            await store.close()
    finally:
        await drop_pg_schema(name)


@pytest.mark.postgres
async def test_the_service_role_of_the_docs_cannot_change_the_log() -> None:
    """docs/security.md's service role: it runs the store, and its UPDATE, DELETE and
    TRUNCATE of audit rows, or switching the triggers off, are refused by PostgreSQL."""
    try:
        owner = await create_pg_schema()
    except ConnectionError as exc:
        pytest.skip(str(exc))
    service = f"{owner}_svc"
    admin = pg_url(PG_ADMIN)
    try:
        await upgrade(pg_url(owner))
        await _sql(
            admin,
            f"CREATE ROLE {service} LOGIN",
            f"ALTER ROLE {service} SET search_path = {owner}",
        )
        await _sql(
            pg_url(owner),
            f"GRANT USAGE ON SCHEMA {owner} TO {service}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {owner} TO {service}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {owner} TO {service}",
            f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM {service}",
        )
        store = await Store.open(pg_url(service), clock=VirtualClock(T0))
        try:
            await _fill(store, 3)
            for statement in (
                "UPDATE audit_log SET actor = 'mallory'",
                "DELETE FROM audit_log",
                "TRUNCATE audit_log",
                "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change",
            ):
                with pytest.raises(DBAPIError, match=r"permission denied|must be owner"):
                    await _sql(pg_url(service), statement)
            report = await store.verify_audit_chain()
            assert report.ok and report.rows == 3
        finally:
            await store.close()
    finally:
        await drop_pg_schema(owner)
        await _sql(admin, f"DROP ROLE IF EXISTS {service}")


def test_audit_verify_command(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    cli = typer.Typer()
    audit_command.register(cli)
    runner = CliRunner()

    async def prepare() -> None:
        await upgrade(url)
        store = await Store.open(url, clock=VirtualClock(T0))
        try:
            await _fill(store, 4)
        finally:
            await store.close()

    asyncio.run(prepare())
    ok = runner.invoke(cli, ["audit", "verify", "--database-url", url])
    assert ok.exit_code == 0 and "audit chain intact: 4 rows, head " in ok.stdout
    asyncio.run(
        _sql(
            url,
            "DROP TRIGGER audit_log_no_update",
            "UPDATE audit_log SET target = 'x' WHERE id = 2",
        )
    )
    bad = runner.invoke(cli, ["audit", "verify", "--database-url", url])
    assert bad.exit_code == 1
    assert "BROKEN at row 2: its content does not match its hash" in bad.stderr
